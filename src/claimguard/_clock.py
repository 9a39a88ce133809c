"""The clock claimguard reads time from; injected so tests control time without sleeping."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol

import anyio

__all__ = ["SYSTEM_TIME", "Clock", "SystemClock", "TokenTime"]


class Clock(Protocol):
    """Wall-clock seconds since the epoch, and a way to wait for them to pass."""

    def time(self) -> float:
        """Return the current time in seconds since the epoch."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait until ``seconds`` have passed on this clock."""
        ...


class SystemClock:
    """The real clock: :func:`time.time` and :func:`anyio.sleep`."""

    __slots__ = ()

    # The C function itself: this is read on every request, cached tokens included.
    time = staticmethod(time.time)

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep(max(0.0, seconds))


@dataclass(frozen=True, slots=True)
class TokenTime:
    """The verifier's clock and leeway, as endpoint guards read them from the request.

    A step-up requirement measures ``auth_time`` with the same clock and the same tolerance
    for clock skew as the verifier measures ``exp`` and ``nbf``.
    """

    clock: Clock
    leeway_seconds: float

    def now(self) -> float:
        """The current time on the verifier's clock."""
        return self.clock.time()


SYSTEM_TIME = TokenTime(SystemClock(), 0.0)
"""The real clock without leeway, for requirements checked outside the middleware."""
