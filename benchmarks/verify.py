"""Cost of verifying one bearer token: claimguard against the cryptographic floor and peers.

    python benchmarks/verify.py [--quick] [--repeats N] [--json FILE]

One table, path x algorithm, in microseconds per token (median of the repeats, with half
their range as ±) and as a ratio to the floor, every number from the same run:

- floor: ``cryptography``'s signature check of the token's signing input, key ready;
- claimguard cold: ``TokenVerifier(token_cache_size=0)``, keys already fetched, so every
  call does all the work a never-seen token signed by a known key costs;
- claimguard warm: the default verifier and the same token again (verified-token cache,
  ``exp``/``nbf`` still checked on every call);
- claimguard cold/warm with otel metrics: the same two verifiers built with
  ``metrics=`` an OpenTelemetry SDK ``MeterProvider`` (in-memory reader), skipped when
  the ``otel`` extra and the SDK are not installed;
- claimguard cold, 3 issuers: ``TokenVerifier(issuers=[...], token_cache_size=0)`` with
  three fixed issuers (each its own key set), the token from the last one;
- claimguard cold, resolver: ``TokenVerifier(issuer_resolver=..., token_cache_size=0)``
  whose resolver has already named the token's issuer (its cache is warm); both are
  compared with claimguard cold repeat by repeat (each timed in the turn right after it);
- claimguard DPoP cold / warm: ``TokenVerifier.verify_dpop`` with a token bound to an
  ES256 proof key (``cnf.jkt``), a fresh ES256 proof each call (signed before the timer
  starts) and the in-memory replay store; cold has ``token_cache_size=0``, warm the default
  cache (the token is a hit, the proof is checked in full). Each is compared with the bearer
  row of the same token algorithm (cold with cold, warm with warm), repeat by repeat;
- minimal (yardstick): the least any Python verifier does per new token (see
  ``_tokens.minimal_verifier``); not a usable verifier, it shows what is left to win;
- PyJWT, joserfc, authlib, python-jose: see ``_peers.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
from collections.abc import Sequence
from functools import partial
from typing import Any

from _jwks import JWKS_URL, JWKSEndpoint
from _machine import describe, write_results
from _peers import PEERS, peer_verifier
from _proofs import ProofSigner, dpop_loop
from _table import path_table
from _timing import Sample, TimedLoop, async_loop, measure_together, sync_loop
from _tokens import (
    ALGORITHMS,
    AUDIENCE,
    ISSUER,
    NAMESPACE,
    Floor,
    SigningKey,
    make_key,
    minimal_verifier,
)

from claimguard import IssuerConfig, TokenVerifier
from claimguard.dpop import MemoryReplayStore

FLOOR = "floor (cryptography)"
COLD = "claimguard cold"
WARM = "claimguard warm"
COLD_OTEL = "claimguard cold with otel metrics"
WARM_OTEL = "claimguard warm with otel metrics"
COLD_ISSUERS = "claimguard cold, 3 issuers"
COLD_RESOLVER = "claimguard cold, resolver"
DPOP_COLD = "claimguard DPoP cold"
DPOP_WARM = "claimguard DPoP warm"
MINIMAL = "minimal (yardstick)"
PATHS = (
    FLOOR,
    COLD,
    WARM,
    COLD_OTEL,
    WARM_OTEL,
    COLD_ISSUERS,
    COLD_RESOLVER,
    DPOP_COLD,
    DPOP_WARM,
    MINIMAL,
    *PEERS,
)
# Each DPoP row and the bearer row it is compared with.
DPOP_BASES = {DPOP_COLD: COLD, DPOP_WARM: WARM}
# Enough room for every proof of a run: the default (1,000 per key) is sized for clients,
# and one benchmark key sends tens of thousands of proofs within the iat window.
_REPLAY_ENTRIES = 2_000_000

# The targets this benchmark checks (ratios, so they hold across machines) and the one
# absolute budget: a cache hit is a lookup plus the time checks.
COLD_TARGET = {"RS256": 1.6, "ES256": 1.2, "EdDSA": 1.2}
# Several issuers (the fixed list, or a resolver that already knows the iss) cost at most
# this much more than one issuer for a new token.
SEVERAL_ISSUERS_TARGET = 1.05
PYJWT_RS256_TARGET = 2.0
WARM_TARGET_US = 3.0


async def prepare_loops(
    keys: dict[str, SigningKey],
    tokens: dict[str, str],
    dpop: tuple[ProofSigner, dict[str, str]] | None = None,
) -> tuple[dict[tuple[str, str], TimedLoop], list[Any]]:
    """Every (path, algorithm) loop, checked once before timing; and what must be closed.

    The DPoP rows need ``dpop``: the proof signer and the tokens bound to its key, by
    algorithm. Without it they are left out (``instructions.py`` leaves them out: their
    loops sign proofs before timing, which a count of the whole loop would include).
    """
    endpoint = JWKSEndpoint(list(keys.values()), clock=lambda: 0.0)
    client = endpoint.client()
    options: dict[str, Any] = {
        "issuer": ISSUER,
        "audience": AUDIENCE,
        "namespace": NAMESPACE,
        "jwks_uri": JWKS_URL,
        "http_client": client,
    }
    cold = TokenVerifier(**options, token_cache_size=0)
    warm = TokenVerifier(**options)
    # The several-issuer rows are timed right after claimguard cold, turn by turn, so each
    # of their repeats has a neighbour of claimguard cold to be compared with.
    verifiers = [(COLD, cold), *_several_issuers(client), (WARM, warm)]
    dpop_verifiers = [
        (path, TokenVerifier(**options, **cache, dpop_replay_store=_replay_store()))
        for path, cache in ((DPOP_COLD, {"token_cache_size": 0}), (DPOP_WARM, {}))
        if dpop is not None
    ]
    provider = _meter_provider()
    if provider is not None:
        verifiers.append(
            (COLD_OTEL, TokenVerifier(**options, token_cache_size=0, metrics=provider))
        )
        verifiers.append((WARM_OTEL, TokenVerifier(**options, metrics=provider)))
    loops: dict[tuple[str, str], TimedLoop] = {}
    for alg in ALGORITHMS:
        key, token = keys[alg], tokens[alg]
        floor = Floor(key, token)
        floor.verify()
        loops[FLOOR, alg] = sync_loop(floor.verify)
        minimal = minimal_verifier(key)
        if minimal(token)["sub"] != key.claims()["sub"]:
            raise AssertionError(f"the minimal verifier returned the wrong claims for {alg}")
        loops[MINIMAL, alg] = sync_loop(partial(minimal, token))
        for path, verifier in verifiers:
            claims = await verifier.verify(token)
            if claims["sub"] != key.claims()["sub"]:
                raise AssertionError(f"{path} returned the wrong claims for {alg}")
            loops[path, alg] = async_loop(verifier.verify, token)
        for path, verifier in dpop_verifiers:
            assert dpop is not None
            signer, bound_tokens = dpop
            loop = dpop_loop(verifier.verify_dpop, bound_tokens[alg], signer)
            await loop(1)
            loops[path, alg] = loop
        for peer in PEERS:
            verify = peer_verifier(peer, key, token)
            if verify is not None:
                loops[peer, alg] = sync_loop(verify)
    verifiers += dpop_verifiers
    if endpoint.fetches > len(verifiers):
        raise AssertionError(f"expected one JWKS fetch per verifier, saw {endpoint.fetches}")
    return loops, [verifier for _, verifier in verifiers] + [client]


def _replay_store() -> MemoryReplayStore:
    return MemoryReplayStore(max_entries=_REPLAY_ENTRIES, max_entries_per_key=_REPLAY_ENTRIES)


def _issuer_config(issuer: str) -> IssuerConfig:
    return IssuerConfig(issuer=issuer, audience=AUDIENCE, namespace=NAMESPACE, jwks_uri=JWKS_URL)


def _several_issuers(client: Any) -> list[tuple[str, TokenVerifier]]:
    """The cold verifiers with several issuers: a fixed list with the token's issuer last,
    and a resolver (warmed by the check in :func:`prepare_loops`)."""
    others = [f"https://tenant-{n}.example.auth0.com/" for n in (1, 2)]
    fixed = TokenVerifier(
        issuers=[*map(_issuer_config, others), _issuer_config(ISSUER)],
        http_client=client,
        token_cache_size=0,
    )

    async def resolve(iss: str) -> IssuerConfig | None:
        return _issuer_config(iss) if iss == ISSUER else None

    resolved = TokenVerifier(issuer_resolver=resolve, http_client=client, token_cache_size=0)
    return [(COLD_ISSUERS, fixed), (COLD_RESOLVER, resolved)]


def _meter_provider() -> Any:
    """An SDK meter provider with an in-memory reader, or ``None`` without the SDK."""
    try:
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    except ImportError:
        print("note: opentelemetry-sdk is not installed; the otel rows are skipped", flush=True)
        return None
    return MeterProvider(metric_readers=[InMemoryMetricReader()])


async def measure(*, repeats: int, repeat_seconds: float) -> dict[tuple[str, str], Sample]:
    """Measure every path for every algorithm in one run; missing pairs are unsupported."""
    keys = {alg: make_key(alg) for alg in ALGORITHMS}
    tokens = {alg: key.mint() for alg, key in keys.items()}
    signer = ProofSigner(make_key("ES256"))
    bound = {alg: key.mint(key.claims(cnf={"jkt": signer.jkt})) for alg, key in keys.items()}
    loops, resources = await prepare_loops(keys, tokens, (signer, bound))
    try:
        return await measure_together(loops, repeats=repeats, repeat_seconds=repeat_seconds)
    finally:
        for resource in resources:
            await resource.aclose()


def _ratio(samples: dict[tuple[str, str], Sample], path: str, alg: str, base: str) -> float:
    return samples[path, alg].median_us / samples[base, alg].median_us


def _paired_ratio(samples: dict[tuple[str, str], Sample], path: str, alg: str, base: str) -> float:
    """The median over the repeats of ``path``'s time over ``base``'s in the same turn: on
    a busy machine the load changes between turns, much less between neighbours."""
    return statistics.median(
        mine / theirs
        for mine, theirs in zip(
            samples[path, alg].per_call_ns, samples[base, alg].per_call_ns, strict=True
        )
    )


def table(samples: dict[tuple[str, str], Sample]) -> str:
    """The path x algorithm table: µs/token ± spread, and the ratio to the floor."""

    def cell(path: str, alg: str) -> tuple[str, str] | None:
        sample = samples.get((path, alg))
        if sample is None:
            return None
        ratio = _ratio(samples, path, alg, FLOOR)
        return f"{sample.median_us:.2f} ±{sample.spread_pct:.0f}%", f"{ratio:.2f}x"

    return path_table(PATHS, ALGORITHMS, "µs", cell)


def comparisons(samples: dict[tuple[str, str], Sample]) -> list[str]:
    """How claimguard cold compares with the yardstick and with each peer."""
    strictness = ", ".join(
        f"{_ratio(samples, COLD, alg, MINIMAL):.2f}x ({alg})" for alg in ALGORITHMS
    )
    lines = [f"claimguard cold costs the minimal yardstick times {strictness}"]
    for plain, metered in ((COLD, COLD_OTEL), (WARM, WARM_OTEL)):
        if all((metered, alg) in samples for alg in ALGORITHMS):
            extra = ", ".join(
                f"{samples[metered, alg].median_us - samples[plain, alg].median_us:+.2f} µs ({alg})"
                for alg in ALGORITHMS
            )
            lines.append(f"otel metrics add to {plain}: {extra}")
    for several in (COLD_ISSUERS, COLD_RESOLVER):
        extra = ", ".join(
            f"{100 * (_paired_ratio(samples, several, alg, COLD) - 1):+.1f} % ({alg})"
            for alg in ALGORITHMS
        )
        lines.append(f"{several} adds to {COLD} (median of paired repeats): {extra}")
    for dpop, bearer in DPOP_BASES.items():
        ratios = ", ".join(
            f"{_paired_ratio(samples, dpop, alg, bearer):.2f}x ({alg})" for alg in ALGORITHMS
        )
        lines.append(f"{dpop} costs {bearer} times (median of paired repeats): {ratios}")
    for peer in PEERS:
        parts = [
            f"{_ratio(samples, peer, alg, COLD):.2f}x ({alg})"
            for alg in ALGORITHMS
            if (peer, alg) in samples
        ]
        lines.append(f"claimguard cold is faster than {peer} by " + ", ".join(parts))
    return lines


def targets(samples: dict[tuple[str, str], Sample]) -> list[tuple[str, bool]]:
    """Each target with whether this run met it."""
    checks = []
    for alg in ALGORITHMS:
        ratio = _ratio(samples, COLD, alg, FLOOR)
        limit = COLD_TARGET[alg]
        text = f"cold {alg} ≤ {limit}x floor: {ratio:.2f}x"
        minimal = _ratio(samples, MINIMAL, alg, FLOOR)
        if ratio > limit and minimal > limit:
            text += f" (the minimal yardstick itself is {minimal:.2f}x on this machine)"
        checks.append((text, ratio <= limit))
    speedup = _ratio(samples, "PyJWT", "RS256", COLD)
    checks.append(
        (f"cold RS256 ≥ {PYJWT_RS256_TARGET}x faster than PyJWT: {speedup:.2f}x", speedup >= 2)
    )
    for peer in PEERS:
        slower = [
            alg
            for alg in ALGORITHMS
            if (peer, alg) in samples and _ratio(samples, peer, alg, COLD) <= 1
        ]
        detail = "every algorithm" if not slower else "not for " + ", ".join(slower)
        checks.append((f"cold faster than {peer}: {detail}", not slower))
    for path in (COLD_ISSUERS, COLD_RESOLVER):
        ratios = [_paired_ratio(samples, path, alg, COLD) for alg in ALGORITHMS]
        detail = ", ".join(f"{r:.3f}x ({alg})" for r, alg in zip(ratios, ALGORITHMS, strict=True))
        checks.append(
            (
                f"{path} ≤ {SEVERAL_ISSUERS_TARGET}x claimguard cold: {detail}",
                max(ratios) <= SEVERAL_ISSUERS_TARGET,
            )
        )
    for alg in ALGORITHMS:
        warm = samples[WARM, alg].median_us
        checks.append(
            (f"warm {alg} ≤ {WARM_TARGET_US:g} µs: {warm:.2f} µs", warm <= WARM_TARGET_US)
        )
    return checks


def report(samples: dict[tuple[str, str], Sample], *, repeats: int) -> str:
    lines = [
        f"Verification cost per token (median of {repeats} repeats, ± half their range)",
        "",
        table(samples),
        "",
        *comparisons(samples),
        "",
        "targets:",
        *(f"  [{'met' if met else 'MISSED'}] {text}" for text, met in targets(samples)),
    ]
    return "\n".join(lines)


def to_json(samples: dict[tuple[str, str], Sample]) -> dict[str, Any]:
    results: dict[str, dict[str, Any]] = {}
    for (path, alg), sample in samples.items():
        entry = sample.as_dict()
        entry["ratio_to_floor"] = round(_ratio(samples, path, alg, FLOOR), 3)
        results.setdefault(path, {})[alg] = entry
    return {
        "results": results,
        "dpop_over_bearer": {
            dpop: {alg: round(_paired_ratio(samples, dpop, alg, bearer), 3) for alg in ALGORITHMS}
            for dpop, bearer in DPOP_BASES.items()
        },
        "targets": [{"target": text, "met": met} for text, met in targets(samples)],
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="few short repeats (smoke run)")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    parser.add_argument(
        "--repeats", type=int, default=15, help="repeats per cell (more on a busy machine)"
    )
    args = parser.parse_args(argv)
    repeats, repeat_seconds = (3, 0.01) if args.quick else (args.repeats, 0.1)
    print(describe(), end="\n\n", flush=True)
    samples = asyncio.run(measure(repeats=repeats, repeat_seconds=repeat_seconds))
    print(report(samples, repeats=repeats))
    if args.json:
        write_results(args.json, "verify", to_json(samples))
    return 0


if __name__ == "__main__":
    sys.exit(main())
