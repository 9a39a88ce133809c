"""Timing tight loops: calibrate a loop count, repeat, keep every repeat's per-call time.

Each repeat times one tight loop with :func:`time.perf_counter_ns`; the garbage collector
is off during a repeat (as :mod:`timeit` does) and collected between repeats. Benchmarks
measured together take turns repeat by repeat, so drift in the machine's speed lands on
all of them alike and their ratios stay fair.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

__all__ = ["Sample", "TimedLoop", "async_loop", "measure_together", "sync_loop"]

K = TypeVar("K")
TimedLoop = Callable[[int], Awaitable[int]]
"""Run the measured operation ``n`` times in a tight loop and return the elapsed ns."""


@dataclass(frozen=True)
class Sample:
    """The per-call times (ns) of every repeat of one benchmark, and its loop count."""

    per_call_ns: tuple[float, ...]
    loops: int

    @property
    def median_us(self) -> float:
        return statistics.median(self.per_call_ns) / 1000

    @property
    def min_us(self) -> float:
        return min(self.per_call_ns) / 1000

    @property
    def max_us(self) -> float:
        return max(self.per_call_ns) / 1000

    @property
    def spread_pct(self) -> float:
        """Half the range of the repeats, relative to the median, in percent."""
        return 50 * (self.max_us - self.min_us) / self.median_us

    def as_dict(self) -> dict[str, Any]:
        return {
            "median_us": round(self.median_us, 3),
            "min_us": round(self.min_us, 3),
            "max_us": round(self.max_us, 3),
            "spread_pct": round(self.spread_pct, 2),
            "repeats": len(self.per_call_ns),
            "loops": self.loops,
        }


def sync_loop(operation: Callable[[], object]) -> TimedLoop:
    """A :data:`TimedLoop` that calls ``operation()``."""

    async def run(n: int) -> int:
        start = time.perf_counter_ns()
        for _ in range(n):
            operation()
        return time.perf_counter_ns() - start

    return run


def async_loop(operation: Callable[[Any], Awaitable[object]], argument: Any) -> TimedLoop:
    """A :data:`TimedLoop` that awaits ``operation(argument)`` inside the running coroutine."""

    async def run(n: int) -> int:
        start = time.perf_counter_ns()
        for _ in range(n):
            await operation(argument)
        return time.perf_counter_ns() - start

    return run


async def _calibrate(loop: TimedLoop, repeat_ns: int) -> int:
    """The loop count that makes one repeat last about ``repeat_ns``."""
    n = 1
    while True:
        elapsed = await loop(n)
        if elapsed >= repeat_ns // 10 or n >= 10_000_000:
            return max(1, round(n * repeat_ns / max(elapsed, 1)))
        n *= 10


async def measure_together(
    loops: Mapping[K, TimedLoop], *, repeats: int, repeat_seconds: float
) -> dict[K, Sample]:
    """Time every loop ``repeats`` times, taking turns, each repeat about ``repeat_seconds``."""
    repeat_ns = int(repeat_seconds * 1e9)
    counts = {key: await _calibrate(loop, repeat_ns) for key, loop in loops.items()}
    times: dict[K, list[float]] = {key: [] for key in loops}
    was_enabled = gc.isenabled()
    try:
        for _ in range(repeats):
            for key, loop in loops.items():
                gc.collect()
                gc.disable()
                elapsed = await loop(counts[key])
                gc.enable()
                times[key].append(elapsed / counts[key])
    finally:
        if was_enabled:
            gc.enable()
        else:
            gc.disable()
    return {key: Sample(tuple(times[key]), counts[key]) for key in loops}
