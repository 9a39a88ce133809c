"""Single sign-on in headless Chromium: the second /authorize in one browser needs no
password; prompt=login and max_age=0 ask for it again; logout ends it."""

from collections.abc import Iterator
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from issuer import Issuer, IssuerServer, serve_in_thread

from ...browser import chromium, require_chromium

pytestmark = [pytest.mark.anyio, pytest.mark.browser]


async def callback(request: Request) -> PlainTextResponse:
    return PlainTextResponse("signed in")


@pytest.fixture
def redirect() -> Iterator[str]:
    # A real page to land on: a routed (fulfilled) URL is not reached through a redirect.
    with serve_in_thread(Starlette(routes=[Route("/callback", callback)])) as url:
        yield f"{url}/callback"


@pytest.fixture
def served(redirect: str) -> Iterator[IssuerServer]:
    with Issuer.serving() as server:
        server.issuer.add_client("spa", redirect_uris=[redirect])
        server.issuer.add_user("alice@example.com", password="alice-pw")
        yield server


def authorize_url(base: str, redirect: str, state: str, **extra: str) -> str:
    query = {
        "response_type": "code",
        "client_id": "spa",
        "redirect_uri": redirect,
        "scope": "openid",
        "state": state,
        "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        "code_challenge_method": "S256",
        **extra,
    }
    return f"{base}authorize?{urlencode(query)}"


def landed_state(url: str) -> str:
    query = parse_qs(urlsplit(url).query)
    assert "code" in query, url
    return query["state"][0]


async def test_a_second_authorize_needs_no_password_until_asked_or_logged_out(
    served: IssuerServer, redirect: str
) -> None:
    require_chromium()
    base = served.url
    async with chromium() as browser:
        context = await browser.new_context()
        page = await context.new_page()

        async def log_in(url: str) -> None:
            await page.goto(url)
            assert "Log in" in await page.title()
            await page.fill("#email", "alice@example.com")
            await page.fill("#password", "alice-pw")
            await page.click("button[type=submit]")
            await page.wait_for_url(f"{redirect}?*")

        await log_in(authorize_url(base, redirect, "first"))
        assert landed_state(page.url) == "first"

        await page.goto(authorize_url(base, redirect, "second"))
        await page.wait_for_url(f"{redirect}?*")
        assert landed_state(page.url) == "second"

        for state, extra in (("login", {"prompt": "login"}), ("zero", {"max_age": "0"})):
            await log_in(authorize_url(base, redirect, state, **extra))
            assert landed_state(page.url) == state

        cookies = {c["name"]: c for c in await context.cookies(base)}
        assert cookies["issuer_session"]["httpOnly"] is True
        assert cookies["issuer_session"]["sameSite"] == "Lax"

        await page.goto(f"{base}v2/logout")
        assert "issuer_session" not in {c["name"] for c in await context.cookies(base)}
        await log_in(authorize_url(base, redirect, "after-logout"))
        assert landed_state(page.url) == "after-logout"
