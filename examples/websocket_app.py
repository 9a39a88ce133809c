"""A WebSocket endpoint for premium users only.

The middleware checks the token on the handshake (``Authorization: Bearer …``) and closes
the socket with 1008 when the token expires while it is open; ``requires_claim`` refuses
a valid token without the claim with close code 1008. Run it::

    .venv/bin/python -m issuer serve --config examples/issuer/issuer.toml    # port 8765
    .venv/bin/uvicorn --factory examples.websocket_app:create_app --port 8000
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket

from claimguard import ClaimGuardMiddleware, TokenVerifier, requires_claim

AUDIENCE = "https://api.example.com"
NAMESPACE = "https://myapp.example.com/"
DEFAULT_ISSUER = "http://127.0.0.1:8765/"


@requires_claim("premium")
async def shout(websocket: WebSocket) -> None:
    """Echo every text message in upper case, for as long as the token is valid."""
    await websocket.accept()
    async for text in websocket.iter_text():
        await websocket.send_text(text.upper())


def create_app(
    *, issuer_url: str | None = None, http_client: httpx.AsyncClient | None = None
) -> Starlette:
    """The WebSocket example, trusting tokens from ``issuer_url`` for audience ``AUDIENCE``."""
    verifier = TokenVerifier(
        issuer=issuer_url or os.environ.get("CLAIMGUARD_ISSUER", DEFAULT_ISSUER),
        audience=AUDIENCE,
        namespace=NAMESPACE,
        http_client=http_client,
    )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with verifier:
            yield

    return Starlette(
        routes=[WebSocketRoute("/ws/shout", shout)],
        middleware=[Middleware(ClaimGuardMiddleware, verifier=verifier)],
        lifespan=lifespan,
    )
