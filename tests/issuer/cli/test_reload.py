"""Reloading a served issuer from its edited configuration and action files."""

import os
import re
from pathlib import Path

import jwt
import pytest

from issuer import Issuer
from issuer._config import TOP_LEVEL_KEYS, load_config
from issuer.cli._reload import LIVE_KEYS, RESTART_KEYS, ConfigReloader

from ..flows import password_grant

pytestmark = pytest.mark.anyio

CLAIM = "https://myapp.example.com/version"
CONFIG = """signing_alg = "ES256"
{extra}
[[apis]]
identifier = "https://api.example.com"

[[clients]]
client_id = "app"
grant_types = ["password", "refresh_token"]

[[users]]
email = "a@example.com"
password = "pw"
{users}
[actions]
post_login = ["version.py"]
"""
ACTION = """async def on_execute_post_login(event, api):
    api.access_token.set_custom_claim({claim!r}, {version!r})
"""


def edit(path: Path, text: str) -> None:
    """Write ``text`` with a later mtime, however coarse the file system's clock."""
    before = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(text)
    os.utime(path, ns=(before + 10**9, before + 10**9))


@pytest.fixture
def files(tmp_path: Path) -> Path:
    edit(tmp_path / "version.py", ACTION.format(claim=CLAIM, version="v1"))
    config = tmp_path / "issuer.toml"
    edit(config, CONFIG.format(extra="", users=""))
    return config


def reloader(config: Path, lines: list[str]) -> tuple[Issuer, ConfigReloader]:
    issuer = load_config(config, build=Issuer)
    return issuer, ConfigReloader(issuer, config, report=lines.append)


async def version_of(issuer: Issuer, email: str = "a@example.com") -> object:
    tokens = await issuer.login(email, client_id="app")
    return jwt.decode(tokens.access_token, options={"verify_signature": False}).get(CLAIM)


async def test_an_edited_action_is_live_and_keys_users_and_refresh_tokens_stay(
    files: Path,
) -> None:
    lines: list[str] = []
    issuer, watcher = reloader(files, lines)
    async with issuer.http_client() as client:
        first = await password_grant(
            client, "a@example.com", "pw", client_id="app", scope="openid offline_access"
        )
    kid, user_id = issuer.keys.active.kid, issuer.directory.user("a@example.com").user_id
    assert watcher.check() is False
    edit(files.parent / "version.py", ACTION.format(claim=CLAIM, version="v2"))
    assert watcher.check() is True
    assert lines == [f"{files}: reloaded"]
    assert await version_of(issuer) == "v2"
    assert issuer.keys.active.kid == kid
    assert issuer.directory.user("a@example.com").user_id == user_id
    async with issuer.http_client() as client:
        refreshed = await client.post(
            "oauth/token",
            data={"grant_type": "refresh_token", "client_id": "app",
                  "refresh_token": first.json()["refresh_token"]},
        )  # fmt: skip
    assert refreshed.status_code == 200, refreshed.text
    claims = jwt.decode(refreshed.json()["access_token"], options={"verify_signature": False})
    assert claims[CLAIM] == "v2"


@pytest.mark.parametrize(
    ("file", "text", "problem"),
    [
        ("version.py", "async def on_execute_post_login(event, api)\n", "SyntaxError"),
        ("issuer.toml", "issuer = [\n", "invalid TOML"),
        ("issuer.toml", CONFIG.format(extra="colour = 'red'", users=""), "colour: unknown key"),
    ],
)
async def test_a_broken_edit_is_reported_and_the_previous_version_keeps_serving(
    files: Path, file: str, text: str, problem: str
) -> None:
    lines: list[str] = []
    issuer, watcher = reloader(files, lines)
    edit(files.parent / file, text)
    assert watcher.check() is False
    assert len(lines) == 1
    assert lines[0].startswith(f"error: {files}: ")
    assert problem in lines[0]
    assert str(files.parent / "version.py") in lines[0] or file == "issuer.toml"
    assert lines[0].endswith("(still serving the previous version)")
    assert await version_of(issuer) == "v1"
    assert watcher.check() is False  # reported once, not at every poll
    assert len(lines) == 1


async def test_settings_baked_into_the_server_need_a_restart_and_the_rest_is_live(
    files: Path,
) -> None:
    lines: list[str] = []
    issuer, watcher = reloader(files, lines)
    kid = issuer.keys.active.kid
    bob = '[[users]]\nemail = "b@example.com"\npassword = "pw"\n'
    edit(files, CONFIG.format(extra='signing_alg = "EdDSA"', users=bob).replace(
        'signing_alg = "ES256"\n', ""))  # fmt: skip
    assert watcher.check() is True
    assert lines == [
        f"{files}: signing_alg changed: needs a restart (the rest of the change is live)"
    ]
    assert issuer.keys.active.kid == kid
    assert await version_of(issuer, "b@example.com") == "v1"


async def test_registered_clients_survive_a_reload_and_removed_users_are_gone(
    files: Path,
) -> None:
    lines: list[str] = []
    issuer, watcher = reloader(files, lines)
    async with issuer.http_client() as client:
        registered = await client.post(
            "oidc/register", json={"redirect_uris": ["http://127.0.0.1:3000/callback"]}
        )
    client_id = registered.json()["client_id"]
    edit(files, CONFIG.format(extra="", users="").replace("a@example.com", "c@example.com"))
    assert watcher.check() is True
    assert client_id in issuer.directory.clients
    assert "a@example.com" not in issuer.directory.users
    assert await version_of(issuer, "c@example.com") == "v1"


async def test_an_edited_user_keeps_sessions_unless_the_password_changed(files: Path) -> None:
    issuer, reload = reloader(files, [])
    token, _ = issuer.sessions.start(issuer.directory.user("a@example.com"))
    renamed = CONFIG.format(extra="", users='name = "Renamed"')
    edit(files, renamed)
    assert reload.check()
    assert issuer.directory.user("a@example.com").name == "Renamed"
    assert issuer.sessions.resume(token) is not None
    edit(files, renamed.replace('password = "pw"', 'password = "new-pw"'))
    assert reload.check()
    assert issuer.sessions.resume(token) is None


async def test_dpop_redirect_and_console_edits_are_reported_as_needing_a_restart(
    files: Path,
) -> None:
    lines: list[str] = []
    _, watcher = reloader(files, lines)
    tables = "[redirects]\ncontinue_seconds = 60\n[dpop]\nnonces = true\n"
    edit(files, CONFIG.format(extra="console = true", users="") + tables)
    assert watcher.check() is True
    assert lines == [
        f"{files}: console, redirects, dpop changed: needs a restart"
        " (the rest of the change is live)"
    ]


def test_every_top_level_key_is_either_live_or_needs_a_restart() -> None:
    assert sorted(LIVE_KEYS + RESTART_KEYS) == sorted(TOP_LEVEL_KEYS)


def test_the_readme_lists_exactly_the_settings_that_need_a_restart() -> None:
    readme = (Path(__file__).parents[3] / "README.md").read_text(encoding="utf-8")
    paragraph = " ".join(readme.split("Everything else is fixed while serving:")[1].split())
    listed = re.findall(r"`\[?([a-z_]+)\]?`", paragraph.split(". ")[0])
    assert sorted(listed) == sorted(RESTART_KEYS)
