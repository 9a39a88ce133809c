"""Stateless DPoP server nonces (RFC 9449 §9).

A nonce is the HMAC-SHA-256 of a time step under a secret the replicas share, so any
replica accepts any replica's nonce without a shared store. A nonce is accepted during
its own step and the next one (a client that just got one must not be refused at a step
boundary), so it lives between one and two steps.
"""

from __future__ import annotations

import hashlib
import hmac
import math

from .._errors import ConfigurationError
from ..jose._jws import b64_encode

__all__ = ["DPoPNonces"]

_MIN_SECRET_BYTES = 32
_LABEL = b"claimguard DPoP nonce v1\x00"


class DPoPNonces:
    """Issues and checks nonces for one secret and one step length."""

    __slots__ = ("_secret", "step_seconds")

    def __init__(self, secret: str | bytes, *, step_seconds: float) -> None:
        raw = secret.encode("utf-8") if isinstance(secret, str) else secret
        if not isinstance(raw, bytes) or len(raw) < _MIN_SECRET_BYTES:
            raise ConfigurationError(
                f"dpop_nonce_secret must be at least {_MIN_SECRET_BYTES} bytes "
                "(for example secrets.token_urlsafe(32)), shared by every replica"
            )
        if not (isinstance(step_seconds, int | float) and math.isfinite(step_seconds)):
            raise ConfigurationError("dpop_nonce_step_seconds must be a number")
        if not 1 <= step_seconds <= 3600:
            raise ConfigurationError("dpop_nonce_step_seconds must be between 1 and 3600")
        self._secret = raw
        self.step_seconds = float(step_seconds)

    def _for_step(self, step: int) -> str:
        mac = hmac.new(self._secret, _LABEL + str(step).encode("ascii"), hashlib.sha256)
        # base64url is within RFC 9449 §8.1's NQCHAR, so it needs no quoting anywhere.
        return b64_encode(mac.digest())

    def current(self, now: float) -> str:
        """The nonce to hand out at ``now``."""
        return self._for_step(math.floor(now / self.step_seconds))

    def accepts(self, nonce: object, now: float) -> bool:
        """Whether ``nonce`` was issued in this step or the previous one."""
        if not isinstance(nonce, str) or len(nonce) > 128:
            return False
        step = math.floor(now / self.step_seconds)
        encoded = nonce.encode("ascii", "replace")
        # Compared in constant time: a nonce must not be guessable byte by byte.
        matches = [
            hmac.compare_digest(encoded, self._for_step(s).encode("ascii"))
            for s in (step, step - 1)
        ]
        return any(matches)
