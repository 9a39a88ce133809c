"""What the JWKS cache tells the server log (logger ``claimguard.jwks``).

- each failed fetch of discovery or JWKS: WARNING with its precise cause; the same message
  again within :data:`REPEAT_WINDOW_SECONDS` (on the injected clock) is counted instead of
  logged, and the count goes with the next time it is logged;
- the first good fetch, and every later one that changes the keys: INFO naming the kids
  added, removed or given new key material;
- a good fetch after failures: INFO saying so.

Keys are named by ``kid`` only; nothing secret is ever logged (a JWKS holds public keys).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

from .._clock import Clock

__all__ = ["REPEAT_WINDOW_SECONDS", "KeySetLog"]

REPEAT_WINDOW_SECONDS = 60.0

_logger = logging.getLogger("claimguard.jwks")


class KeySetLog:
    """The log of one issuer's key set."""

    __slots__ = ("_clock", "_failures", "_issuer", "_last_logged_at", "_last_message", "_muted")

    def __init__(self, *, issuer: str, clock: Clock) -> None:
        self._issuer = issuer
        self._clock = clock
        self._last_message: str | None = None
        self._last_logged_at = 0.0
        self._muted = 0
        self._failures = 0

    def failed(self, message: str) -> None:
        """A fetch failed with ``message``."""
        self._failures += 1
        now = self._clock.time()
        if message == self._last_message and now - self._last_logged_at < REPEAT_WINDOW_SECONDS:
            self._muted += 1
            return
        repeats = ""
        if message == self._last_message and self._muted:
            repeats = f" ({self._muted} identical failure(s) not logged since)"
        self._last_message = message
        self._last_logged_at = now
        self._muted = 0
        _logger.warning(
            "signing keys of issuer %r cannot be fetched: %s%s", self._issuer, message, repeats
        )

    def fetched(
        self,
        jwks_uri: str,
        before: Mapping[str | None, str] | None,
        after: Mapping[str | None, str],
        skipped: Iterable[str],
    ) -> None:
        """A fetch from ``jwks_uri`` succeeded; ``before``/``after`` map kid to thumbprint
        (``before`` is ``None`` for the first good fetch)."""
        if self._failures:
            _logger.info(
                "signing keys of issuer %r fetched again after %d failed attempt(s)",
                self._issuer,
                self._failures,
            )
        self._failures = 0
        self._last_message = None
        self._muted = 0
        notes = "".join(f"; skipped a key: {reason}" for reason in skipped)
        if before is None:
            _logger.info(
                "signing keys of issuer %r fetched from %s: kids %s%s",
                self._issuer,
                jwks_uri,
                _kids(after),
                notes,
            )
            return
        added = [kid for kid in after if kid not in before]
        removed = [kid for kid in before if kid not in after]
        replaced = [kid for kid in after if kid in before and before[kid] != after[kid]]
        if not (added or removed or replaced):
            return
        changes = [
            f"{label} {_kids(kids)}"
            for label, kids in (("added", added), ("removed", removed), ("replaced", replaced))
            if kids
        ]
        _logger.info(
            "signing keys of issuer %r changed at %s: %s%s",
            self._issuer,
            jwks_uri,
            ", ".join(changes),
            notes,
        )


def _kids(kids: Iterable[str | None]) -> str:
    return "[" + ", ".join(repr(kid) for kid in kids) + "]"
