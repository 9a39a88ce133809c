"""Faults for the load benchmark: a switchable JWKS outage and tokens that must be refused."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from starlette.types import ASGIApp, Receive, Scope, Send

from issuer import Issuer

__all__ = ["JWKS_PATH", "JwksSwitch", "invalid_tokens"]

JWKS_PATH = "/.well-known/jwks.json"


class JwksSwitch:
    """ASGI wrapper: answers ``503`` for the JWKS while ``down``; counts every JWKS request.

    The flag is flipped from another thread; reading a bool attribute needs no lock.
    """

    def __init__(self, app: ASGIApp, *, retry_after_seconds: int = 1) -> None:
        self.app = app
        self.down = False
        self.served = 0
        self.refused = 0
        self._retry_after = str(retry_after_seconds)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != JWKS_PATH:
            await self.app(scope, receive, send)
            return
        if not self.down:
            self.served += 1
            await self.app(scope, receive, send)
            return
        self.refused += 1
        await send(
            {
                "type": "http.response.start",
                "status": 503,
                "headers": [
                    (b"content-type", b"text/plain"),
                    (b"retry-after", self._retry_after.encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": b"JWKS unavailable\n"})


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def invalid_tokens(issuer: Issuer, *, audience: str, wrong_audience_token: str) -> dict[str, str]:
    """Tokens an API for ``audience`` must answer with 401, by kind.

    All but the stranger's are signed with the issuer's active key, so only the claim or
    header at fault makes them invalid; ``wrong_audience_token`` is a real issuer token.
    """
    now = int(time.time())
    active = issuer.keys.active
    claims: dict[str, Any] = {
        "iss": issuer.url,
        "sub": "auth0|load",
        "aud": audience,
        "iat": now,
        "exp": now + 3600,
        "scope": "read:messages",
    }
    good = jwt.encode(claims, active.private_key, algorithm="ES256", headers={"kid": active.kid})
    head, body, signature = good.split(".")
    flipped = signature[:10] + ("A" if signature[10] != "A" else "B") + signature[11:]
    stranger = ec.generate_private_key(ec.SECP256R1())
    none_header = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return {
        "tampered signature": f"{head}.{body}.{flipped}",
        "expired": jwt.encode(
            {**claims, "iat": now - 7200, "exp": now - 3600},
            active.private_key,
            algorithm="ES256",
            headers={"kid": active.kid},
        ),
        "unknown kid": jwt.encode(
            claims, stranger, algorithm="ES256", headers={"kid": "not-published"}
        ),
        "alg none": f"{none_header}.{body}.",
        "malformed": "not-a-jwt",
        "wrong issuer": jwt.encode(
            {**claims, "iss": issuer.url.rstrip("/")},
            active.private_key,
            algorithm="ES256",
            headers={"kid": active.kid},
        ),
        "wrong audience": wrong_audience_token,
    }
