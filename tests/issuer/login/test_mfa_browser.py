"""Multi-factor logins and redirect actions in headless Chromium: the code form, enrolment
through the QR page, and a page of the test's own that sends the browser back to
``/continue``."""

import asyncio
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import jwt
import pyotp
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from issuer import Issuer, IssuerServer, serve_in_thread

from ...browser import chromium, require_chromium

if TYPE_CHECKING:
    from playwright.async_api import Page

pytestmark = [pytest.mark.anyio, pytest.mark.browser]
CALLBACK = "http://127.0.0.1:3000/callback"
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
MFA = "http://schemas.openid.net/pape/policies/2007/06/multi-factor"
CLAIM = "https://myapp.example.com/terms_accepted"


def premium_needs_mfa(event: Any, api: Any) -> None:
    if "premium" in event.user.app_metadata.get("roles", []):
        api.multifactor.enable("otp", allow_remember_browser=False)


@pytest.fixture
def served() -> Iterator[IssuerServer]:
    with Issuer.serving() as server:
        issuer = server.issuer
        issuer.add_api("https://api.example.com", scopes=["read:messages"])
        issuer.add_client("app", client_secret="app-secret", redirect_uris=[CALLBACK])
        issuer.add_user(
            "alice@example.com",
            password="alice-pw",
            app_metadata={"roles": ["premium"]},
            totp_secret=SECRET,
        )
        issuer.add_user(
            "carol@example.com", password="carol-pw", app_metadata={"roles": ["premium"]}
        )
        issuer.add_user("bob@example.com", password="bob-pw")
        yield server


def authorize_url(base: str) -> str:
    query = {
        "response_type": "code",
        "client_id": "app",
        "redirect_uri": CALLBACK,
        "scope": "openid read:messages",
        "audience": "https://api.example.com",
        "state": "s",
    }
    return f"{base}authorize?{urlencode(query)}"


async def log_in(page: "Page", base: str, email: str, password: str) -> None:
    await page.goto(authorize_url(base))
    await page.fill("#email", email)
    await page.fill("#password", password)
    await page.click("button[type=submit]")


async def land_on_callback(page: "Page") -> asyncio.Future[str]:
    """Answer the client's callback in the browser and resolve with its URL."""
    landed: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    async def answer(route: Any) -> None:
        if not landed.done():
            landed.set_result(route.request.url)
        await route.fulfill(status=200, body="done")

    await page.route("http://127.0.0.1:3000/**", answer)
    return landed


async def tokens(server: IssuerServer, callback_url: str) -> dict[str, Any]:
    code = parse_qs(urlsplit(callback_url).query)["code"][0]
    async with httpx.AsyncClient(base_url=server.url) as client:
        answer = await client.post(
            "oauth/token",
            data={"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK},
            auth=("app", "app-secret"),
        )
    assert answer.status_code == 200, answer.text
    return {
        name: jwt.decode(answer.json()[name], options={"verify_signature": False})
        for name in ("access_token", "id_token")
    }


async def test_an_action_asks_premium_users_for_a_code(served: IssuerServer) -> None:
    require_chromium()
    served.issuer.add_action(premium_needs_mfa)
    async with chromium() as browser:
        page = await browser.new_page()
        landed = await land_on_callback(page)
        await log_in(page, served.url, "alice@example.com", "alice-pw")
        assert await page.text_content("h1") == "Enter your code"
        await page.fill("#code", pyotp.TOTP(SECRET).now())
        await page.click("button[type=submit]")
        callback = await asyncio.wait_for(landed, 10)
    for claims in (await tokens(served, callback)).values():
        assert claims["amr"] == ["pwd", "otp"]
        assert claims["acr"] == MFA


async def test_a_user_without_a_secret_enrols_through_the_qr_page(served: IssuerServer) -> None:
    require_chromium()
    served.issuer.add_action(premium_needs_mfa)
    async with chromium() as browser:
        page = await browser.new_page()
        landed = await land_on_callback(page)
        await log_in(page, served.url, "carol@example.com", "carol-pw")
        assert await page.text_content("h1") == "Set up a second factor"
        assert await page.locator("#qr svg").is_visible()
        secret = (await page.text_content("#secret") or "").strip()
        await page.fill("#code", pyotp.TOTP(secret).now())
        await page.click("button[type=submit]")
        callback = await asyncio.wait_for(landed, 10)
    assert (await tokens(served, callback))["access_token"]["amr"] == ["pwd", "otp"]
    assert served.issuer.totp_secrets.get("carol@example.com") == secret


def terms_page(request: Request) -> HTMLResponse:
    # The page of a redirect action: it posts the state back to the issuer's /continue.
    state = request.query_params["state"]
    issuer_url = request.query_params["issuer"]
    return HTMLResponse(
        f'<form method="post" action="{issuer_url}continue">'
        f'<input type="hidden" name="state" value="{state}">'
        '<input type="hidden" name="accepted" value="yes">'
        '<button type="submit" id="accept">Accept the terms</button></form>'
    )


async def test_a_redirect_action_continues_after_the_test_page_posts_back(
    served: IssuerServer,
) -> None:
    require_chromium()
    terms = Starlette(routes=[Route("/terms", terms_page)])
    with serve_in_thread(terms) as terms_url:

        def send_to_terms(event: Any, api: Any) -> None:
            api.redirect.send_user_to(f"{terms_url}/terms", query={"issuer": served.url})

        def on_continue(event: Any, api: Any) -> None:
            if event.request.body.get("accepted") == "yes":
                api.access_token.add_claim({CLAIM: True})

        served.issuer.add_action(send_to_terms, on_continue=on_continue)
        async with chromium() as browser:
            page = await browser.new_page()
            landed = await land_on_callback(page)
            await log_in(page, served.url, "bob@example.com", "bob-pw")
            await page.wait_for_selector("#accept")
            assert page.url.startswith(f"{terms_url}/terms?")
            await page.click("#accept")
            callback = await asyncio.wait_for(landed, 10)
    assert (await tokens(served, callback))["access_token"][CLAIM] is True
