"""The premium scenario over real sockets: uvicorn on 127.0.0.1 serves the keys (discovery +
JWKS) and a Starlette app with a FastAPI app mounted inside, both behind the middleware;
real HTTP and WebSocket clients talk to it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import httpx
import pytest
import websockets
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.websockets import WebSocket

from claimguard import ClaimGuardMiddleware, Claims, TokenVerifier, requires_claim
from claimguard.fastapi import require_claim
from issuer import bind_socket, serve_in_thread

from .conftest import AUDIENCE, NAMESPACE, Minter, SigningKey
from .dpop_proofs import bearer_part

pytestmark = pytest.mark.anyio


@requires_claim("premium")
async def premium(request: Request) -> Response:
    return JSONResponse({"premium": True, "sub": request.user.identity})


@requires_claim("premium")
async def premium_socket(websocket: WebSocket) -> None:
    await websocket.accept()
    async for text in websocket.iter_text():
        await websocket.send_text(text.upper())


def fastapi_app() -> FastAPI:
    api = FastAPI()

    @api.get("/premium")
    async def fastapi_premium(
        claims: Annotated[Claims, require_claim("premium")],
    ) -> dict[str, Any]:
        return {"premium": True, "sub": claims.subject}

    return api


@pytest.fixture
def server(rsa_key: SigningKey) -> Iterator[str]:
    sock = bind_socket("127.0.0.1", 0)
    host, port = sock.getsockname()[:2]
    issuer = f"http://{host}:{port}/"
    verifier = TokenVerifier(issuer=issuer, audience=AUDIENCE, namespace=NAMESPACE)

    async def discovery(request: Request) -> Response:
        return JSONResponse({"issuer": issuer, "jwks_uri": issuer + ".well-known/jwks.json"})

    async def jwks(request: Request) -> Response:
        return JSONResponse({"keys": [rsa_key.public_jwk]})

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # The verifier's HTTP client lives and dies on the server's event loop.
        async with verifier:
            yield

    inner = Starlette(
        routes=[
            Route("/.well-known/openid-configuration", discovery),
            Route("/.well-known/jwks.json", jwks),
            Route("/premium", premium),
            WebSocketRoute("/ws", premium_socket),
            Mount("/fastapi", fastapi_app()),
        ],
        lifespan=lifespan,
    )
    app = ClaimGuardMiddleware(inner, verifier=verifier, public_paths=["/.well-known"])
    try:
        with serve_in_thread(app, sock=sock):
            yield issuer
    finally:
        sock.close()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("path", ["premium", "fastapi/premium"])
async def test_premium_scenario_over_http(server: str, mint: Minter, path: str) -> None:
    url = server + path
    iss = {"iss": server}
    async with httpx.AsyncClient() as client:
        ok = await client.get(url, headers=bearer(mint(premium=True, claims=iss)))
        assert ok.status_code == 200
        assert ok.json() == {"premium": True, "sub": "auth0|alice"}

        lacking = await client.get(url, headers=bearer(mint(claims=iss)))
        assert lacking.status_code == 403
        assert 'error="insufficient_scope"' in lacking.headers["www-authenticate"]
        assert bearer_part(lacking.headers["www-authenticate"]).endswith('scope="claim:premium"')

        anonymous = await client.get(url)
        assert anonymous.status_code == 401
        assert bearer_part(anonymous.headers["www-authenticate"]) == 'Bearer realm="api"'

        expired = await client.get(
            url, headers=bearer(mint(premium=True, claims=iss, lifetime=-3600))
        )
        assert expired.status_code == 401
        assert 'error="invalid_token"' in expired.headers["www-authenticate"]


async def test_websocket_handshake_over_a_real_server(server: str, mint: Minter) -> None:
    url = "ws" + server.removeprefix("http") + "ws"
    token = mint(premium=True, claims={"iss": server})
    async with websockets.connect(url, additional_headers=bearer(token)) as ws:
        await ws.send("hello")
        assert await ws.recv() == "HELLO"

    with pytest.raises(websockets.InvalidStatus) as refused:
        async with websockets.connect(url):
            raise AssertionError("the handshake should have been refused")
    response = refused.value.response
    assert response.status_code == 403
    assert bearer_part(response.headers["WWW-Authenticate"]) == 'Bearer realm="api"'
    assert json.loads(response.body)["error"] == "unauthorized"

    lacking = mint(claims={"iss": server})
    with pytest.raises(websockets.InvalidStatus) as closed:
        async with websockets.connect(url, additional_headers=bearer(lacking)):
            raise AssertionError("the handshake should have been refused")
    # A close before accepting is how ASGI servers refuse a handshake: HTTP 403.
    assert closed.value.response.status_code == 403
