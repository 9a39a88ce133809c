"""The premium scenario on plain Starlette, with the endpoint decorators.

``/public`` is open, ``/me`` needs any valid token, ``/premium`` the ``premium`` claim,
``/admin`` an ``admin`` item in the namespaced ``roles`` claim (see
``examples/actions/roles.py``) and ``/messages`` the ``read:messages`` scope. Run it::

    .venv/bin/python -m issuer serve --config examples/issuer/issuer.toml    # port 8765
    .venv/bin/uvicorn --factory examples.starlette_app:create_app --port 8000
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from starlette.applications import Starlette
from starlette.endpoints import HTTPEndpoint
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from claimguard import ClaimGuardMiddleware, TokenVerifier, requires_claim, requires_scope

AUDIENCE = "https://api.example.com"
NAMESPACE = "https://myapp.example.com/"
DEFAULT_ISSUER = "http://127.0.0.1:8765/"


async def public(request: Request) -> JSONResponse:
    return JSONResponse({"message": "Anyone may read this."})


async def me(request: Request) -> JSONResponse:
    # request.user and request.auth are set by the middleware, as Starlette's own auth does.
    user, scopes = request.user, request.auth.scopes
    return JSONResponse({"sub": user.identity, "name": user.display_name, "scopes": scopes})


@requires_claim("premium")
async def premium(request: Request) -> JSONResponse:
    return JSONResponse({"content": "Premium content.", "sub": request.user.identity})


@requires_scope("read:messages")
async def messages(request: Request) -> JSONResponse:
    return JSONResponse({"messages": ["hello"]})


class Admin(HTTPEndpoint):
    @requires_claim("roles", includes="admin")
    async def get(self, request: Request) -> JSONResponse:
        return JSONResponse({"admin": True})


def create_app(
    *, issuer_url: str | None = None, http_client: httpx.AsyncClient | None = None
) -> Starlette:
    """The example API, trusting tokens from ``issuer_url`` for audience ``AUDIENCE``."""
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
        routes=[
            Route("/public", public),
            Route("/me", me),
            Route("/premium", premium),
            Route("/messages", messages),
            Route("/admin", Admin),
        ],
        middleware=[Middleware(ClaimGuardMiddleware, verifier=verifier, public_paths=["/public"])],
        lifespan=lifespan,
    )
