"""The premium scenario on FastAPI.

Three routes: ``/public`` for anyone, ``/me`` for any signed-in user, and ``/premium`` only
for tokens carrying ``https://myapp.example.com/premium: true``, the claim the example
issuer's post-login action adds for premium users. Run it against the example issuer::

    .venv/bin/python -m issuer serve --config examples/issuer/issuer.toml    # port 8765
    .venv/bin/uvicorn --factory examples.fastapi_app:create_app --port 8000

``CLAIMGUARD_ISSUER`` overrides the issuer URL (default ``http://127.0.0.1:8765/``).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import httpx
from fastapi import FastAPI

from claimguard import ClaimGuardMiddleware, Claims, TokenVerifier
from claimguard.fastapi import CurrentClaims, require_claim

AUDIENCE = "https://api.example.com"
NAMESPACE = "https://myapp.example.com/"
DEFAULT_ISSUER = "http://127.0.0.1:8765/"


def create_app(
    *, issuer_url: str | None = None, http_client: httpx.AsyncClient | None = None
) -> FastAPI:
    """The example API, trusting tokens from ``issuer_url`` for audience ``AUDIENCE``."""
    verifier = TokenVerifier(
        issuer=issuer_url or os.environ.get("CLAIMGUARD_ISSUER", DEFAULT_ISSUER),
        audience=AUDIENCE,
        namespace=NAMESPACE,
        http_client=http_client,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # The verifier's HTTP client belongs to the server's event loop; close it there.
        async with verifier:
            yield

    app = FastAPI(title="claimguard example API", lifespan=lifespan)
    app.add_middleware(
        ClaimGuardMiddleware,
        verifier=verifier,
        public_paths=["/public", "/docs", "/openapi.json"],
    )

    @app.get("/public")
    async def public() -> dict[str, str]:
        return {"message": "Anyone may read this."}

    @app.get("/me")
    async def me(claims: CurrentClaims) -> dict[str, Any]:
        return {
            "sub": claims.subject,
            "custom": dict(claims.custom),
            "scopes": sorted(claims.scopes),
        }

    @app.get("/premium")
    async def premium(claims: Annotated[Claims, require_claim("premium")]) -> dict[str, Any]:
        return {"content": "Premium content.", "sub": claims.subject}

    return app
