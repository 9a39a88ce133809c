"""``api.redirect`` and ``api.multifactor``: signed tokens to and from the page, and where a
redirect is not possible."""

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest

from issuer import ActionFailed, Issuer

from ..conftest import FakeClock
from ..flows import password_grant, redirect_params
from ..mfaflows import claims, http, log_in, tokens_from

pytestmark = pytest.mark.anyio
PAGE = "https://verify.example.com/check"
KEY = "k" * 32
CLAIM = "https://myapp.example.com/checked"


def send_with_token(event: Any, api: Any) -> None:
    token = api.redirect.encode_token(
        secret=event.secrets.PAGE_KEY, payload={"plan": "gold"}, expires_in_seconds=120
    )
    api.redirect.send_user_to(PAGE, query={"session_token": token})


def check_token(event: Any, api: Any) -> None:
    payload = api.redirect.validate_token(secret=event.secrets.PAGE_KEY)
    api.access_token.add_claim({CLAIM: payload["plan"]})


@pytest.fixture
def issuer(bare_issuer: Issuer) -> Issuer:
    bare_issuer.set_secret("PAGE_KEY", KEY)
    bare_issuer.add_action(send_with_token, on_continue=check_token)
    return bare_issuer


def page_query(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 303, response.text
    return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["location"]).query).items()}


async def test_the_page_gets_a_signed_token_bound_to_issuer_user_and_state(
    issuer: Issuer, clock: FakeClock
) -> None:
    async with http(issuer) as client:
        query = page_query(await log_in(client, "bob@example.com", "bob-pw"))
        token = jwt.decode(
            query["session_token"],
            KEY,
            algorithms=["HS256"],
            issuer=issuer.url,
            options={"verify_exp": False, "verify_iat": False},
        )
        assert token["plan"] == "gold"
        assert token["sub"] == issuer.directory.user("bob@example.com").user_id
        assert token["state"] == query["state"]
        assert token["exp"] == int(clock()) + 120
        back = await client.get(
            "/continue", params={"state": query["state"], "session_token": query["session_token"]}
        )
        tokens = await tokens_from(client, back)
    assert claims(tokens["access_token"])[CLAIM] == "gold"


async def test_a_tampered_token_fails_the_continued_action(issuer: Issuer) -> None:
    async with http(issuer) as client:
        query = page_query(await log_in(client, "bob@example.com", "bob-pw"))
        body = jwt.decode(query["session_token"], options={"verify_signature": False})
        forged = jwt.encode({**body, "plan": "platinum"}, "x" * 32, algorithm="HS256")
        back = await client.get(
            "/continue", params={"state": query["state"], "session_token": forged}
        )
    assert redirect_params(back)["error"] == "access_denied"
    assert "the token is invalid" in (issuer.action_logs()[0].error or "")


async def test_a_token_made_for_another_login_is_refused(issuer: Issuer) -> None:
    async with http(issuer) as client:
        first = page_query(await log_in(client, "bob@example.com", "bob-pw"))
        second = page_query(await log_in(client, "bob@example.com", "bob-pw"))
        back = await client.get(
            "/continue", params={"state": second["state"], "session_token": first["session_token"]}
        )
    assert redirect_params(back)["error"] == "access_denied"
    assert "another login" in (issuer.action_logs()[0].error or "")


async def test_an_expired_token_is_refused(issuer: Issuer, clock: FakeClock) -> None:
    async with http(issuer) as client:
        query = page_query(await log_in(client, "bob@example.com", "bob-pw"))
        clock.advance(121)
        back = await client.get("/continue", params=query)
    assert redirect_params(back)["error"] == "access_denied"
    assert "expired" in (issuer.action_logs()[0].error or "")


async def test_a_short_secret_is_refused(bare_issuer: Issuer) -> None:
    bare_issuer.set_secret("PAGE_KEY", "short")
    bare_issuer.add_action(send_with_token, on_continue=check_token)
    async with http(bare_issuer) as client:
        response = await log_in(client, "bob@example.com", "bob-pw")
    assert redirect_params(response)["error"] == "access_denied"
    assert "at least 32 bytes" in (bare_issuer.action_logs()[0].error or "")


async def test_a_redirect_in_the_password_grant_fails_the_action_clearly(
    bare_issuer: Issuer,
) -> None:
    bare_issuer.add_action(
        lambda event, api: api.redirect.send_user_to(PAGE), on_continue=check_token
    )
    async with http(bare_issuer) as client:
        response = await password_grant(
            client, "bob@example.com", "bob-pw", auth=("app", "app-secret")
        )
    assert response.status_code == 403
    assert response.json()["error"] == "access_denied"
    error = bare_issuer.action_logs()[0].error or ""
    assert error.endswith(
        "api.redirect.send_user_to needs a browser login (/authorize); this login came"
        " through the password grant (POST /oauth/token), which has no browser to send anywhere:"
        " use the authorization code flow"
    )


async def test_a_redirect_in_issuer_login_names_issuer_login(bare_issuer: Issuer) -> None:
    bare_issuer.add_action(
        lambda event, api: api.redirect.send_user_to(PAGE), on_continue=check_token
    )
    with pytest.raises(ActionFailed) as failed:
        await bare_issuer.login("bob@example.com", client_id="app")
    assert "api.redirect.send_user_to needs a browser login" in str(failed.value)
    assert "this login came through Issuer.login(), which has no browser" in str(failed.value)


@pytest.mark.parametrize("url", ["javascript:alert(1)", "/relative", "https://x.example/#frag"])
async def test_only_absolute_http_urls_are_redirect_targets(bare_issuer: Issuer, url: str) -> None:
    bare_issuer.add_action(
        lambda event, api: api.redirect.send_user_to(url), on_continue=check_token
    )
    async with http(bare_issuer) as client:
        response = await log_in(client, "bob@example.com", "bob-pw")
    assert redirect_params(response)["error"] == "access_denied"
