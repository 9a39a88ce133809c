from pathlib import Path

import pytest

from issuer import ConfigError, Issuer

from .conftest import SEED_CONFIG


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
