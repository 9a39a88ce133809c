from pathlib import Path

import pytest

from issuer import ConfigError, Issuer

from .conftest import SEED_CONFIG
from .flows import assert_config_error


def test_the_example_config_builds_the_seed_issuer() -> None:
    issuer = Issuer.from_config(SEED_CONFIG)
    assert issuer.url == "http://127.0.0.1:8765/"
    assert set(issuer.directory.apis) == {"https://api.example.com"}
    assert issuer.directory.clients["demo-app"].grant_types == (
        "authorization_code",
        "refresh_token",
        "password",
    )
    assert issuer.directory.user("alice@example.com").app_metadata == {"roles": ["premium"]}


def test_issuer_url_overrides_the_file_and_gains_a_trailing_slash() -> None:
    issuer = Issuer.from_config(SEED_CONFIG, issuer_url="http://127.0.0.1:9999")
    assert issuer.url == "http://127.0.0.1:9999/"


def test_paths_are_relative_to_the_file(tmp_path: Path) -> None:
    (tmp_path / "actions").mkdir()
    (tmp_path / "actions" / "noop.py").write_text(
        "def on_execute_post_login(event, api):\n    pass\n"
    )
    path = tmp_path / "issuer.toml"
    path.write_text(
        'data_dir = "state"\nsigning_alg = "ES256"\n[actions]\npost_login = ["actions/noop.py"]\n'
    )
    Issuer.from_config(path)
    assert (tmp_path / "state" / "signing-keys.json").exists()


def test_errors_carry_file_key_and_problem(tmp_path: Path) -> None:
    path = tmp_path / "issuer.toml"
    path.write_text('[[apis]]\nidentifier = "https://a"\n[[apis]]\nidentifier = "https://a"\n')
    with pytest.raises(ConfigError) as error:
        Issuer.from_config(path)
    assert (error.value.file, error.value.key) == (str(path), "apis[1].identifier")
    assert str(error.value) == f"{path}: apis[1].identifier: duplicate API 'https://a'"


def test_an_action_that_fails_to_import_is_reported(tmp_path: Path) -> None:
    (tmp_path / "boom.py").write_text("raise RuntimeError('no')\n")
    path = tmp_path / "issuer.toml"
    path.write_text('[actions]\npost_login = ["boom.py"]\n')
    with pytest.raises(ConfigError, match=r"failed to import: RuntimeError: no"):
        Issuer.from_config(path)


GRANTS_CONFIG = """
[[apis]]
identifier = "https://api.example.com"
scopes = ["read:messages", "write:messages"]
enforce_rbac = true
add_permissions_in_token = false
permissions = { reader = ["read:messages"] }

[[clients]]
client_id = "bot"
client_secret = "bot-secret"
grant_types = ["client_credentials"]
grants = [{ api = "https://api.example.com", scopes = ["read:messages"] }]
"""


def test_grants_and_rbac_switches_load_from_toml(tmp_path: Path) -> None:
    path = tmp_path / "issuer.toml"
    path.write_text(GRANTS_CONFIG)
    issuer = Issuer.from_config(path)
    api = issuer.directory.apis["https://api.example.com"]
    assert (api.enforce_rbac, api.add_permissions_in_token) == (True, False)
    grant = issuer.directory.client_grant("bot", "https://api.example.com")
    assert grant is not None
    assert grant.scopes == ("read:messages",)


@pytest.mark.parametrize(
    ("replace", "by", "key", "problem"),
    [
        pytest.param(
            'api = "https://api.example.com"',
            'api = "https://nope.example.com"',
            "clients[0].grants[0].api",
            "unknown API 'https://nope.example.com' (registered: 'https://api.example.com')",
            id="unknown-api",
        ),
        pytest.param(
            'scopes = ["read:messages"] }',
            'scopes = ["read:messages", "delete:messages"] }',
            "clients[0].grants[0].scopes",
            "'delete:messages' is not a scope of 'https://api.example.com'"
            " (it has: read:messages, write:messages)",
            id="undefined-scope",
        ),
        pytest.param(
            'scopes = ["read:messages"] }',
            'scopes = "read:messages" }',
            "clients[0].grants[0].scopes",
            "must be an array, not str",
            id="scopes-not-a-list",
        ),
        pytest.param(
            'scopes = ["read:messages"] }',
            "scopes = [1] }",
            "clients[0].grants[0].scopes[0]",
            "must be a string",
            id="scope-not-a-string",
        ),
        pytest.param(
            ', scopes = ["read:messages"] }',
            " }",
            "clients[0].grants[0].scopes",
            "is required",
            id="scopes-missing",
        ),
        pytest.param(
            'grants = [{ api = "https://api.example.com", scopes = ["read:messages"] }]',
            'grants = ["https://api.example.com"]',
            "clients[0].grants[0]",
            "must be a table",
            id="grant-not-a-table",
        ),
        pytest.param(
            'grants = [{ api = "https://api.example.com", scopes = ["read:messages"] }]',
            'grants = { api = "https://api.example.com" }',
            "clients[0].grants",
            "must be an array, not dict",
            id="grants-not-a-list",
        ),
        pytest.param(
            'scopes = ["read:messages"] }]',
            'scopes = ["read:messages"] }, { api = "https://api.example.com", scopes = [] }]',
            "clients[0].grants[1].api",
            "duplicate grant for API 'https://api.example.com'",
            id="duplicate-grant",
        ),
        pytest.param(
            'grant_types = ["client_credentials"]',
            'grant_types = ["password"]',
            "clients[0].grants[0]",
            "a grant needs client_credentials in grant_types",
            id="grant-without-client-credentials",
        ),
        pytest.param(
            "enforce_rbac = true",
            'enforce_rbac = "yes"',
            "apis[0].enforce_rbac",
            "must be true or false, not str",
            id="enforce-rbac-not-a-bool",
        ),
        pytest.param(
            "add_permissions_in_token = false",
            "add_permissions_in_token = 1",
            "apis[0].add_permissions_in_token",
            "must be true or false, not int",
            id="add-permissions-not-a-bool",
        ),
        pytest.param(
            'reader = ["read:messages"]',
            'reader = ["read:mesages"]',
            "apis[0].permissions.reader",
            "'read:mesages' is not one of this API's scopes, so enforce_rbac could never issue it",
            id="rbac-permission-not-a-scope",
        ),
    ],
)
def test_grant_and_rbac_errors_name_file_key_and_problem(
    tmp_path: Path, replace: str, by: str, key: str, problem: str
) -> None:
    assert replace in GRANTS_CONFIG
    path = tmp_path / "issuer.toml"
    path.write_text(GRANTS_CONFIG.replace(replace, by))
    with pytest.raises(ConfigError) as error:
        Issuer.from_config(path)
    assert str(error.value) == f"{path}: {key}: {problem}"


def test_from_config_keeps_keys_in_memory_unless_the_file_names_a_data_dir(
    tmp_path: Path,
) -> None:
    path = tmp_path / "issuer.toml"
    path.write_text("signing_alg = 'ES256'\n")
    Issuer.from_config(path)
    assert list(tmp_path.iterdir()) == [path]


def test_data_dir_is_a_directory_or_false(tmp_path: Path) -> None:
    assert_config_error(
        tmp_path, "data_dir = true\n", "data_dir", "must be a string (a directory) or false"
    )
