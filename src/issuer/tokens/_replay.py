"""The DPoP proof replay cache: each ``jti`` is accepted once per key (RFC 9449 §11.1)."""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["DEFAULT_REPLAY_CAPACITY", "ReplayCache", "ReplayCacheFull"]

DEFAULT_REPLAY_CAPACITY = 100_000


class ReplayCacheFull(Exception):
    """The cache holds ``capacity`` live entries: a proof cannot be remembered, so it is
    refused (fail closed) rather than accepted unrecorded."""


class ReplayCache:
    """Remembers ``(jkt, jti)`` pairs until their proof could no longer be accepted.

    Bounded: at most ``capacity`` entries; expired ones are dropped as new ones arrive.
    """

    def __init__(
        self, *, clock: Callable[[], float], capacity: int = DEFAULT_REPLAY_CAPACITY
    ) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._clock = clock
        self.capacity = capacity
        self._seen: dict[tuple[str, str], float] = {}

    def __len__(self) -> int:
        return len(self._seen)

    def _expire(self) -> None:
        now = self._clock()
        # Entries arrive roughly in expiry order: drop from the front, then scan when full.
        while self._seen:
            key, expires_at = next(iter(self._seen.items()))
            if expires_at >= now:
                break
            del self._seen[key]
        if len(self._seen) >= self.capacity:
            self._seen = {k: e for k, e in self._seen.items() if e >= now}

    def seen(self, jkt: str, jti: str) -> bool:
        """Whether the pair is recorded and live; records nothing."""
        self._expire()
        return (jkt, jti) in self._seen

    def is_full(self) -> bool:
        """Whether no new pair can be recorded now."""
        self._expire()
        return len(self._seen) >= self.capacity

    def first_use(self, jkt: str, jti: str, *, expires_at: float) -> bool:
        """Record the pair; ``False`` when it was seen before and has not expired.

        Raises :class:`ReplayCacheFull` when it cannot be recorded.
        """
        self._expire()
        key = (jkt, jti)
        if key in self._seen:
            return False
        if len(self._seen) >= self.capacity:
            raise ReplayCacheFull
        self._seen[key] = expires_at
        return True
