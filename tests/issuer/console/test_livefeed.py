"""The console's live logins: entries with each action's output and claims, secrets
masked, the tokens a login produced (bounded), and the Server-Sent Events stream."""

import json
from typing import Any

import anyio
import httpx
import pytest

from issuer import Issuer, LoginDenied
from issuer.console._livefeed import MAX_TOKEN_SETS

from ..conftest import FakeClock

pytestmark = pytest.mark.anyio
API = "https://api.example.com"
NS = "https://myapp.example.com/"


def premium(event: Any, api: Any) -> None:
    print(f"checking {event.user.email} with {event.secrets.API_KEY}")
    if event.user.email.startswith("mallory"):
        api.access.deny("no entry")
    if "premium" in event.user.app_metadata.get("roles", []):
        api.access_token.set_custom_claim(NS + "premium", True)


def live_issuer(clock: FakeClock) -> Issuer:
    issuer = Issuer(clock=clock, console=True)
    issuer.add_api(API, scopes=["read:messages"])
    issuer.add_client("app", client_secret="app-secret", redirect_uris=["http://127.0.0.1/cb"])
    issuer.add_user("alice@example.com", password="pw", app_metadata={"roles": ["premium"]})
    issuer.add_user("mallory@example.com", password="pw")
    issuer.set_secret("API_KEY", "sk-hidden-value")
    issuer.add_action(premium)
    assert issuer.app is not None  # the console (and its feed) comes with the app
    return issuer


async def test_a_login_becomes_an_entry_with_output_claims_and_tokens(clock: FakeClock) -> None:
    issuer = live_issuer(clock)
    tokens = await issuer.login("alice@example.com", client_id="app", audience=API)
    async with issuer.http_client() as client:
        page = await client.get("/console/live")
        assert page.status_code == 200
        entry_id = issuer.action_logs()[0].execution_id
        shown = await client.get(f"/console/executions/{entry_id}")
    assert shown.status_code == 200
    assert "checking alice@example.com with ••••" in shown.text
    assert "sk-hidden-value" not in shown.text
    assert "https://myapp.example.com/premium" in shown.text
    assert tokens.access_token in shown.text
    assert "valid" in shown.text


async def test_a_denied_login_shows_its_reason_and_no_tokens(clock: FakeClock) -> None:
    issuer = live_issuer(clock)
    with pytest.raises(LoginDenied):
        await issuer.login("mallory@example.com", client_id="app", audience=API)
    entry_id = issuer.action_logs()[0].execution_id
    async with issuer.http_client() as client:
        shown = await client.get(f"/console/executions/{entry_id}")
    assert "no entry" in shown.text
    assert "denied" in shown.text
    assert "data-token=" not in shown.text


async def test_only_the_last_token_sets_are_kept(clock: FakeClock) -> None:
    issuer = live_issuer(clock)
    for _ in range(MAX_TOKEN_SETS + 1):
        await issuer.login("alice@example.com", client_id="app", audience=API)
    oldest = issuer.action_logs()[-1].execution_id
    newest = issuer.action_logs()[0].execution_id
    async with issuer.http_client() as client:
        gone = await client.get(f"/console/executions/{oldest}")
        kept = await client.get(f"/console/executions/{newest}")
    assert "data-token=" not in gone.text
    assert 'data-token="access_token"' in kept.text


async def test_the_stream_sends_each_login_as_it_ends() -> None:
    with Issuer.serving(console=True) as served:
        issuer = served.issuer
        issuer.add_api(API)
        issuer.add_client(
            "app",
            client_secret="s",
            redirect_uris=["http://127.0.0.1/cb"],
            grant_types=["password"],
        )
        issuer.add_user("alice@example.com", password="pw", app_metadata={"roles": ["premium"]})
        issuer.set_secret("API_KEY", "sk-hidden-value")
        issuer.add_action(premium)
        async with (
            httpx.AsyncClient(base_url=served.url) as client,
            client.stream("GET", "/console/events") as response,
        ):
            assert response.headers["content-type"].startswith("text/event-stream")
            token = await client.post(
                "/oauth/token",
                data={
                    "grant_type": "password",
                    "username": "alice@example.com",
                    "password": "pw",
                    "client_id": "app",
                    "client_secret": "s",
                    "audience": API,
                    "scope": "openid",
                },
            )
            assert token.status_code == 200
            with anyio.fail_after(10):
                async for line in response.aiter_lines():
                    if line.startswith("data: "):
                        entry = json.loads(line.removeprefix("data: "))
                        break
    assert entry["user"] == "alice@example.com"
    assert entry["actions"][0]["logs"] == ["checking alice@example.com with ••••"]
    assert entry["actions"][0]["claims_added"]["access_token"] == {NS + "premium": True}
