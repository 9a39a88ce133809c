"""Process memory after many distinct tokens: the verified-token cache stays bounded.

    python benchmarks/memory.py [--quick] [--tokens N] [--json FILE]

100,000 distinct ES256 tokens (``--quick``: 10,000), each with its own ``jti``, go through
a default :class:`~claimguard.TokenVerifier` (token cache of 4,096). They are minted and
verified in batches of 1,000, so the benchmark itself never holds more than one batch.
ES256 keeps minting cheap (an ECDSA signature costs a fraction of an RSA one); the cache
holds the same entry whatever signed the token.

Resident set size is read from ``/proc/self/status`` (VmRSS) after a full garbage
collection at a few checkpoints; the peak is its high-water mark (VmHWM).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
import time
from collections.abc import Sequence
from typing import Any

from _jwks import JWKS_URL, JWKSEndpoint
from _machine import describe, write_results
from _table import render_table
from _tokens import AUDIENCE, ISSUER, NAMESPACE, make_key

from claimguard import TokenVerifier

BATCH = 1_000
CHECKPOINTS = (0.1, 0.25, 0.5, 0.75, 1.0)


def _status_mib(field: str) -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"/proc/self/status has no {field} line")


def rss_mib() -> float:
    """The current resident set size in MiB (VmRSS), after a full collection."""
    gc.collect()
    return _status_mib("VmRSS")


def peak_rss_mib() -> float:
    """The highest resident set size so far in MiB (VmHWM)."""
    return _status_mib("VmHWM")


async def run(tokens: int) -> dict[str, Any]:
    """Verify ``tokens`` distinct tokens; return RSS at each checkpoint and the cache size."""
    key = make_key("ES256")
    endpoint = JWKSEndpoint([key], clock=time.time)
    checkpoints = sorted(
        {max(BATCH, round(tokens * share / BATCH) * BATCH) for share in CHECKPOINTS}
    )
    async with endpoint.client() as client:
        verifier = TokenVerifier(
            issuer=ISSUER,
            audience=AUDIENCE,
            namespace=NAMESPACE,
            jwks_uri=JWKS_URL,
            http_client=client,
        )
        async with verifier:
            await verifier.verify(key.mint())
            rows = [{"tokens": 0, "rss_mib": rss_mib(), "cached_tokens": verifier.cached_tokens}]
            started = time.perf_counter()
            done = 0
            while done < tokens:
                batch = [key.mint() for _ in range(min(BATCH, tokens - done))]
                for token in batch:
                    await verifier.verify(token)
                done += len(batch)
                del batch
                if done in checkpoints or done == tokens:
                    rows.append(
                        {
                            "tokens": done,
                            "rss_mib": rss_mib(),
                            "cached_tokens": verifier.cached_tokens,
                        }
                    )
            elapsed = time.perf_counter() - started
    return {
        "tokens": tokens,
        "algorithm": "ES256",
        "seconds": round(elapsed, 2),
        "checkpoints": rows,
        "peak_rss_mib": peak_rss_mib(),
        "jwks_fetches": endpoint.fetches,
    }


def report(result: dict[str, Any]) -> str:
    rows = result["checkpoints"]
    before = rows[0]["rss_mib"]
    table = render_table(
        ["distinct tokens verified", "RSS MiB", "vs before", "cached_tokens"],
        [
            [
                f"{row['tokens']:,}",
                f"{row['rss_mib']:.1f}",
                f"{row['rss_mib'] - before:+.1f}",
                f"{row['cached_tokens']:,}",
            ]
            for row in rows
        ],
    )
    half = next(row for row in rows if row["tokens"] >= result["tokens"] / 2)
    growth = rows[-1]["rss_mib"] - half["rss_mib"]
    return "\n".join(
        [
            f"Memory: {result['tokens']:,} distinct {result['algorithm']} tokens through the "
            f"default verifier in {result['seconds']:g} s",
            "",
            table,
            "",
            f"RSS before {before:.1f} MiB, after {rows[-1]['rss_mib']:.1f} MiB, "
            f"peak {result['peak_rss_mib']:.1f} MiB; growth over the second half "
            f"({half['tokens']:,} -> {rows[-1]['tokens']:,} tokens): {growth:+.1f} MiB",
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="10,000 tokens instead of 100,000")
    parser.add_argument("--tokens", type=int, help="how many distinct tokens to verify")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = parser.parse_args(argv)
    tokens = args.tokens or (10_000 if args.quick else 100_000)
    print(describe(), end="\n\n", flush=True)
    result = asyncio.run(run(tokens))
    print(report(result))
    if args.json:
        write_results(args.json, "memory", result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
