"""The login, consent and message pages: their markup, their CSP, and how they render in
headless Chromium at desktop and phone widths."""

import base64
import hashlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import httpx
import pytest

from issuer import Issuer, IssuerServer

from ...browser import chromium, require_chromium
from ..flows import hidden_fields, submit_login

if TYPE_CHECKING:
    from playwright.async_api import Page

pytestmark = pytest.mark.anyio
API = "https://api.example.com"
REDIRECT = "http://127.0.0.1:53682/callback"
# Long enough to wrap at any width, with no space to wrap at.
LONG_NAME = "Desk" + "M" * 96
VIEWPORTS = {"desktop": (1280, 800), "phone": (375, 740)}
_STYLE = re.compile(r"<style>(.*?)</style>", re.DOTALL)


def authorize_url(base: str, client_id: str, *, scope: str = "openid read:messages") -> str:
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT,
        "scope": scope,
        "audience": API,
        "state": "st",
        "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        "code_challenge_method": "S256",
    }
    return f"{base}authorize?{urlencode(query)}"


def configure(issuer: Issuer) -> None:
    issuer.add_api(API, scopes=["read:messages"])
    issuer.add_client("desk", name="Desk", redirect_uris=[REDIRECT])
    issuer.add_user("alice@example.com", password="alice-pw")


@pytest.fixture
def issuer() -> Issuer:
    issuer = Issuer()
    configure(issuer)
    return issuer


@pytest.fixture
def served() -> Iterator[IssuerServer]:
    with Issuer.serving() as server:
        configure(server.issuer)
        yield server


async def register(client: httpx.AsyncClient, base: str, name: str) -> str:
    answer = await client.post(
        f"{base}oidc/register", json={"redirect_uris": [REDIRECT], "client_name": name}
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["client_id"])


async def three_pages(client: httpx.AsyncClient, base: str) -> list[httpx.Response]:
    """A login page, a consent page and a message page."""
    client_id = await register(client, base, "Desk MCP")
    login = await client.get(authorize_url(base, client_id))
    logged_in = await submit_login(
        client, authorize_url(base, client_id), "alice@example.com", "alice-pw"
    )
    consent = await client.get(logged_in.headers["location"])
    message = await client.get(f"{base}authorize?client_id=nobody")
    assert [p.status_code for p in (login, consent, message)] == [200, 200, 400]
    return [login, consent, message]


async def test_pages_allow_their_own_stylesheet_by_hash_and_nothing_inline(
    issuer: Issuer,
) -> None:
    async with issuer.http_client() as client:
        pages = await three_pages(client, issuer.url)
    for page in pages:
        policy = page.headers["content-security-policy"]
        assert "unsafe-inline" not in policy
        assert "default-src 'none'" in policy
        assert "frame-ancestors 'none'" in policy
        [style] = _STYLE.findall(page.text)
        digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
        assert f"style-src 'sha256-{digest}';" in policy
        assert " style=" not in page.text
        assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page.text


async def test_the_login_page_labels_each_field(issuer: Issuer) -> None:
    async with issuer.http_client() as client:
        page = await client.get(authorize_url(issuer.url, "desk"))
    for field in ("email", "password"):
        assert re.search(rf'<label for="{field}">[^<]+</label>', page.text)
        assert re.search(rf'<input id="{field}" name="{field}" type="{field}"', page.text)
    assert re.search(r'<input id="email"[^>]* autofocus>', page.text)


async def test_a_wrong_password_is_an_alert_and_the_cursor_goes_to_the_password(
    issuer: Issuer,
) -> None:
    async with issuer.http_client() as client:
        page = await client.get(authorize_url(issuer.url, "desk"))
        posted = await client.post(
            f"{issuer.url}login",
            data={**hidden_fields(page), "email": "alice@example.com", "password": "nope"},
        )
    assert posted.status_code == 200
    assert '<p class="alert" role="alert">Wrong email or password.</p>' in posted.text
    assert 'value="alice@example.com" required>' in posted.text
    assert re.search(r'<input id="password"[^>]* autofocus>', posted.text)


async def test_the_unverified_mark_comes_before_the_name_on_both_pages(issuer: Issuer) -> None:
    async with issuer.http_client() as client:
        login, consent, _ = await three_pages(client, issuer.url)
        configured = await client.get(authorize_url(issuer.url, "desk"))
    for page in (login, consent):
        app = re.search(r'<p class="app" id="app">(.*?)</p>', page.text)
        assert app is not None
        assert app.group(1).index("Unverified app") < app.group(1).index("Desk MCP")
        assert 'class="notice" role="note"' in page.text
    assert "Unverified" not in configured.text
    assert 'class="notice"' not in configured.text


async def layout(page: "Page") -> dict[str, Any]:
    """Where the page's parts are, as the browser laid them out."""
    result: dict[str, Any] = await page.evaluate(
        """() => {
            const box = (selector) => {
                const element = document.querySelector(selector);
                if (element === null) return null;
                const r = element.getBoundingClientRect();
                const style = getComputedStyle(element);
                return {left: r.left, right: r.right, top: r.top, bottom: r.bottom,
                        width: r.width, height: r.height,
                        visible: style.visibility === 'visible' && style.display !== 'none'};
            };
            return {
                scrollWidth: document.documentElement.scrollWidth,
                innerWidth: window.innerWidth,
                card: box('main.card'), alert: box('[role=alert]'),
                badge: box('.badge'), name: box('#app strong'),
                cardBackground: getComputedStyle(document.querySelector('main.card'))
                    .backgroundColor,
            };
        }"""
    )
    return result


def assert_fits_and_is_centred(shown: dict[str, Any]) -> None:
    assert shown["scrollWidth"] <= shown["innerWidth"]
    card = shown["card"]
    # The stylesheet applied (a blocked one leaves a transparent, full-width main).
    assert shown["cardBackground"] == "rgb(255, 255, 255)"
    assert card["left"] >= 0
    assert card["right"] <= shown["innerWidth"]
    assert abs(card["left"] - (shown["innerWidth"] - card["right"])) <= 1


def assert_visible_within(box: dict[str, Any] | None, shown: dict[str, Any]) -> None:
    assert box is not None
    assert box["visible"]
    assert box["width"] > 0
    assert box["height"] > 0
    assert box["left"] >= 0
    assert box["right"] <= shown["innerWidth"]


@pytest.mark.browser
@pytest.mark.parametrize("viewport", VIEWPORTS)
async def test_the_pages_fit_and_centre_at_desktop_and_phone_widths(
    served: IssuerServer, viewport: str, tmp_path: Path
) -> None:
    require_chromium()
    base = served.url
    async with httpx.AsyncClient() as client:
        client_id = await register(client, base, LONG_NAME)
    width, height = VIEWPORTS[viewport]
    console: list[str] = []
    async with chromium() as browser:
        page = await browser.new_page(viewport={"width": width, "height": height})
        page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))

        await page.goto(authorize_url(base, "desk"))
        shown = await layout(page)
        assert_fits_and_is_centred(shown)
        assert shown["alert"] is None
        await page.screenshot(path=tmp_path / f"login-{viewport}.png", full_page=True)

        await page.fill("#email", "alice@example.com")
        await page.fill("#password", "wrong")
        await page.click("button[type=submit]")
        await page.wait_for_selector("[role=alert]")
        shown = await layout(page)
        assert_fits_and_is_centred(shown)
        assert_visible_within(shown["alert"], shown)
        assert await page.text_content("[role=alert]") == "Wrong email or password."
        await page.screenshot(path=tmp_path / f"login-error-{viewport}.png", full_page=True)

        # A registered client with a long name: the mark stays in sight, before the name.
        await page.goto(authorize_url(base, client_id))
        shown = await layout(page)
        assert_fits_and_is_centred(shown)
        assert_visible_within(shown["badge"], shown)
        assert_visible_within(shown["name"], shown)
        assert shown["badge"]["top"] <= shown["name"]["top"]
        await page.screenshot(path=tmp_path / f"login-registered-{viewport}.png", full_page=True)

        await page.fill("#email", "alice@example.com")
        await page.fill("#password", "alice-pw")
        await page.click("button[type=submit]")
        await page.wait_for_url(f"{base}consent?*")
        shown = await layout(page)
        assert_fits_and_is_centred(shown)
        assert_visible_within(shown["badge"], shown)
        assert shown["badge"]["top"] <= shown["name"]["top"]
        await page.screenshot(path=tmp_path / f"consent-{viewport}.png", full_page=True)

        await page.goto(f"{base}authorize?client_id=nobody")
        assert_fits_and_is_centred(await layout(page))
        await page.screenshot(path=tmp_path / f"message-{viewport}.png", full_page=True)
    print(f"screenshots in {tmp_path}")
    # The 400 of the message page is the one console error expected.
    refused = [line for line in console if "Content Security Policy" in line]
    assert refused == []
    assert [line for line in console if "status of 400" not in line] == []
