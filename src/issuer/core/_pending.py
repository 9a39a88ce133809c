"""``PendingStore``: what a browser login left on the server between two of its requests
(an authorization request behind its login form, a consent question, a code form, a
login sent away by an action), held under an unguessable id.

Anyone can open a login form without logging in, so these records are bounded: each
lapses ``lifetime_seconds`` after it was made (on the issuer's clock), and past
``max_entries`` the oldest is dropped to make room. Dropping costs that browser only a
"start the login again" page, whereas keeping everything would let a flood of
``GET /authorize`` fill the process's memory.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["DEFAULT_MAX_PENDING", "PendingStore"]

T = TypeVar("T")
#: Per kind of record; a login form's record is a few hundred bytes.
DEFAULT_MAX_PENDING = 10_000


class PendingStore(Generic[T]):
    """Records by id until taken, lapsed (``lifetime_seconds``) or evicted, oldest first,
    to keep at most ``max_entries``; evictions are logged on ``logger``."""

    def __init__(
        self,
        *,
        clock: Callable[[], float],
        lifetime_seconds: float,
        max_entries: int,
        logger: logging.Logger,
    ) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._clock = clock
        self.lifetime_seconds = lifetime_seconds
        self.max_entries = max_entries
        self._logger = logger
        # Insertion order is expiry order: every record lives ``lifetime_seconds``.
        self._records: OrderedDict[str, tuple[float, T]] = OrderedDict()

    def __len__(self) -> int:
        self._expire()
        return len(self._records)

    def _expire(self) -> None:
        now = self._clock()
        while self._records:
            expires_at, _ = next(iter(self._records.values()))
            if expires_at > now:
                break
            self._records.popitem(last=False)

    def add(self, key: str, value: T) -> None:
        """Hold ``value`` under ``key`` (replacing any record there) for the lifetime."""
        self._expire()
        self._records.pop(key, None)
        while len(self._records) >= self.max_entries:
            self._records.popitem(last=False)
            self._logger.warning(
                "%d pending records held: the oldest was dropped (its login must start again)",
                self.max_entries,
            )
        self._records[key] = (self._clock() + self.lifetime_seconds, value)

    def get(self, key: str) -> T | None:
        """The live record under ``key``, left in place; ``None`` if there is none."""
        self._expire()
        record = self._records.get(key)
        return None if record is None else record[1]

    def pop(self, key: str) -> T | None:
        """Take the live record under ``key``; ``None`` if there is none (or it was taken)."""
        self._expire()
        record = self._records.pop(key, None)
        return None if record is None else record[1]

    def discard_if(self, predicate: Callable[[T], bool]) -> None:
        """Drop every record ``predicate`` holds true for."""
        for key in [k for k, (_, v) in self._records.items() if predicate(v)]:
            del self._records[key]
