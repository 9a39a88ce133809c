"""Authorization-server DPoP nonces (RFC 9449 §8): stateless, derived from a secret and a
time step, so nothing is stored per client."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Callable

__all__ = ["NONCE_STEP_SECONDS", "NonceSource"]

NONCE_STEP_SECONDS = 60


class NonceSource:
    """The current nonce changes every ``step_seconds``; the previous one is still accepted,
    so a nonce handed out just before a step boundary works for at least one step."""

    def __init__(
        self, *, clock: Callable[[], float], step_seconds: int = NONCE_STEP_SECONDS
    ) -> None:
        self._clock = clock
        self._step_seconds = step_seconds
        self._secret = secrets.token_bytes(32)

    def _nonce(self, step: int) -> str:
        mac = hmac.new(self._secret, str(step).encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac[:18]).decode()

    def _step(self) -> int:
        return int(self._clock() // self._step_seconds)

    def current(self) -> str:
        """The nonce to hand out now (``DPoP-Nonce``)."""
        return self._nonce(self._step())

    def accepts(self, nonce: object) -> bool:
        """Whether ``nonce`` is the current or the previous step's nonce."""
        if not isinstance(nonce, str):
            return False
        step = self._step()
        return any(hmac.compare_digest(nonce, self._nonce(s)) for s in (step, step - 1))
