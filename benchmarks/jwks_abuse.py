"""A flood of tokens with made-up ``kid`` values: JWKS fetches and the cost to valid tokens.

    python benchmarks/jwks_abuse.py [--quick] [--requests N] [--json FILE]

10,000 requests (``--quick``: 2,000) carry a random unknown ``kid`` (header rewritten, the
payload and signature of a real token kept, as an attacker would send them); after every
few of them a valid token is verified. Time runs on a fake clock that moves 10 ms per
request, so the flood spans several JWKS cooldown windows.

Two verifiers of each kind see the same valid tokens at the same moments; one also gets
the flood. The table compares their median time per valid token, for the cold path
(cache off: header, key lookup, signature, claims) and the warm one (verified-token cache).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import secrets
import statistics
import sys
import time
from collections.abc import Sequence
from typing import Any

import httpx
from _jwks import JWKS_URL, JWKSEndpoint
from _machine import describe, write_results
from _table import render_table
from _tokens import AUDIENCE, ISSUER, NAMESPACE, b64url, make_key

from claimguard import InvalidToken, TokenVerifier

COOLDOWN_SECONDS = 30.0
STEP_SECONDS = 0.01
VALID_EVERY = 4
SLOWDOWN_LIMIT = 1.10
MODES = {"claimguard cold": 0, "claimguard warm": 4096}


class FakeClock:
    """Seconds since the epoch that move only when told to."""

    def __init__(self) -> None:
        self.now = float(int(time.time()))

    def time(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)
        await asyncio.sleep(0)


def forged(token: str, kid: str) -> str:
    """``token`` with its header's ``kid`` replaced: the signature no longer matters."""
    _, payload, signature = token.split(".")
    header = {"alg": "RS256", "typ": "JWT", "kid": kid}
    return f"{b64url(json.dumps(header).encode())}.{payload}.{signature}"


async def _timed(verifier: TokenVerifier, token: str) -> int:
    start = time.perf_counter_ns()
    await verifier.verify(token)
    return time.perf_counter_ns() - start


async def run(requests: int) -> dict[str, Any]:
    """Send ``requests`` unknown-kid tokens and the valid ones between them; return the figures."""
    clock = FakeClock()
    key = make_key("RS256")
    token = key.mint(key.claims(now=clock.now))
    endpoints: dict[tuple[str, bool], JWKSEndpoint] = {}
    verifiers: dict[tuple[str, bool], TokenVerifier] = {}
    clients: list[httpx.AsyncClient] = []
    for mode, cache_size in MODES.items():
        for flooded in (False, True):
            endpoint = JWKSEndpoint([key], clock=clock.time)
            endpoints[mode, flooded] = endpoint
            clients.append(endpoint.client())
            verifiers[mode, flooded] = TokenVerifier(
                issuer=ISSUER,
                audience=AUDIENCE,
                namespace=NAMESPACE,
                jwks_uri=JWKS_URL,
                token_cache_size=cache_size,
                jwks_cooldown_seconds=COOLDOWN_SECONDS,
                http_client=clients[-1],
                clock=clock,
            )
    valid_ns: dict[tuple[str, bool], list[int]] = {pair: [] for pair in verifiers}
    rejected_ns: list[int] = []
    started = clock.now
    try:
        for verifier in verifiers.values():
            await verifier.verify(token)  # the first fetch, before the flood starts
        for sent in range(requests):
            bogus = forged(token, secrets.token_hex(8))
            for mode in MODES:
                start = time.perf_counter_ns()
                try:
                    await verifiers[mode, True].verify(bogus)
                except InvalidToken as error:
                    if error.code != "unknown_kid":
                        raise
                else:
                    raise AssertionError("a token with an unknown kid was accepted")
                rejected_ns.append(time.perf_counter_ns() - start)
            clock.now += STEP_SECONDS
            if sent % VALID_EVERY == VALID_EVERY - 1:
                # Whoever goes first after the flood finds colder CPU caches: take turns.
                order = (True, False) if sent % (2 * VALID_EVERY) < VALID_EVERY else (False, True)
                for mode in MODES:
                    for flooded in order:
                        pair = (mode, flooded)
                        valid_ns[pair].append(await _timed(verifiers[pair], token))
                clock.now += STEP_SECONDS
    finally:
        for verifier in verifiers.values():
            await verifier.aclose()
        for client in clients:
            await client.aclose()
    span = clock.now - started
    windows = max(1, math.ceil(span / COOLDOWN_SECONDS))
    per_window = [0] * windows
    for fetched_at in endpoints["claimguard cold", True].fetch_times:
        per_window[min(windows - 1, int((fetched_at - started) // COOLDOWN_SECONDS))] += 1
    return {
        "requests": requests,
        "valid_requests": len(valid_ns["claimguard cold", False]),
        "span_seconds": round(span, 2),
        "cooldown_seconds": COOLDOWN_SECONDS,
        "windows": windows,
        "fetches": {
            f"{mode}, {'flooded' if flooded else 'valid tokens only'}": endpoint.fetches
            for (mode, flooded), endpoint in endpoints.items()
        },
        "max_fetches_per_window": max(per_window),
        "fetches_per_window": per_window,
        "unknown_kid_median_us": statistics.median(rejected_ns) / 1000,
        "valid_median_us": {
            mode: {
                "without_flood": statistics.median(valid_ns[mode, False]) / 1000,
                "with_flood": statistics.median(valid_ns[mode, True]) / 1000,
            }
            for mode in MODES
        },
    }


def report(result: dict[str, Any]) -> str:
    rows = []
    for mode, medians in result["valid_median_us"].items():
        ratio = medians["with_flood"] / medians["without_flood"]
        rows.append(
            [
                mode,
                f"{medians['without_flood']:.2f}",
                f"{medians['with_flood']:.2f}",
                f"{ratio:.3f}",
                "met" if ratio < SLOWDOWN_LIMIT else "MISSED",
            ]
        )
    table = render_table(
        ["valid token through", "alone µs", "amid flood µs", "ratio", f"< {SLOWDOWN_LIMIT}"], rows
    )
    fetches = result["fetches"]["claimguard cold, flooded"]
    most = result["max_fetches_per_window"]
    return "\n".join(
        [
            f"JWKS abuse: {result['requests']:,} unknown-kid requests and "
            f"{result['valid_requests']:,} valid ones over {result['span_seconds']:g} s "
            f"(fake clock), cooldown {result['cooldown_seconds']:g} s",
            "",
            table,
            "",
            f"unknown kid refused in {result['unknown_kid_median_us']:.2f} µs (median)",
            f"JWKS fetches by a flooded verifier: {fetches} in {result['windows']} cooldown "
            f"windows (the first before the flood), per window {result['fetches_per_window']}, "
            f"at most {most} [{'met' if most <= 1 else 'MISSED'}: ≤ 1 per window]",
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="2,000 requests instead of 10,000")
    parser.add_argument("--requests", type=int, help="how many unknown-kid requests to send")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = parser.parse_args(argv)
    requests = args.requests or (2_000 if args.quick else 10_000)
    print(describe(), end="\n\n", flush=True)
    result = asyncio.run(run(requests))
    print(report(result))
    if args.json:
        write_results(args.json, "jwks_abuse", result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
