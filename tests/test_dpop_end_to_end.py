"""DPoP end to end over real sockets: the bundled issuer, served by uvicorn on 127.0.0.1,
issues DPoP-bound tokens (in process with ``Issuer.login(dpop_key=)`` and through the
authorization code flow with PKCE, ``dpop_jkt`` and a proof at the token endpoint), and a
Starlette API behind :class:`ClaimGuardMiddleware` with ``dpop="required"``, under uvicorn
too, accepts them only with proofs by their key, nonces included (RFC 9449 §5, §7, §8, §9)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from claimguard import ClaimGuardMiddleware, TokenVerifier, requires_claim
from issuer import Issuer, IssuerServer, serve_in_thread
from issuer.dpop import DPoPAuth, DPoPKey
from issuer.oauth._codes import pkce_challenge

from .issuer.flows import redirect_params, submit_login

pytestmark = pytest.mark.anyio

API = "https://api.example.com"
NAMESPACE = "https://myapp.example.com/"
SPA = "spa"
CALLBACK = "http://127.0.0.1:3000/callback"
NONCE_SECRET = "n" * 32


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def premium_action(event: Any, api: Any) -> None:
    if "premium" in event.user.app_metadata.get("roles", []):
        api.access_token.add_claim({f"{NAMESPACE}premium": True})


@requires_claim("premium")
async def premium(request: Request) -> Response:
    return JSONResponse({"sub": request.user.identity, "jkt": request.user.claims.dpop_jkt})


@pytest.fixture
def served_issuer() -> Iterator[IssuerServer]:
    """The issuer on a free port; its token endpoint demands DPoP nonces (RFC 9449 §8)."""
    with Issuer.serving(signing_alg="ES256", dpop_nonces=True) as server:
        issuer = server.issuer
        issuer.add_api(API, scopes=["read:messages"])
        issuer.add_client(
            SPA, redirect_uris=[CALLBACK], grant_types=["authorization_code", "refresh_token"]
        )
        issuer.add_user(
            "alice@example.com", password="alice-pw", app_metadata={"roles": ["premium"]}
        )
        issuer.add_action(premium_action)
        yield server


def api_app(issuer_url: str, **dpop: Any) -> ClaimGuardMiddleware:
    """The API: DPoP required, keys fetched from the issuer over HTTP."""
    verifier = TokenVerifier(
        issuer=issuer_url, audience=API, namespace=NAMESPACE, dpop="required", **dpop
    )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # The verifier's HTTP client lives and dies on the server's event loop.
        async with verifier:
            yield

    inner = Starlette(
        routes=[Route("/premium", premium, methods=["GET", "POST"])], lifespan=lifespan
    )
    return ClaimGuardMiddleware(inner, verifier=verifier)


@pytest.fixture
def api_url(served_issuer: IssuerServer) -> Iterator[str]:
    with serve_in_thread(api_app(served_issuer.url)) as url:
        yield url + "/premium"


@pytest.fixture
def nonce_api_url(served_issuer: IssuerServer) -> Iterator[str]:
    with serve_in_thread(api_app(served_issuer.url, dpop_nonce_secret=NONCE_SECRET)) as url:
        yield url + "/premium"


async def test_a_token_bound_by_login_is_accepted_with_proofs_by_its_key(
    served_issuer: IssuerServer, api_url: str
) -> None:
    key = DPoPKey()
    tokens = await served_issuer.issuer.login("alice@example.com", dpop_key=key)
    assert tokens.token_type == "DPoP"
    async with httpx.AsyncClient(auth=DPoPAuth(key, access_token=tokens.access_token)) as api:
        first = await api.get(api_url)
        second = await api.post(api_url)
    assert first.status_code == 200, first.text
    assert first.json()["jkt"] == key.jkt
    assert second.status_code == 200, second.text


async def test_the_bound_token_as_a_bearer_token_is_refused(
    served_issuer: IssuerServer, api_url: str
) -> None:
    tokens = await served_issuer.issuer.login("alice@example.com", dpop_key=DPoPKey())
    async with httpx.AsyncClient() as api:
        response = await api.get(
            api_url, headers={"Authorization": f"Bearer {tokens.access_token}"}
        )
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("DPoP ")
    assert response.json()["error"] == "invalid_token"


async def test_a_proof_by_another_key_is_refused(served_issuer: IssuerServer, api_url: str) -> None:
    tokens = await served_issuer.issuer.login("alice@example.com", dpop_key=DPoPKey())
    thief = DPoPAuth(DPoPKey(), access_token=tokens.access_token)
    async with httpx.AsyncClient(auth=thief) as api:
        response = await api.get(api_url)
    assert response.status_code == 401
    assert 'error="invalid_dpop_proof"' in response.headers["www-authenticate"]


async def _code(issuer_url: str, jkt: str) -> tuple[str, str]:
    """A code and its PKCE verifier, from the login page, bound to ``jkt`` (RFC 9449 §10)."""
    verifier = secrets.token_urlsafe(32)
    query = urlencode(
        {
            "response_type": "code",
            "client_id": SPA,
            "redirect_uri": CALLBACK,
            "scope": "openid offline_access",
            "audience": API,
            "state": "s",
            "code_challenge": pkce_challenge(verifier),
            "code_challenge_method": "S256",
            "dpop_jkt": jkt,
        }
    )
    async with httpx.AsyncClient(base_url=issuer_url) as browser:
        logged_in = await submit_login(
            browser, f"authorize?{query}", "alice@example.com", "alice-pw"
        )
    return redirect_params(logged_in)["code"], verifier


async def _exchange(issuer_url: str, code: str, verifier: str, key: DPoPKey) -> httpx.Response:
    """The token request with a proof by ``key``; DPoPAuth answers the nonce demand (§8)."""
    async with httpx.AsyncClient(base_url=issuer_url, auth=DPoPAuth(key)) as client:
        return await client.post(
            "oauth/token",
            data={
                "grant_type": "authorization_code",
                "client_id": SPA,
                "code": code,
                "redirect_uri": CALLBACK,
                "code_verifier": verifier,
            },
        )


async def test_a_token_from_the_code_flow_is_accepted_with_proofs_by_its_key(
    served_issuer: IssuerServer, api_url: str
) -> None:
    key = DPoPKey()
    response = await _exchange(served_issuer.url, *await _code(served_issuer.url, key.jkt), key)
    assert response.status_code == 200, response.text
    tokens = response.json()
    assert tokens["token_type"] == "DPoP"
    async with httpx.AsyncClient(auth=DPoPAuth(key, access_token=tokens["access_token"])) as api:
        accepted = await api.get(api_url)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["jkt"] == key.jkt
    async with httpx.AsyncClient() as api:
        as_bearer = await api.get(
            api_url, headers={"Authorization": f"Bearer {tokens['access_token']}"}
        )
    assert as_bearer.status_code == 401


async def test_a_code_bound_by_dpop_jkt_is_refused_to_another_key(
    served_issuer: IssuerServer,
) -> None:
    code, verifier = await _code(served_issuer.url, DPoPKey().jkt)
    response = await _exchange(served_issuer.url, code, verifier, DPoPKey())
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


async def test_the_api_demands_its_nonce_with_the_shape_dpop_auth_answers(
    served_issuer: IssuerServer, nonce_api_url: str
) -> None:
    key = DPoPKey()
    tokens = await served_issuer.issuer.login("alice@example.com", dpop_key=key)
    token = tokens.access_token
    async with httpx.AsyncClient() as api:
        demanded = await api.get(
            nonce_api_url,
            headers={
                "Authorization": f"DPoP {token}",
                "DPoP": key.proof("GET", nonce_api_url, access_token=token),
            },
        )
    # RFC 9449 §9: 401, a DPoP challenge with use_dpop_nonce and the nonce in DPoP-Nonce.
    assert demanded.status_code == 401
    challenge = demanded.headers["www-authenticate"]
    assert challenge.startswith("DPoP ")
    assert 'error="use_dpop_nonce"' in challenge
    assert demanded.headers["dpop-nonce"]

    auth = DPoPAuth(key, access_token=token)
    seen: list[int] = []

    async def record(response: httpx.Response) -> None:
        seen.append(response.status_code)

    async with httpx.AsyncClient(auth=auth, event_hooks={"response": [record]}) as api:
        first = await api.get(nonce_api_url)
        second = await api.get(nonce_api_url)
    assert first.status_code == 200, first.text
    assert second.status_code == 200, second.text
    # One retry for the first request; the second carries the nonce the first was given.
    assert seen == [401, 200, 200]
    assert first.headers["dpop-nonce"]
