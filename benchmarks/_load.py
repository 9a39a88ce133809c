"""Load generators for the middleware benchmark: ``wrk`` when installed, else Python.

Both keep a fixed number of connections busy for a fixed time against one URL and return
requests per second with the 50th and 99th latency percentiles.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import statistics
import subprocess
import time
from dataclasses import dataclass

import httpx

__all__ = ["Load", "python_load", "wrk_load", "wrk_path"]

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


@dataclass(frozen=True)
class Load:
    """What one load run measured; latencies in milliseconds."""

    requests: int
    seconds: float
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    failed: int


def wrk_path() -> str | None:
    return shutil.which("wrk")


def _wrk_ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    if match is None:
        raise ValueError(f"unexpected wrk latency {text!r}")
    return float(match[1]) * _UNITS[match[2]]


def wrk_load(url: str, *, token: str | None, seconds: float, connections: int) -> Load:
    """Run ``wrk --latency`` (one thread: the other core belongs to the server)."""
    command = [
        wrk_path() or "wrk",
        "--threads",
        "1",
        "--connections",
        str(connections),
        "--duration",
        f"{max(1, round(seconds))}s",
        "--latency",
    ]
    if token is not None:
        command += ["--header", f"Authorization: Bearer {token}"]
    output = subprocess.run(
        [*command, url], capture_output=True, text=True, check=True, timeout=seconds + 30
    ).stdout
    total = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s)", output)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    p50 = re.search(r"^\s+50%\s+(\S+)", output, re.MULTILINE)
    p99 = re.search(r"^\s+99%\s+(\S+)", output, re.MULTILINE)
    if total is None or rate is None or p50 is None or p99 is None:
        raise RuntimeError(f"cannot read wrk's output:\n{output}")
    failures = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    failed = int(failures[1]) if failures else 0
    if errors:
        failed += sum(int(n) for n in errors.groups())
    return Load(
        requests=int(total[1]),
        seconds=_wrk_ms(total[2] + total[3]) / 1e3,
        requests_per_second=float(rate[1]),
        p50_ms=_wrk_ms(p50[1]),
        p99_ms=_wrk_ms(p99[1]),
        failed=failed,
    )


async def _python_load(url: str, token: str | None, seconds: float, connections: int) -> Load:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    latencies: list[float] = []
    failed = 0
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(limits=limits, headers=headers) as client:
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal failed
            while time.perf_counter() < deadline:
                start = time.perf_counter()
                response = await client.get(url)
                latencies.append((time.perf_counter() - start) * 1e3)
                if response.status_code != 200:
                    failed += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.perf_counter() - started
    cuts = statistics.quantiles(latencies, n=100)
    return Load(
        requests=len(latencies),
        seconds=elapsed,
        requests_per_second=len(latencies) / elapsed,
        p50_ms=cuts[49],
        p99_ms=cuts[98],
        failed=failed,
    )


def python_load(url: str, *, token: str | None, seconds: float, connections: int) -> Load:
    """An ``httpx`` client with ``connections`` concurrent workers, in this process."""
    return asyncio.run(_python_load(url, token, seconds, connections))
