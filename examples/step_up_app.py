"""Step-up authentication (RFC 9470) on Starlette: payouts need a recent multi-factor login.

``/balance`` needs any valid token. ``POST /payouts`` also needs a token whose ``acr`` is
the multi-factor policy and whose ``auth_time`` is less than five minutes old; any other
token gets ``401`` with::

    WWW-Authenticate: Bearer realm="api", error="insufficient_user_authentication",
        error_description="…", acr_values="http://schemas.openid.net/pape/policies/2007/06/multi-factor",
        max_age="300"

and the client sends the user back to ``/authorize`` with those ``acr_values`` and
``max_age``. The RFC 9728 metadata at ``/.well-known/oauth-protected-resource`` lists the
``acr_values_supported``.

The resource is ``https://api.example.com`` (the tokens' audience); DPoP proofs must name
its origin in ``htu`` unless ``CLAIMGUARD_PUBLIC_ORIGIN`` names the origin clients call,
such as ``http://127.0.0.1:8000`` for a local run (``CLAIMGUARD_ISSUER`` names the issuer,
default ``http://127.0.0.1:8765/``). Run it::

    .venv/bin/python -m issuer serve --config examples/issuer/issuer.toml    # port 8765
    export CLAIMGUARD_PUBLIC_ORIGIN=http://127.0.0.1:8000
    .venv/bin/uvicorn --factory examples.step_up_app:create_app --port 8000
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from claimguard import ClaimGuardMiddleware, ProtectedResource, TokenVerifier, requires_step_up

AUDIENCE = "https://api.example.com"
DEFAULT_ISSUER = "http://127.0.0.1:8765/"
MULTI_FACTOR = "http://schemas.openid.net/pape/policies/2007/06/multi-factor"
FIVE_MINUTES = 300


async def balance(request: Request) -> JSONResponse:
    return JSONResponse({"sub": request.user.identity, "balance": 1200})


@requires_step_up(acr_values=[MULTI_FACTOR], max_age=FIVE_MINUTES)
async def payouts(request: Request) -> JSONResponse:
    return JSONResponse({"sub": request.user.identity, "status": "payout scheduled"})


def create_app(
    *,
    issuer_url: str | None = None,
    public_origin: str | None = None,
    http_client: httpx.AsyncClient | None = None,
) -> Starlette:
    """The example API, trusting tokens from ``issuer_url`` for audience ``AUDIENCE``;
    DPoP proofs name ``public_origin`` (default: ``CLAIMGUARD_PUBLIC_ORIGIN``, else the
    resource's own origin)."""
    issuer = issuer_url or os.environ.get("CLAIMGUARD_ISSUER") or DEFAULT_ISSUER
    verifier = TokenVerifier(
        issuer=issuer,
        audience=AUDIENCE,
        public_origin=public_origin or os.environ.get("CLAIMGUARD_PUBLIC_ORIGIN") or None,
        http_client=http_client,
    )
    resource = ProtectedResource(
        resource=AUDIENCE, authorization_servers=[issuer], acr_values_supported=[MULTI_FACTOR]
    )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with verifier:
            yield

    return Starlette(
        routes=[Route("/balance", balance), Route("/payouts", payouts, methods=["POST"])],
        middleware=[
            Middleware(ClaimGuardMiddleware, verifier=verifier, protected_resource=resource)
        ],
        lifespan=lifespan,
    )
