""" "Try an action": one action against an event, claims per token, output, deny or error,
and nothing persisted."""

import re
from typing import Any

import httpx
import pytest

from issuer import Issuer

from ..conftest import FakeClock

pytestmark = pytest.mark.anyio
API = "https://api.example.com"
NS = "https://myapp.example.com/"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def premium(event: Any, api: Any) -> None:
    print(f"plan check with {event.secrets.API_KEY}")
    api.user.set_app_metadata("checked", True)
    if "premium" in event.user.app_metadata.get("roles", []):
        api.access_token.set_custom_claim(NS + "premium", True)
        api.id_token.set_custom_claim(NS + "plan", "gold")
    if event.user.email.startswith("mallory"):
        api.access.deny("mallory is not welcome")


def broken(event: Any, api: Any) -> None:
    raise RuntimeError("boom")


def try_issuer(clock: FakeClock) -> Issuer:
    issuer = Issuer(clock=clock, console=True)
    issuer.add_api(API, scopes=["read:messages"])
    issuer.add_client("app", client_secret="s", redirect_uris=["http://127.0.0.1/cb"])
    issuer.add_user("alice@example.com", password="pw", app_metadata={"roles": ["premium"]})
    issuer.add_user("bob@example.com", password="pw", app_metadata={"roles": []})
    issuer.add_user("mallory@example.com", password="pw")
    issuer.set_secret("API_KEY", "sk-hidden-value")
    issuer.add_action(premium)
    issuer.add_action(broken)
    return issuer


async def run(issuer: Issuer, **form: str) -> httpx.Response:
    async with issuer.http_client() as client:
        page = await client.get("/console/try")
        match = _CSRF.search(page.text)
        assert match is not None
        assert "sk-hidden-value" not in page.text
        choice = {"action": "premium", "client_id": "app", "audience": API, **form}
        return await client.post("/console/try", data={**choice, "csrf_token": match.group(1)})


def result(response: httpx.Response) -> str:
    found = re.search(r'<section class="entry" id="result">.*?</section>', response.text, re.S)
    assert found is not None
    return found.group(0)


async def test_trying_the_premium_action_shows_its_claims_per_token(clock: FakeClock) -> None:
    issuer = try_issuer(clock)
    alice = result(await run(issuer, email="alice@example.com"))
    bob = result(await run(issuer, email="bob@example.com"))
    assert "https://myapp.example.com/premium&quot;: true" in alice
    assert "https://myapp.example.com/plan&quot;: &quot;gold&quot;" in alice
    assert "myapp.example.com" not in bob
    assert "plan check with ••••" in alice
    assert "sk-hidden-value" not in alice


async def test_nothing_is_persisted(clock: FakeClock) -> None:
    issuer = try_issuer(clock)
    shown = result(await run(issuer, email="alice@example.com"))
    assert "&quot;checked&quot;: true" in shown
    assert "checked" not in issuer.directory.user("alice@example.com").app_metadata
    assert issuer.action_logs() == []
    assert issuer.directory.user("alice@example.com").logins_count == 0


async def test_a_deny_and_an_error_are_shown(clock: FakeClock) -> None:
    issuer = try_issuer(clock)
    denied = result(await run(issuer, email="mallory@example.com"))
    failed = result(await run(issuer, email="alice@example.com", action="broken"))
    assert "mallory is not welcome" in denied
    assert "RuntimeError: boom" in failed
    assert "test_tryaction.py:" in failed


async def test_an_edited_event_is_what_runs(clock: FakeClock) -> None:
    issuer = try_issuer(clock)
    event = '{"user": {"email": "eve@example.com", "app_metadata": {"roles": ["premium"]}}}'
    shown = result(await run(issuer, email="bob@example.com", event=event))
    assert "https://myapp.example.com/premium&quot;: true" in shown


async def test_an_event_that_is_not_a_json_object_is_a_clear_error(clock: FakeClock) -> None:
    issuer = try_issuer(clock)
    for text, message in (
        ("{nope", "not valid JSON"),
        ("[1]", "must be a JSON object"),
        ('{"user": "x"}', "event.user must be a JSON object"),
        ("[" * 5_000 + "]" * 5_000, "nested too deeply"),
    ):
        response = await run(issuer, email="bob@example.com", event=text)
        assert response.status_code == 400
        assert message in response.text
