"""Load with faults: concurrent clients through uvicorn while the issuer rotates its keys
and its JWKS endpoint goes down for part of the window.

    python benchmarks/load_with_faults.py [--quick] [--seconds S] [--clients N]
                                          [--max-requests N] [--json FILE]

The bundled issuer runs under uvicorn on 127.0.0.1 in a thread of this process, behind a
switch that can answer 503 for its JWKS. A protected Starlette API (``ClaimGuardMiddleware``,
a ``TokenVerifier`` with a 2 s JWKS max age and a 0.5 s cooldown) runs under uvicorn in a
child process. The clients (keep-alive HTTP/1.1 connections, one each) run in this
process's event loop and send distinct valid tokens minted by the issuer all along (85 %)
and tokens that must get 401 (15 %: tampered, expired, unknown kid, alg none, malformed,
wrong issuer or audience). Meanwhile, at fixed fractions of the window:

  15 %  the issuer publishes its next key (once the API has fetched it, the run goes on)
  30 %  the JWKS endpoint answers 503
  40 %  the issuer signs with the new key; its tokens start flowing at once
  65 %  the JWKS endpoint is back
  75 %  a second rotation, published first, then signing

Pass: no 5xx, no valid token refused, no invalid token accepted, no transport error, and
JWKS fetches within one per cooldown (plus the first). Exit status 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import random
import statistics
import sys
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from _child import child_process, serve_and_announce
from _faults import JWKS_PATH, JwksSwitch, invalid_tokens
from _http1 import Connection
from _machine import describe, write_results
from _table import render_table
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from claimguard import ClaimGuardMiddleware, TokenVerifier
from issuer import Issuer, bind_socket, serve_in_thread

AUDIENCE = "https://api.example.com"
OTHER_AUDIENCE = "https://other.example.com"
MAX_AGE_SECONDS = 2.0
REFRESH_AHEAD_SECONDS = 1.0
COOLDOWN_SECONDS = 0.5
VALID_SHARE = 0.85
MINTS_PER_SECOND = 50


def protected_api(issuer_url: str) -> Any:
    """The API under load: ``/messages`` behind the middleware, ``/state`` for the driver."""
    verifier = TokenVerifier(
        issuer=issuer_url,
        audience=AUDIENCE,
        jwks_uri=issuer_url + JWKS_PATH.lstrip("/"),
        jwks_max_age_seconds=MAX_AGE_SECONDS,
        jwks_refresh_ahead_seconds=REFRESH_AHEAD_SECONDS,
        jwks_cooldown_seconds=COOLDOWN_SECONDS,
        jwks_timeout_seconds=2,
    )

    async def messages(request: Request) -> Response:
        return JSONResponse({"sub": request.user.claims.subject})

    async def state(request: Request) -> Response:
        snapshot = verifier.key_set.state()
        return JSONResponse({"fetch_count": snapshot.fetch_count, "kids": list(snapshot.kids)})

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with verifier:
            yield

    app = Starlette(
        routes=[Route("/messages", messages), Route("/state", state)], lifespan=lifespan
    )
    return ClaimGuardMiddleware(app, verifier=verifier, public_paths=["/state"])


@contextlib.contextmanager
def api_process(issuer_url: str) -> Iterator[int]:
    """Run the API in a child process; yield its port on 127.0.0.1; stop it on exit."""
    with child_process([os.path.abspath(__file__), "--serve-api", issuer_url]) as url:
        yield int(url.rsplit(":", 1)[1])


async def api_state(port: int) -> dict[str, Any]:
    async with Connection(port) as connection:
        status, body = await connection.get("/state", {})
    if status != 200:
        raise RuntimeError(f"the API's /state answered {status}")
    return dict(json.loads(body))


@dataclass
class Run:
    """Shared state of one run: phases, token pools and every request's outcome."""

    issuer: Issuer
    api_port: int
    switch: JwksSwitch
    invalid: dict[str, str]
    phases: list[tuple[str, float]] = field(default_factory=list)
    pools: list[list[str]] = field(default_factory=list)
    outage_key_pool: int | None = None
    # (phase index, valid?, status or 0 for a transport error, latency ms, pool index)
    results: list[tuple[int, bool, int, float, int]] = field(default_factory=list)
    started: float = 0.0

    def phase(self, name: str) -> None:
        self.phases.append((name, time.perf_counter() - self.started))

    async def mint(self) -> str:
        tokens = await self.issuer.login(
            "load@example.com", client_id="load", audience=AUDIENCE, scope="read:messages"
        )
        return tokens.access_token

    async def new_pool(self, size: int) -> None:
        self.pools.append([await self.mint() for _ in range(size)])


async def minter(run: Run, deadline: float) -> None:
    """Keep adding never-seen tokens of the current key, so key lookups never stop."""
    while time.perf_counter() < deadline:
        run.pools[-1].append(await run.mint())
        await asyncio.sleep(1 / MINTS_PER_SECOND)


async def wait_until_published(run: Run, kid: str, limit_seconds: float) -> None:
    give_up = time.perf_counter() + limit_seconds
    while kid not in (await api_state(run.api_port))["kids"]:
        if time.perf_counter() > give_up:
            raise SystemExit(f"the API did not fetch the next key {kid} in {limit_seconds} s")
        await asyncio.sleep(0.02)


async def rotate(run: Run, pool_size: int, *, published: bool) -> None:
    if published:
        await wait_until_published(run, run.issuer.prepare_rotation().kid, 10 * MAX_AGE_SECONDS)
    run.issuer.rotate_keys()
    await run.new_pool(pool_size)


async def timeline(run: Run, seconds: float, pool_size: int, *, announce: bool) -> None:
    """The faults. Without ``announce`` the first new key signs before it is published,
    during the outage: the API cannot learn it, so valid tokens are refused (a FAIL run)."""

    async def at(fraction: float) -> None:
        await asyncio.sleep(max(0.0, run.started + fraction * seconds - time.perf_counter()))

    await at(0.15)
    if announce:
        run.phase("next key published")
        await wait_until_published(run, run.issuer.prepare_rotation().kid, 10 * MAX_AGE_SECONDS)
    await at(0.30)
    run.switch.down = True
    run.phase("JWKS down")
    await at(0.40)
    run.phase("JWKS down, new key signing")
    await rotate(run, pool_size, published=False)  # prepared above, if announced
    run.outage_key_pool = len(run.pools) - 1
    await at(0.65)
    run.switch.down = False
    run.phase("JWKS back")
    await at(0.75)
    run.phase("second rotation")
    await rotate(run, pool_size, published=True)


async def client_loop(run: Run, rng: random.Random, stop: dict[str, Any]) -> None:
    invalid = list(run.invalid.values())
    async with Connection(run.api_port) as connection:
        while time.perf_counter() < stop["deadline"] and stop["left"] > 0:
            stop["left"] -= 1
            valid = rng.random() < VALID_SHARE
            pool_index = -1
            if valid:
                newest = len(run.pools) - 1
                pool_index = newest if rng.random() < 0.8 else rng.randrange(len(run.pools))
                pool = run.pools[pool_index]
                # Half the time one of the newest tokens: most likely never verified yet.
                token = rng.choice(pool[-20:] if rng.random() < 0.5 else pool)
            else:
                token = rng.choice(invalid)
            phase = len(run.phases) - 1
            began = time.perf_counter()
            try:
                status, _ = await connection.get("/messages", {"Authorization": f"Bearer {token}"})
            except OSError:
                status = 0
            elapsed_ms = (time.perf_counter() - began) * 1e3
            run.results.append((phase, valid, status, elapsed_ms, pool_index))


async def drive(
    run: Run, *, seconds: float, clients: int, max_requests: int, pool_size: int, announce: bool
) -> float:
    run.started = time.perf_counter()
    run.phase("steady, first key")
    deadline = run.started + seconds
    stop: dict[str, Any] = {"deadline": deadline, "left": max_requests}
    await asyncio.gather(
        timeline(run, seconds, pool_size, announce=announce),
        minter(run, deadline),
        *(client_loop(run, random.Random(seed), stop) for seed in range(clients)),
    )
    return time.perf_counter() - run.started


def percentiles(latencies: Sequence[float]) -> tuple[str, str]:
    if len(latencies) < 2:
        return ("n/a", "n/a")
    cuts = statistics.quantiles(latencies, n=100)
    return (f"{cuts[49]:.2f}", f"{cuts[98]:.2f}")


def phase_rows(run: Run) -> list[list[str]]:
    rows = []
    groups = [(name, start, index) for index, (name, start) in enumerate(run.phases)]
    for name, start, index in [*groups, ("all", 0.0, None)]:
        chosen = [r for r in run.results if index is None or r[0] == index]
        statuses = [r[2] for r in chosen]
        p50, p99 = percentiles([r[3] for r in chosen])
        rows.append(
            [
                name,
                f"{start:.1f}",
                f"{len(chosen):,}",
                f"{statuses.count(200):,}",
                f"{statuses.count(401):,}",
                f"{sum(1 for s in statuses if s >= 500):,}",
                f"{sum(1 for s in statuses if s not in (200, 401) and s < 500):,}",
                p50,
                p99,
            ]
        )
    return rows


def checks(run: Run, elapsed: float, fetches: int) -> list[tuple[str, int, str, bool]]:
    """(check, observed, rule, passed)."""
    results = run.results
    bound = 1 + math.ceil(elapsed / COOLDOWN_SECONDS)
    outage_phase = [name for name, _ in run.phases].index("JWKS down, new key signing")
    new_key_ok = sum(
        1
        for phase, valid, status, _, pool in results
        if valid and status == 200 and pool == run.outage_key_pool and phase == outage_phase
    )
    rows = [
        ("5xx responses", sum(1 for r in results if r[2] >= 500), "= 0"),
        ("valid tokens refused", sum(1 for r in results if r[1] and r[2] != 200), "= 0"),
        ("invalid tokens not answered 401",
         sum(1 for r in results if not r[1] and r[2] != 401), "= 0"),
        ("transport errors", sum(1 for r in results if r[2] == 0), "= 0"),
        ("JWKS fetches by the API", fetches, f"<= {bound}"),
        ("JWKS requests refused (503) in the outage", run.switch.refused, ">= 1"),
        ("new-key tokens accepted while JWKS down", new_key_ok, ">= 1"),
    ]  # fmt: skip
    verdicts = []
    for name, observed, rule in rows:
        limit = bound if rule.startswith("<=") else int(rule.split()[-1])
        passed = {"=": observed == limit, "<=": observed <= limit, ">=": observed >= limit}[
            rule.split()[0]
        ]
        verdicts.append((name, observed, rule, passed))
    return verdicts


async def measure(args: argparse.Namespace) -> tuple[Run, float, int]:
    """Run the load; return the run, its length in seconds and the API's JWKS fetches."""
    with bind_socket("127.0.0.1", 0) as sock:
        host, port = sock.getsockname()[:2]
        issuer = Issuer(issuer_url=f"http://{host}:{port}/", signing_alg="ES256")
        issuer.add_api(AUDIENCE, scopes=["read:messages"])
        issuer.add_api(OTHER_AUDIENCE, scopes=["read:messages"])
        issuer.add_client("load", client_secret="load-secret", grant_types=["refresh_token"])
        issuer.add_user("load@example.com", password="load-password")
        switch = JwksSwitch(issuer.app)
        with serve_in_thread(switch, sock=sock), api_process(issuer.url) as api_port:
            wrong = await issuer.login(
                "load@example.com", client_id="load", audience=OTHER_AUDIENCE, scope=""
            )
            invalid = invalid_tokens(
                issuer, audience=AUDIENCE, wrong_audience_token=wrong.access_token
            )
            run = Run(issuer, api_port, switch, invalid)
            await run.new_pool(args.pool_size)
            elapsed = await drive(
                run,
                seconds=args.seconds,
                clients=args.clients,
                max_requests=args.max_requests,
                pool_size=args.pool_size,
                announce=not args.unannounced_rotation,
            )
            fetches = int((await api_state(api_port))["fetch_count"])
    return run, elapsed, fetches


def report(run: Run, elapsed: float, verdicts: list[tuple[str, int, str, bool]]) -> str:
    header = ["phase", "from s", "requests", "200", "401", "5xx", "other", "p50 ms", "p99 ms"]
    distinct = sum(len(pool) for pool in run.pools)
    lines = [
        f"Load with faults: {elapsed:.1f} s, {len(run.results):,} requests, "
        f"{distinct:,} distinct valid tokens over {len(run.pools)} keys, "
        f"{len(run.invalid)} kinds of invalid token; JWKS max age {MAX_AGE_SECONDS:g} s, "
        f"cooldown {COOLDOWN_SECONDS:g} s",
        "",
        render_table(header, phase_rows(run)),
        "",
        render_table(
            ["check", "observed", "rule", "result"],
            [[n, f"{o:,}", r, "pass" if p else "FAIL"] for n, o, r, p in verdicts],
        ),
        "",
        f"JWKS requests at the issuer: {run.switch.served} served, {run.switch.refused} refused",
        "PASS" if all(v[3] for v in verdicts) else "FAIL",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="5 s instead of 20 s")
    parser.add_argument("--seconds", type=float, help="length of the window (default 20)")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients")
    parser.add_argument("--max-requests", type=int, default=1_000_000, help="stop after N")
    parser.add_argument("--pool-size", type=int, default=200, help="tokens minted per key up front")
    parser.add_argument(
        "--unannounced-rotation",
        action="store_true",
        help="sign with a key nobody could fetch (JWKS down): shows that the checks fail",
    )
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    parser.add_argument("--serve-api", metavar="ISSUER_URL", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_api:
        serve_and_announce(protected_api(args.serve_api))
        return 0
    args.seconds = args.seconds or (5.0 if args.quick else 20.0)
    if not 1 <= args.clients <= 256 or args.seconds <= 0 or args.max_requests < 1:
        parser.error("--clients must be 1..256; --seconds and --max-requests positive")
    print(describe(), end="\n\n", flush=True)
    run, elapsed, fetches = asyncio.run(measure(args))
    verdicts = checks(run, elapsed, fetches)
    print(report(run, elapsed, verdicts))
    if args.json:
        header = ["phase", "from_s", "requests", "200", "401", "5xx", "other", "p50_ms", "p99_ms"]
        document = {
            "seconds": elapsed,
            "clients": args.clients,
            "requests": len(run.results),
            "phases": [
                dict(zip(["phase", *header[1:]], row, strict=True)) for row in phase_rows(run)
            ],
            "jwks": {"served": run.switch.served, "refused": run.switch.refused},
            "checks": [
                {"check": n, "observed": o, "rule": r, "passed": p} for n, o, r, p in verdicts
            ],
        }
        write_results(args.json, "load_with_faults", document)
    return 0 if all(v[3] for v in verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
