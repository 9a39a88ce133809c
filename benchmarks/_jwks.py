"""An issuer's JWKS endpoint over ``httpx.MockTransport`` that counts what it serves."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

import httpx
from _tokens import ISSUER, SigningKey

__all__ = ["JWKS_URL", "JWKSEndpoint"]

JWKS_URL = ISSUER + ".well-known/jwks.json"


class JWKSEndpoint:
    """Serves ``keys`` at :data:`JWKS_URL`; ``fetch_times`` records when each fetch happened
    on ``clock`` (any zero-argument callable returning seconds)."""

    def __init__(self, keys: Sequence[SigningKey], *, clock: Callable[[], float]) -> None:
        self._body = json.dumps({"keys": [key.public_jwk for key in keys]}).encode()
        self._clock = clock
        self.fetch_times: list[float] = []

    @property
    def fetches(self) -> int:
        return len(self.fetch_times)

    def _handle(self, request: httpx.Request) -> httpx.Response:
        if str(request.url) != JWKS_URL:
            return httpx.Response(404)
        self.fetch_times.append(self._clock())
        return httpx.Response(200, content=self._body, headers={"content-type": "application/json"})

    def client(self) -> httpx.AsyncClient:
        """A client whose every request this endpoint answers in-process."""
        return httpx.AsyncClient(transport=httpx.MockTransport(self._handle))
