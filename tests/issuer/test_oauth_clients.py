"""Real OAuth clients against the issuer served by uvicorn on 127.0.0.1."""

import os
import sys
from collections.abc import Iterator

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

from .conftest import PREMIUM
from .flows import submit_login

pytestmark = pytest.mark.anyio
CHROMIUM = "/usr/bin/chromium"


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
            os.path.join(os.path.dirname(__file__), "../../examples/issuer/actions/premium.py")
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
    if not os.access(CHROMIUM, os.X_OK):
        reason = f"{CHROMIUM} is missing; scripts/browser installs it"
        print(reason, file=sys.stderr)
        pytest.skip(reason)
    from playwright.async_api import async_playwright

    url = served.url
    verifier = generate_token(48)
    oauth = AsyncOAuth2Client(
        client_id="spa", redirect_uri=callback_url, code_challenge_method="S256"
    )
    authorize_url, state = oauth.create_authorization_url(
        f"{url}authorize", code_verifier=verifier, scope="openid profile offline_access"
    )
    await oauth.aclose()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--disable-quic",
            ],
        )
        try:
            page = await browser.new_page()
            await page.goto(authorize_url)
            assert "Log in" in await page.title()
            await page.fill("#email", "alice@example.com")
            await page.fill("#password", "alice-pw")
            await page.click("button[type=submit]")
            await page.wait_for_url(f"{callback_url}?*")
            landed = page.url
            assert await page.text_content("body") == "code received: True"
        finally:
            await browser.close()
    async with AsyncOAuth2Client(
        client_id="spa", token_endpoint_auth_method="none", redirect_uri=callback_url, state=state
    ) as oauth:
        token = await oauth.fetch_token(
            f"{url}oauth/token", authorization_response=landed, code_verifier=verifier
        )
    assert unverified(token["id_token"])[PREMIUM] is True
    assert token["refresh_token"]
