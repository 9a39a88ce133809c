"""An API that takes only DPoP-bound tokens (RFC 9449), ready to run as several replicas.

``/public`` is open (a load balancer's health check); ``GET /account`` needs a DPoP-bound
token carrying the ``premium`` claim (the example issuer's action gives it to alice) and a
fresh proof by the token's key. One file runs as any number of replicas: everything a
replica must share with the others comes from the environment.

- ``CLAIMGUARD_ISSUER``: the issuer URL (default ``http://127.0.0.1:8765/``).
- ``CLAIMGUARD_DPOP``: ``required`` (default), ``allowed`` or ``disabled``.
- ``CLAIMGUARD_REDIS_URL``: ``redis://host:port/0``, the replay store every replica shares,
  so a proof accepted by one replica is refused by all (RFC 9449 §11.1). Unset: each
  process remembers proofs in memory, which only suits a single replica.
- ``CLAIMGUARD_DPOP_NONCE_SECRET``: at least 32 bytes, the same on every replica; turns on
  server nonces (§9), and any replica accepts a nonce another replica handed out.
- ``CLAIMGUARD_PUBLIC_ORIGIN``: the origin clients reach, such as
  ``https://api.example.com``. Proofs name the URL the client called (``htu``), which is
  the load balancer's, not the replica's own address; with this set every replica checks
  ``htu`` against that one origin.

A value the library refuses stops the factory with one line naming the variable, such as
``examples.dpop_app: CLAIMGUARD_DPOP_NONCE_SECRET is refused: …``.

Run two replicas behind one origin::

    .venv/bin/python -m issuer serve --config examples/issuer/issuer.toml    # port 8765
    export CLAIMGUARD_REDIS_URL=redis://127.0.0.1:6379/0
    export CLAIMGUARD_DPOP_NONCE_SECRET="$(openssl rand -hex 32)"
    export CLAIMGUARD_PUBLIC_ORIGIN=https://api.example.com
    .venv/bin/uvicorn --factory examples.dpop_app:create_app --port 8001 &
    .venv/bin/uvicorn --factory examples.dpop_app:create_app --port 8002 &
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import cast

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from claimguard import (
    ClaimGuardMiddleware,
    ClaimsUser,
    ConfigurationError,
    TokenVerifier,
    requires_claim,
)
from claimguard.dpop import MemoryReplayStore, RedisReplayStore, ReplayStore

AUDIENCE = "https://api.example.com"
NAMESPACE = "https://myapp.example.com/"
DEFAULT_ISSUER = "http://127.0.0.1:8765/"


def _setting(name: str) -> str | None:
    # An empty variable counts as unset, as in most shells' `VAR= command`.
    return os.environ.get(name) or None


async def public(request: Request) -> JSONResponse:
    return JSONResponse({"message": "Anyone may read this."})


@requires_claim("premium")
async def account(request: Request) -> JSONResponse:
    user = cast(ClaimsUser, request.user)
    return JSONResponse({"sub": user.identity, "jkt": user.claims.dpop_jkt})


def create_app(
    *,
    issuer_url: str | None = None,
    dpop: str | None = None,
    redis_url: str | None = None,
    nonce_secret: str | None = None,
    public_origin: str | None = None,
    http_client: httpx.AsyncClient | None = None,
) -> Starlette:
    """One replica of the DPoP example API; each argument left out is read from the
    environment variable of the module docstring.

    A value read from the environment that is refused stops the factory with one line
    naming the variable (``SystemExit``); a refused argument raises ``ConfigurationError``.
    """
    # Which option each variable read from the environment fed, to name it if refused.
    read: dict[str, str] = {}

    def setting(given: str | None, name: str, option: str) -> str | None:
        if given is not None:
            return given
        value = _setting(name)
        if value is not None:
            read[option] = name
        return value

    try:
        redis_url = setting(redis_url, "CLAIMGUARD_REDIS_URL", "RedisReplayStore url")
        replay_store: ReplayStore = (
            RedisReplayStore(url=redis_url) if redis_url else MemoryReplayStore()
        )
        verifier = TokenVerifier(
            issuer=setting(issuer_url, "CLAIMGUARD_ISSUER", "issuer") or DEFAULT_ISSUER,
            audience=AUDIENCE,
            namespace=NAMESPACE,
            dpop=setting(dpop, "CLAIMGUARD_DPOP", "dpop") or "required",  # type: ignore[arg-type]
            dpop_replay_store=replay_store,
            dpop_nonce_secret=setting(
                nonce_secret, "CLAIMGUARD_DPOP_NONCE_SECRET", "dpop_nonce_secret"
            ),
            public_origin=setting(public_origin, "CLAIMGUARD_PUBLIC_ORIGIN", "public_origin"),
            http_client=http_client,
        )
    except ConfigurationError as error:
        # The longest option first: "dpop_nonce_secret" also holds "dpop".
        by_length = sorted(read.items(), key=lambda item: -len(item[0]))
        named = [name for option, name in by_length if option in str(error)]
        if not named:
            raise
        raise SystemExit(f"examples.dpop_app: {named[0]} is refused: {error}") from None

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # The Redis client, like the verifier's HTTP client, belongs to the server's loop.
        async with verifier:
            try:
                yield
            finally:
                if isinstance(replay_store, RedisReplayStore):
                    await replay_store.aclose()

    return Starlette(
        routes=[Route("/public", public), Route("/account", account)],
        middleware=[Middleware(ClaimGuardMiddleware, verifier=verifier, public_paths=["/public"])],
        lifespan=lifespan,
    )
