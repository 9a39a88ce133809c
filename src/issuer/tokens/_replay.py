"""The DPoP proof replay cache: each ``jti`` is accepted once per key (RFC 9449 §11.1)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["DEFAULT_REPLAY_CAPACITY", "ReplayCache", "ReplayCacheFull"]

DEFAULT_REPLAY_CAPACITY = 100_000


class ReplayCacheFull(Exception):
    """The cache holds ``capacity`` live entries: a proof cannot be remembered, so it is
    refused (fail closed) rather than accepted unrecorded."""


@dataclass
class _Entry:
    expires_at: float
    #: ``False`` while the request using the proof runs (reserved), ``True`` once it succeeded.
    spent: bool


class ReplayCache:
    """Remembers ``(jkt, jti)`` pairs until their proof could no longer be accepted.

    A pair is first *reserved* while the request using it runs, so a concurrent use of the
    same proof is refused; it is then *confirmed* (spent) or *released* (the request failed,
    and the proof may be used again). Bounded: at most ``capacity`` entries, reserved ones
    included; expired ones are dropped as new ones arrive.
    """

    def __init__(
        self, *, clock: Callable[[], float], capacity: int = DEFAULT_REPLAY_CAPACITY
    ) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._clock = clock
        self.capacity = capacity
        self._seen: dict[tuple[str, str], _Entry] = {}

    def __len__(self) -> int:
        return len(self._seen)

    def _expire(self) -> None:
        now = self._clock()
        # Entries arrive roughly in expiry order: drop from the front, then scan when full.
        while self._seen:
            key, entry = next(iter(self._seen.items()))
            if entry.expires_at >= now:
                break
            del self._seen[key]
        if len(self._seen) >= self.capacity:
            self._seen = {k: e for k, e in self._seen.items() if e.expires_at >= now}

    def seen(self, jkt: str, jti: str) -> bool:
        """Whether the pair is recorded (spent or reserved) and live; records nothing."""
        self._expire()
        return (jkt, jti) in self._seen

    def is_full(self) -> bool:
        """Whether no new pair can be recorded now."""
        self._expire()
        return len(self._seen) >= self.capacity

    def reserve(self, jkt: str, jti: str, *, expires_at: float) -> bool:
        """Hold the pair for a request in progress; ``False`` when it is spent or reserved.

        Raises :class:`ReplayCacheFull` when it cannot be recorded.
        """
        self._expire()
        key = (jkt, jti)
        if key in self._seen:
            return False
        if len(self._seen) >= self.capacity:
            raise ReplayCacheFull
        self._seen[key] = _Entry(expires_at, spent=False)
        return True

    def confirm(self, jkt: str, jti: str) -> None:
        """Mark a reserved pair spent: its request succeeded."""
        entry = self._seen.get((jkt, jti))
        if entry is not None:
            entry.spent = True

    def release(self, jkt: str, jti: str) -> None:
        """Forget a reserved pair (its request failed); a spent pair stays."""
        entry = self._seen.get((jkt, jti))
        if entry is not None and not entry.spent:
            del self._seen[(jkt, jti)]

    def first_use(self, jkt: str, jti: str, *, expires_at: float) -> bool:
        """Record the pair as spent; ``False`` when it was seen before and has not expired.

        Raises :class:`ReplayCacheFull` when it cannot be recorded.
        """
        if not self.reserve(jkt, jti, expires_at=expires_at):
            return False
        self.confirm(jkt, jti)
        return True
