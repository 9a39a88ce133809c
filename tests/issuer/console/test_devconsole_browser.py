"""The developer console in headless Chromium: the live stream, "Try", the token inspector,
"get tokens as" a user against the example API, and the layout at desktop and phone widths."""

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from examples.fastapi_app import create_app

from issuer import Issuer, IssuerServer, serve_in_thread

from ...browser import chromium, require_chromium
from ..conftest import SEED_CONFIG

if TYPE_CHECKING:
    from playwright.async_api import Page

pytestmark = [pytest.mark.anyio, pytest.mark.browser]
REDIRECT = "http://127.0.0.1:3000/callback"
VIEWPORTS = {"desktop": (1280, 800), "phone": (375, 740)}
DOCS = Path(__file__).parents[3] / "docs"
# Set to refresh the README's screenshot, docs/console.png, from this run.
UPDATE_DOCS = "UPDATE_DOCS_SCREENSHOT"


@pytest.fixture
def served() -> Iterator[IssuerServer]:
    with Issuer.serving(config=SEED_CONFIG, console=True) as server:
        yield server


def authorize_url(base: str) -> str:
    query = {
        "response_type": "code",
        "client_id": "demo-app",
        "redirect_uri": REDIRECT,
        "scope": "openid read:messages",
        "audience": "https://api.example.com",
        "state": "s",
        "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        "code_challenge_method": "S256",
    }
    return f"{base}authorize?{urlencode(query)}"


async def overflow(page: "Page") -> dict[str, Any]:
    result: dict[str, Any] = await page.evaluate(
        "() => ({scrollWidth: document.documentElement.scrollWidth,"
        " innerWidth: window.innerWidth,"
        " background: getComputedStyle(document.querySelector('main.card')).backgroundColor})"
    )
    return result


async def test_a_login_in_one_tab_appears_in_the_stream_of_another(
    served: IssuerServer,
) -> None:
    require_chromium()
    async with chromium() as browser:
        context = await browser.new_context()
        await context.route(f"{REDIRECT}*", lambda route: route.fulfill(body="signed in"))
        console = await context.new_page()
        await console.goto(f"{served.url}console/live")
        await console.wait_for_selector("#stream-state:has-text('Connected')")
        login = await context.new_page()
        await login.goto(authorize_url(served.url))
        await login.fill("#email", "bob@example.com")
        await login.fill("#password", "bob-password")
        started = time.monotonic()
        await login.click("button[type=submit]")
        entry = await console.wait_for_selector("#stream li", timeout=1000)
        assert time.monotonic() - started < 1.0
        assert entry is not None
        text = await entry.text_content() or ""
        assert "bob@example.com" in text
        assert "bob@example.com is not premium (roles: [])" in text
        assert "authorization_code" in text


async def test_try_shows_the_premium_claim_for_alice_and_not_for_bob(
    served: IssuerServer,
) -> None:
    require_chromium()
    async with chromium() as browser:
        page = await browser.new_page()
        claims = {}
        for user in ("alice@example.com", "bob@example.com"):
            await page.goto(f"{served.url}console/try")
            await page.select_option("select[name=action]", "premium")
            await page.select_option("select[name=email]", user)
            await page.click("text=Load event")
            await page.click("#try button[type=submit]")
            claims[user] = await page.text_content("#result") or ""
    assert "https://myapp.example.com/premium" in claims["alice@example.com"]
    assert "https://myapp.example.com/premium" not in claims["bob@example.com"]
    assert "bob@example.com is not premium" in claims["bob@example.com"]


async def test_a_token_from_another_issuer_shows_its_claims_and_an_unknown_key(
    served: IssuerServer,
) -> None:
    require_chromium()
    other = jwt.encode(
        {"iss": "https://elsewhere.example/", "sub": "someone", "exp": 4_000_000_000},
        ec.generate_private_key(ec.SECP256R1()),
        algorithm="ES256",
        headers={"kid": "elsewhere-key"},
    )
    async with chromium() as browser:
        page = await browser.new_page()
        await page.goto(f"{served.url}console/tokens")
        await page.fill("#token", other)
        await page.click("form button[type=submit]")
        shown = await page.text_content("[data-token=token]") or ""
    assert "unknown key" in shown
    assert "elsewhere-key" in shown
    assert '"iss": "https://elsewhere.example/"' in shown
    assert "expires in" in shown


async def test_tokens_got_as_bob_are_accepted_by_the_example_api(served: IssuerServer) -> None:
    require_chromium()
    async with chromium() as browser:
        page = await browser.new_page()
        await page.goto(f"{served.url}console/directory")
        bob = page.locator("section[data-user='bob@example.com']")
        await bob.locator("select[name=audience]").select_option("https://api.example.com")
        await bob.locator("button[type=submit]").click()
        access = await page.text_content("dd pre:below(dt:text('access_token'))")
    assert access is not None
    with serve_in_thread(create_app(issuer_url=served.url)) as api:
        async with httpx.AsyncClient(base_url=api) as client:
            me = await client.get("/me", headers={"Authorization": f"Bearer {access.strip()}"})
            premium = await client.get(
                "/premium", headers={"Authorization": f"Bearer {access.strip()}"}
            )
    assert me.status_code == 200, me.text
    assert me.json()["sub"].startswith("auth0|")
    assert premium.status_code == 403


@pytest.mark.parametrize("viewport", VIEWPORTS)
async def test_the_console_fits_at_desktop_and_phone_widths(
    served: IssuerServer, viewport: str, tmp_path: Path
) -> None:
    require_chromium()
    await served.issuer.login("alice@example.com", audience="https://api.example.com")
    width, height = VIEWPORTS[viewport]
    async with chromium() as browser:
        page = await browser.new_page(viewport={"width": width, "height": height})
        for name in ("live", "try", "tokens", "directory"):
            await page.goto(f"{served.url}console/{name}")
            if name == "live":
                await page.wait_for_selector("#stream li")
            shown = await overflow(page)
            assert shown["scrollWidth"] <= shown["innerWidth"], name
            assert shown["background"] == "rgb(255, 255, 255)"
            await page.screenshot(path=tmp_path / f"console-{name}-{viewport}.png", full_page=True)
            if name == "live" and viewport == "desktop" and os.environ.get(UPDATE_DOCS):
                await page.screenshot(path=DOCS / "console.png")
