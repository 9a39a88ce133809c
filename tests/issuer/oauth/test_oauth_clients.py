"""Real OAuth clients against the issuer served by uvicorn on 127.0.0.1."""

import os
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import AsyncOAuth2Client
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from issuer import Issuer, IssuerServer, serve_in_thread

from ...browser import chromium, require_chromium
from ..conftest import PREMIUM
from ..flows import submit_login

pytestmark = pytest.mark.anyio
VERIFIER = generate_token(48)


async def callback(request: Request) -> PlainTextResponse:
    return PlainTextResponse(f"code received: {'code' in request.query_params}")


@pytest.fixture
def callback_url() -> Iterator[str]:
    with serve_in_thread(Starlette(routes=[Route("/callback", callback)])) as url:
        yield f"{url}/callback"


@pytest.fixture
def served(callback_url: str) -> Iterator[IssuerServer]:
    with Issuer.serving() as server:
        issuer = server.issuer
        issuer.add_api("https://api.example.com", scopes=["read:messages"])
        issuer.add_client("spa", redirect_uris=[callback_url])
        issuer.add_user(
            "alice@example.com", password="alice-pw", app_metadata={"roles": ["premium"]}
        )
        issuer.add_action(
            os.path.join(os.path.dirname(__file__), "../../../examples/issuer/actions/premium.py")
        )
        yield server


def unverified(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


async def test_authlib_completes_authorization_code_with_pkce_then_refresh(
    served: IssuerServer, callback_url: str
) -> None:
    url = served.url
    verifier = generate_token(48)
    async with AsyncOAuth2Client(
        client_id="spa",
        token_endpoint_auth_method="none",
        redirect_uri=callback_url,
        scope="openid profile email offline_access read:messages",
        code_challenge_method="S256",
    ) as oauth:
        authorize_url, state = oauth.create_authorization_url(
            f"{url}authorize", code_verifier=verifier, audience="https://api.example.com"
        )
        async with httpx.AsyncClient() as browser:
            posted = await submit_login(browser, authorize_url, "alice@example.com", "alice-pw")
        assert posted.status_code == 303
        location = posted.headers["location"]
        assert location.startswith(callback_url + "?")
        assert f"state={state}" in location
        token = await oauth.fetch_token(
            f"{url}oauth/token", authorization_response=location, code_verifier=verifier
        )
        assert unverified(token["access_token"])[PREMIUM] is True
        assert unverified(token["access_token"])["scope"].split()[-1] == "read:messages"
        refreshed = await oauth.refresh_token(
            f"{url}oauth/token", refresh_token=token["refresh_token"]
        )
    assert refreshed["refresh_token"] != token["refresh_token"]
    assert unverified(refreshed["access_token"])[PREMIUM] is True
    assert unverified(refreshed["id_token"])["sub"] == unverified(token["id_token"])["sub"]


async def test_login_page_works_in_headless_chromium(
    served: IssuerServer, callback_url: str
) -> None:
    require_chromium()
    url = served.url
    verifier = generate_token(48)
    oauth = AsyncOAuth2Client(
        client_id="spa", redirect_uri=callback_url, code_challenge_method="S256"
    )
    authorize_url, state = oauth.create_authorization_url(
        f"{url}authorize", code_verifier=verifier, scope="openid profile offline_access"
    )
    await oauth.aclose()
    async with chromium() as browser:
        page = await browser.new_page()
        await page.goto(authorize_url)
        assert "Log in" in await page.title()
        await page.fill("#email", "alice@example.com")
        await page.fill("#password", "alice-pw")
        await page.click("button[type=submit]")
        await page.wait_for_url(f"{callback_url}?*")
        landed = page.url
        assert await page.text_content("body") == "code received: True"
    async with AsyncOAuth2Client(
        client_id="spa", token_endpoint_auth_method="none", redirect_uri=callback_url, state=state
    ) as oauth:
        token = await oauth.fetch_token(
            f"{url}oauth/token", authorization_response=landed, code_verifier=verifier
        )
    assert unverified(token["id_token"])[PREMIUM] is True
    assert token["refresh_token"]


async def consent_in_chromium(
    served: IssuerServer, callback_url: str, button: str
) -> tuple[str, dict[str, Any], str]:
    """Register a client, log in as alice in Chromium and press ``button`` on the consent
    page; return the client id, what the consent page showed, and the URL landed on."""
    require_chromium()
    url = served.url
    async with httpx.AsyncClient() as http:
        registered = await http.post(
            f"{url}oidc/register",
            json={"redirect_uris": [callback_url], "client_name": "Desk MCP"},
        )
    client_id = registered.json()["client_id"]
    oauth = AsyncOAuth2Client(
        client_id=client_id, redirect_uri=callback_url, code_challenge_method="S256"
    )
    authorize_url, _ = oauth.create_authorization_url(
        f"{url}authorize",
        code_verifier=VERIFIER,
        scope="openid read:messages",
        audience="https://api.example.com",
        state="st-consent",
    )
    await oauth.aclose()
    async with chromium() as browser:
        page = await browser.new_page()
        await page.goto(authorize_url)
        login_text = await page.text_content("body") or ""
        await page.fill("#email", "alice@example.com")
        await page.fill("#password", "alice-pw")
        await page.click("button[type=submit]")
        await page.wait_for_url(f"{url}consent?*")
        shown = {
            "title": await page.title(),
            "login": login_text,
            "body": await page.text_content("body") or "",
            "scopes": await page.locator("#scopes li code").all_text_contents(),
        }
        await page.click(f"button[value={button}]")
        await page.wait_for_url(f"{callback_url}?*")
        shown["callback"] = await page.text_content("body")
        landed = page.url
    return client_id, shown, landed


async def test_consent_page_allow_works_in_headless_chromium(
    served: IssuerServer, callback_url: str
) -> None:
    client_id, shown, landed = await consent_in_chromium(served, callback_url, "allow")
    for text in (shown["login"], shown["body"]):
        assert "Desk MCP" in text
        assert "unverified" in text
        assert "https://api.example.com" in text
    assert "unverified" in shown["title"]
    assert shown["scopes"] == ["openid", "read:messages"]
    assert shown["callback"] == "code received: True"
    async with AsyncOAuth2Client(
        client_id=client_id,
        token_endpoint_auth_method="none",
        redirect_uri=callback_url,
        state="st-consent",
    ) as oauth:
        token = await oauth.fetch_token(
            f"{served.url}oauth/token", authorization_response=landed, code_verifier=VERIFIER
        )
    claims = unverified(token["access_token"])
    assert claims["aud"] == ["https://api.example.com", f"{served.url}userinfo"]
    assert claims["azp"] == client_id
    assert claims["scope"].split() == ["openid", "read:messages"]


async def test_consent_page_deny_works_in_headless_chromium(
    served: IssuerServer, callback_url: str
) -> None:
    _, shown, landed = await consent_in_chromium(served, callback_url, "deny")
    params = {k: v[0] for k, v in parse_qs(urlsplit(landed).query).items()}
    assert shown["callback"] == "code received: False"
    assert params["error"] == "access_denied"
    assert params["state"] == "st-consent"
    assert params["iss"] == served.url
