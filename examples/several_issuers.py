"""One API that trusts two issuers, each with its own users, scopes and actions.

Two bundled issuers play a shop's own login and a partner's; the API takes tokens from
both with ``TokenVerifier(issuers=[...])`` and answers with the issuer that accepted each
(``Claims.issuer``). Users log in with the authorization code flow and PKCE (RFC 7636),
over real HTTP, as a browser would.

    python -m examples.several_issuers

prints one line per call and exits 0 when every answer is the expected one.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
import secrets
import sys
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import ExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from claimguard import (
    ClaimGuardMiddleware,
    IssuerConfig,
    TokenVerifier,
    requires_claim,
    requires_scope,
)
from issuer import Issuer, serve_in_thread

__all__ = ["Servers", "create_app", "login", "main", "running"]

API = "https://api.example.com"
NAMESPACE = "https://myapp.example.com/"
CLIENT_ID = "storefront"
# The code is read from the redirect's Location header; nothing listens here.
REDIRECT_URI = "http://127.0.0.1/callback"

# The shop's own users: alice is premium (its post-login action says so).
SHOP_USERS = {"alice@shop.example": "alice-password"}
# The partner's users, with the scopes its API grants.
PARTNER_USERS = {"bob@partner.example": "bob-password"}


async def whoami(request: Request) -> JSONResponse:
    claims = request.user.claims
    return JSONResponse(
        {"issuer": claims.issuer, "sub": claims.subject, "scopes": sorted(request.auth.scopes)}
    )


@requires_scope("write:orders")
async def write_orders(request: Request) -> JSONResponse:
    return JSONResponse({"written": True, "issuer": request.user.claims.issuer})


@requires_claim("premium")
async def premium(request: Request) -> JSONResponse:
    return JSONResponse({"premium": True, "issuer": request.user.claims.issuer})


def create_app(issuers: Sequence[IssuerConfig]) -> Starlette:
    """The API: ``/whoami`` for any valid token, ``/orders`` (POST) for ``write:orders``,
    ``/premium`` for the ``premium`` claim; tokens from any of ``issuers``."""
    verifier = TokenVerifier(issuers=issuers)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with verifier:
            yield

    return Starlette(
        routes=[
            Route("/whoami", whoami),
            Route("/orders", write_orders, methods=["POST"]),
            Route("/premium", premium),
        ],
        middleware=[Middleware(ClaimGuardMiddleware, verifier=verifier)],
        lifespan=lifespan,
    )


async def _premium_action(event: Any, api: Any) -> None:
    if "premium" in event.user.app_metadata.get("roles", []):
        api.access_token.add_claim({NAMESPACE + "premium": True})


def set_up_shop(shop: Issuer) -> None:
    """The shop's issuer: the API with ``read:orders``, alice (premium), the premium action."""
    shop.add_api(API, scopes=["read:orders"])
    shop.add_client(CLIENT_ID, redirect_uris=[REDIRECT_URI], grant_types=["authorization_code"])
    for email, password in SHOP_USERS.items():
        shop.add_user(email, password=password, app_metadata={"roles": ["premium"]})
    shop.add_action(_premium_action)


def set_up_partner(partner: Issuer) -> None:
    """The partner's issuer: the API with ``read:orders`` and ``write:orders``, bob."""
    partner.add_api(API, scopes=["read:orders", "write:orders"])
    partner.add_client(CLIENT_ID, redirect_uris=[REDIRECT_URI], grant_types=["authorization_code"])
    for email, password in PARTNER_USERS.items():
        partner.add_user(email, password=password)


def _s256(verifier: str) -> str:
    # RFC 7636 §4.2: BASE64URL(SHA256(ASCII(code_verifier))), no padding.
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


_FORM_ACTION = re.compile(r'<form method="post" action="([^"]+)"')
_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"')


async def login(issuer_url: str, email: str, password: str, *, scope: str) -> str:
    """Log ``email`` in at ``issuer_url`` as a browser would (login form, authorization
    code, PKCE) and return the access token for :data:`API`."""
    verifier, state = secrets.token_urlsafe(48), secrets.token_urlsafe(16)
    query = {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT_URI,
        "scope": scope,
        "audience": API,
        "state": state,
        "code_challenge": _s256(verifier),
        "code_challenge_method": "S256",
    }
    async with httpx.AsyncClient(timeout=10) as browser:
        page = await browser.get(f"{issuer_url}authorize?{urlencode(query)}")
        page.raise_for_status()
        action = _FORM_ACTION.search(page.text)
        if action is None:
            raise RuntimeError(f"no login form at {page.url}")
        form = {**dict(_HIDDEN.findall(page.text)), "email": email, "password": password}
        posted = await browser.post(urljoin(str(page.url), action.group(1)), data=form)
        location = posted.headers.get("location", "")
        params = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
        if posted.status_code != 303 or params.get("state") != state or "code" not in params:
            raise RuntimeError(f"login of {email} failed: {posted.status_code} {location}")
        answer = await browser.post(
            f"{issuer_url}oauth/token",
            data={
                "grant_type": "authorization_code",
                "code": params["code"],
                "redirect_uri": REDIRECT_URI,
                "client_id": CLIENT_ID,
                "code_verifier": verifier,
            },
        )
        answer.raise_for_status()
        token: str = answer.json()["access_token"]
        return token


@dataclass(frozen=True)
class Servers:
    shop: Issuer
    partner: Issuer
    api_url: str


@contextmanager
def running() -> Iterator[Servers]:
    """Both issuers and the API, each under uvicorn on a free 127.0.0.1 port."""
    with ExitStack() as stack:
        shop = stack.enter_context(Issuer.serving()).issuer
        partner = stack.enter_context(Issuer.serving()).issuer
        set_up_shop(shop)
        set_up_partner(partner)
        app = create_app(
            [
                IssuerConfig(issuer=shop.url, audience=API, namespace=NAMESPACE),
                # The partner rotates keys often: its key set is refetched every 5 minutes.
                IssuerConfig(issuer=partner.url, audience=API, jwks_max_age_seconds=300),
            ]
        )
        yield Servers(shop, partner, stack.enter_context(serve_in_thread(app)))


EXPECTED = {
    ("alice (shop)", "GET /whoami"): 200,
    ("alice (shop)", "GET /premium"): 200,
    ("alice (shop)", "POST /orders"): 403,
    ("bob (partner)", "GET /whoami"): 200,
    ("bob (partner)", "GET /premium"): 403,
    ("bob (partner)", "POST /orders"): 200,
}


async def tour(servers: Servers) -> list[tuple[str, str, int, str]]:
    """Log alice in at the shop and bob at the partner, and call every route with each."""
    alice = await login(
        servers.shop.url, "alice@shop.example", "alice-password", scope="openid read:orders"
    )
    bob = await login(
        servers.partner.url,
        "bob@partner.example",
        "bob-password",
        scope="openid read:orders write:orders",
    )
    rows = []
    async with httpx.AsyncClient(base_url=servers.api_url) as api:
        for who, token in (("alice (shop)", alice), ("bob (partner)", bob)):
            for method, path in (("GET", "/whoami"), ("GET", "/premium"), ("POST", "/orders")):
                headers = {"Authorization": f"Bearer {token}"}
                answer = await api.request(method, path, headers=headers)
                accepted_by = answer.json().get("issuer", "") if answer.status_code == 200 else ""
                rows.append((who, f"{method} {path}", answer.status_code, accepted_by))
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    with running() as servers:
        print(f"shop issuer     {servers.shop.url}")
        print(f"partner issuer  {servers.partner.url}")
        print(f"API             {servers.api_url}")
        rows = asyncio.run(tour(servers))
    for who, call, status, accepted_by in rows:
        print(f"{who:14} {call:13} {status}  {accepted_by}")
    unexpected = [row for row in rows if EXPECTED[row[0], row[1]] != row[2]]
    return 1 if unexpected else 0


if __name__ == "__main__":
    sys.exit(main())
