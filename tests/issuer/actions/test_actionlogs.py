"""``GET /actions/logs``: only under the issuer's own host names (no DNS rebinding), behind a
bearer token when one is configured, or turned off."""

from pathlib import Path
from typing import Any

import httpx
import pytest

from issuer import Issuer

from ..flows import assert_config_error

pytestmark = pytest.mark.anyio


def noisy(event: Any, api: Any) -> None:
    print(f"using {event.secrets.API_KEY}")


async def get_logs(issuer: Issuer, *, host: str | None = None, token: str | None = None) -> Any:
    headers = {} if host is None else {"Host": host}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    async with issuer.http_client() as client:
        await client.post(
            "oauth/token",
            data={"grant_type": "password", "username": "alice@example.com", "password": "pw"},
            auth=("app", "s"),
        )
        return await client.get("actions/logs", headers=headers)


def logged_issuer(url: str = "http://127.0.0.1:8765/", **options: Any) -> Issuer:
    issuer = Issuer(issuer_url=url, signing_alg="ES256", **options)
    issuer.add_client("app", client_secret="s", grant_types=["password"])
    issuer.add_user("alice@example.com", password="pw")
    issuer.set_secret("API_KEY", "k-123")
    issuer.add_action(noisy)
    return issuer


@pytest.mark.parametrize(
    "host",
    ["evil.example", "evil.example:8765", "127.0.0.1.evil.example:8765", "127.0.0.1@evil.example"],
)
async def test_a_foreign_host_name_is_misdirected(
    host: str, caplog: pytest.LogCaptureFixture
) -> None:
    # DNS rebinding: a page on evil.example that resolves to 127.0.0.1 reaches this port,
    # but its requests still say "Host: evil.example".
    response = await get_logs(logged_issuer(), host=host)
    assert response.status_code == 421
    assert response.json()["error"] == "misdirected_request"
    assert "k-123" not in response.text
    assert response.headers["cache-control"] == "no-store"
    assert any(r.name == "issuer.actionlogs" for r in caplog.records)


@pytest.mark.parametrize(
    "host", [None, "127.0.0.1:8765", "127.0.0.1", "LOCALHOST:8765", "localhost", "[::1]:8765"]
)
async def test_a_loopback_issuer_answers_its_own_and_loopback_names(host: str | None) -> None:
    response = await get_logs(logged_issuer(), host=host)
    assert response.status_code == 200
    assert response.json()["executions"][0]["logs"] == ["using k-123"]


@pytest.mark.parametrize(
    ("host", "status"),
    [
        ("issuer.example.com", 200),
        ("Issuer.Example.Com:443", 200),
        ("localhost", 421),
        ("127.0.0.1", 421),
        ("example.com", 421),
    ],
)
async def test_a_named_issuer_answers_only_its_own_name(host: str, status: int) -> None:
    response = await get_logs(logged_issuer("https://issuer.example.com/"), host=host)
    assert response.status_code == status


async def test_a_configured_token_is_required() -> None:
    issuer = logged_issuer(action_logs_token="logs-token-1")
    missing = await get_logs(issuer)
    wrong = await get_logs(issuer, token="logs-token-2")
    right = await get_logs(issuer, token="logs-token-1")
    foreign = await get_logs(issuer, token="logs-token-1", host="evil.example")
    assert missing.status_code == wrong.status_code == 401
    assert missing.headers["www-authenticate"] == 'Bearer realm="issuer"'
    assert wrong.headers["www-authenticate"] == 'Bearer realm="issuer", error="invalid_token"'
    assert "k-123" not in missing.text + wrong.text + foreign.text
    assert right.status_code == 200
    assert right.json()["executions"][0]["logs"] == ["using k-123"]
    assert foreign.status_code == 421


async def test_the_endpoint_can_be_turned_off() -> None:
    issuer = logged_issuer(action_logs_enabled=False)
    response = await get_logs(issuer)
    assert response.status_code == 404
    assert "k-123" not in response.text
    assert issuer.action_logs()[0].logs == ["using k-123"]


async def test_the_toml_table_configures_the_endpoint(tmp_path: Path) -> None:
    path = tmp_path / "issuer.toml"
    path.write_text('[action_logs]\nenabled = true\ntoken = "from-toml"\n')
    issuer = Issuer.from_config(path)
    async with issuer.http_client() as client:
        without = await client.get("actions/logs")
        with_token = await client.get("actions/logs", headers={"Authorization": "bearer from-toml"})
    assert without.status_code == 401
    assert with_token.status_code == 200
    path.write_text("[action_logs]\nenabled = false\n")
    async with Issuer.from_config(path).http_client() as client:
        assert (await client.get("actions/logs")).status_code == 404


@pytest.mark.parametrize(
    ("table", "key", "problem"),
    [
        ('token = ""', "action_logs.token", "must not be empty"),
        ("token = 1", "action_logs.token", "must be a string"),
        ('enabled = "yes"', "action_logs.enabled", "must be true or false"),
        ("open = true", "action_logs.open", "unknown key"),
    ],
)
def test_action_logs_config_errors_name_the_key(
    tmp_path: Path, table: str, key: str, problem: str
) -> None:
    assert_config_error(tmp_path, f"[action_logs]\n{table}\n", key, problem)


async def test_the_issuer_server_fixture_reads_its_logs_over_a_real_socket(
    issuer_server: Any,
) -> None:
    await issuer_server.issuer.login("alice@example.com")
    async with httpx.AsyncClient(base_url=issuer_server.url) as client:
        response = await client.get("actions/logs")
    assert response.status_code == 200
    assert response.json()["executions"][0]["action"] == "premium_action"
