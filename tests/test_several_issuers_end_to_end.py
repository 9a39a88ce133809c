"""Two bundled issuers and one API that trusts both, all on real uvicorn on 127.0.0.1: users
log in at each issuer with the authorization code flow and PKCE, and each token is taken
with its own issuer's claims, refused where its issuer is not trusted, and refused when
another issuer's keys signed it."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import secrets
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import ExitStack, asynccontextmanager
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from claimguard import ClaimGuardMiddleware, IssuerConfig, TokenVerifier, requires_claim
from issuer import Issuer, IssuerServer, serve_in_thread
from tests.issuer.flows import redirect_params, submit_login

pytestmark = pytest.mark.anyio

API = "https://api.example.com"  # the ready-made issuers' API
SHOP_NAMESPACE = "https://myapp.example.com/"  # the ready-made premium action's
PARTNER_NAMESPACE = "https://partner.example.com/"
CLIENT_ID = "spa"
REDIRECT_URI = "http://127.0.0.1/callback"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def _tier_action(event: Any, api: Any) -> None:
    api.access_token.add_claim({PARTNER_NAMESPACE + "tier": event.user.app_metadata["tier"]})


@pytest.fixture
def shop(make_issuer_server: Callable[..., IssuerServer]) -> Issuer:
    """The ready-made issuer: alice is premium through its post-login action."""
    server = make_issuer_server()
    server.issuer.add_client(CLIENT_ID, redirect_uris=[REDIRECT_URI])
    return server.issuer


@pytest.fixture
def partner(make_issuer_server: Callable[..., IssuerServer]) -> Issuer:
    """A second issuer with a user of its own and an action adding its own claim."""
    server = make_issuer_server()
    partner = server.issuer
    partner.add_client(CLIENT_ID, redirect_uris=[REDIRECT_URI])
    partner.add_user(
        "carol@partner.example", password="carol-password", app_metadata={"tier": "gold"}
    )
    partner.add_action(_tier_action)
    return partner


@requires_claim("premium")
async def premium(request: Request) -> JSONResponse:
    return JSONResponse({"issuer": request.user.claims.issuer})


@requires_claim("tier", equals="gold")
async def gold(request: Request) -> JSONResponse:
    return JSONResponse({"issuer": request.user.claims.issuer})


async def whoami(request: Request) -> JSONResponse:
    claims = request.user.claims
    return JSONResponse(
        {"issuer": claims.issuer, "sub": claims.subject, "scopes": sorted(request.auth.scopes)}
    )


def api_app(*issuers: IssuerConfig) -> Starlette:
    # The verifier's HTTP client lives and dies on the server's event loop.
    verifier = TokenVerifier(issuers=issuers)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with verifier:
            yield

    return Starlette(
        routes=[Route("/whoami", whoami), Route("/premium", premium), Route("/gold", gold)],
        middleware=[Middleware(ClaimGuardMiddleware, verifier=verifier)],
        lifespan=lifespan,
    )


@pytest.fixture
def apis(shop: Issuer, partner: Issuer) -> Iterator[tuple[str, str]]:
    """The API trusting both issuers, and the same API trusting only the partner."""
    shop_config = IssuerConfig(issuer=shop.url, audience=API, namespace=SHOP_NAMESPACE)
    partner_config = IssuerConfig(issuer=partner.url, audience=API, namespace=PARTNER_NAMESPACE)
    with ExitStack() as stack:
        both = stack.enter_context(serve_in_thread(api_app(shop_config, partner_config)))
        partner_only = stack.enter_context(serve_in_thread(api_app(partner_config)))
        yield both, partner_only


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


async def pkce_login(issuer: Issuer, email: str, password: str) -> str:
    """The authorization code flow with PKCE (RFC 7636) over HTTP; the access token."""
    verifier, state = secrets.token_urlsafe(48), secrets.token_urlsafe(16)
    query = {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT_URI,
        "scope": "openid read:messages",
        "audience": API,
        "state": state,
        "code_challenge": _s256(verifier),
        "code_challenge_method": "S256",
    }
    async with httpx.AsyncClient(base_url=issuer.url) as browser:
        logged_in = await submit_login(browser, f"authorize?{urlencode(query)}", email, password)
        params = redirect_params(logged_in)
        assert params["state"] == state
        answer = await browser.post(
            "oauth/token",
            data={
                "grant_type": "authorization_code",
                "code": params["code"],
                "redirect_uri": REDIRECT_URI,
                "client_id": CLIENT_ID,
                "code_verifier": verifier,
            },
        )
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["access_token"]
    return token


async def call(api_url: str, path: str, token: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=api_url) as client:
        return await client.get(path, headers={"Authorization": f"Bearer {token}"})


async def test_each_issuers_users_are_taken_with_their_own_issuers_claims(
    shop: Issuer, partner: Issuer, apis: tuple[str, str]
) -> None:
    both, _ = apis
    alice = await pkce_login(shop, "alice@example.com", "alice-password")
    carol = await pkce_login(partner, "carol@partner.example", "carol-password")

    alice_is = (await call(both, "/whoami", alice)).json()
    carol_is = (await call(both, "/whoami", carol)).json()
    assert alice_is["issuer"] == shop.url
    assert carol_is["issuer"] == partner.url
    assert shop.url != partner.url
    # Each issuer's namespace is its own: a claim becomes a scope under its issuer only.
    assert {"read:messages", "claim:premium"} <= set(alice_is["scopes"])
    assert "claim:tier:gold" not in alice_is["scopes"]
    assert {"read:messages", "claim:tier:gold"} <= set(carol_is["scopes"])
    assert "claim:premium" not in carol_is["scopes"]

    assert (await call(both, "/premium", alice)).json() == {"issuer": shop.url}
    assert (await call(both, "/gold", carol)).json() == {"issuer": partner.url}
    assert (await call(both, "/premium", carol)).status_code == 403
    assert (await call(both, "/gold", alice)).status_code == 403


async def test_a_token_from_an_issuer_the_api_does_not_trust_is_refused(
    shop: Issuer, partner: Issuer, apis: tuple[str, str]
) -> None:
    _, partner_only = apis
    alice = await pkce_login(shop, "alice@example.com", "alice-password")
    carol = await pkce_login(partner, "carol@partner.example", "carol-password")
    refused = await call(partner_only, "/whoami", alice)
    assert refused.status_code == 401
    assert 'error="invalid_token"' in refused.headers["www-authenticate"]
    assert (await call(partner_only, "/whoami", carol)).json()["issuer"] == partner.url


async def test_a_token_signed_with_one_issuers_keys_naming_the_other_is_refused(
    shop: Issuer, partner: Issuer, apis: tuple[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    both, _ = apis
    caplog.set_level(logging.DEBUG, logger="claimguard.middleware")
    carol = await pkce_login(partner, "carol@partner.example", "carol-password")
    await call(both, "/whoami", await pkce_login(shop, "alice@example.com", "alice-password"))
    segment = carol.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    key = partner.keys.active
    forged = jwt.encode(
        {**claims, "iss": shop.url},
        key.private_key,
        algorithm=key.alg,
        headers={"kid": key.kid, "typ": "JWT"},
    )
    refused = await call(both, "/whoami", forged)
    assert refused.status_code == 401
    assert 'error="invalid_token"' in refused.headers["www-authenticate"]
    # Checked against the shop's keys, which never held the partner's key.
    lines = [r.getMessage() for r in caplog.records if r.name == "claimguard.middleware"]
    assert any(f"401 unknown_kid (issuer {shop.url!r})" in line for line in lines), lines
