"""Requests per second through uvicorn with and without ``ClaimGuardMiddleware``.

    python benchmarks/middleware.py [--quick] [--seconds S] [--connections N]
                                    [--load-generator auto|wrk|python] [--json FILE]

One server process runs uvicorn on 127.0.0.1 with a trivial Starlette endpoint twice:
``/open`` as is and ``/guarded`` behind ``ClaimGuardMiddleware``. Its verifier fetches
keys from a real JWKS endpoint on loopback, served from this process. The load generator
(``wrk`` if installed, else a Python one, with the reason printed) hits each path for the
same time after a warm-up, in two halves ordered open, guarded, guarded, open, with the
same token on every guarded request (the warm path).
The server gets a process of its own, so the load generator never shares its GIL.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

import httpx
from _child import child_process, serve_and_announce
from _load import Load, python_load, wrk_load, wrk_path
from _machine import describe, write_results
from _table import render_table
from _tokens import AUDIENCE, ISSUER, NAMESPACE, make_key
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from claimguard import ClaimGuardMiddleware, TokenVerifier
from issuer import serve_in_thread

TARGET_RATIO = 0.85


def server_app(jwks_uri: str) -> Any:
    """The measured app: one endpoint, reachable unguarded at /open and guarded at /guarded."""
    verifier = TokenVerifier(
        issuer=ISSUER, audience=AUDIENCE, namespace=NAMESPACE, jwks_uri=jwks_uri
    )

    async def hello(request: Request) -> Response:
        return PlainTextResponse("hello")

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with verifier:
            yield

    plain = Starlette(routes=[Route("/open", hello), Route("/guarded", hello)], lifespan=lifespan)
    guarded = ClaimGuardMiddleware(plain, verifier=verifier)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/guarded":
            await guarded(scope, receive, send)
        else:
            await plain(scope, receive, send)

    return app


def serve(jwks_uri: str) -> None:
    """Run the measured app (the child process): print its URL, then serve until SIGTERM."""
    serve_and_announce(server_app(jwks_uri))


@contextlib.contextmanager
def server_process(jwks_uri: str) -> Iterator[str]:
    """Start :func:`serve` in a child process; yield its base URL once it answers."""
    with child_process([os.path.abspath(__file__), "--serve", jwks_uri]) as url:
        deadline = time.monotonic() + 15
        while True:
            try:
                httpx.get(url + "/open", timeout=1).raise_for_status()
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield url


def jwks_app(jwks: dict[str, Any]) -> Starlette:
    async def keys(request: Request) -> Response:
        return JSONResponse(jwks)

    return Starlette(routes=[Route("/.well-known/jwks.json", keys)])


def _check(url: str, token: str) -> None:
    """The guarded path must refuse no token and accept the benchmark's token."""
    with httpx.Client(timeout=10) as client:
        refused = client.get(url + "/guarded")
        accepted = client.get(url + "/guarded", headers={"Authorization": f"Bearer {token}"})
    if refused.status_code != 401 or accepted.status_code != 200:
        raise RuntimeError(
            f"guarded endpoint answered {refused.status_code} without a token and "
            f"{accepted.status_code} with one; expected 401 and 200"
        )


def measure(
    *, seconds: float, warmup_seconds: float, connections: int, generator: str
) -> dict[str, Load]:
    key = make_key("RS256")
    token = key.mint()
    load = wrk_load if generator == "wrk" else python_load
    with (
        serve_in_thread(jwks_app({"keys": [key.public_jwk]})) as jwks_base,
        server_process(jwks_base + "/.well-known/jwks.json") as url,
    ):
        _check(url, token)
        # Both sides send the same request, token included: the only difference is the
        # middleware, not the bytes the server has to read.
        paths = {
            "no auth (/open)": ("/open", token),
            "ClaimGuardMiddleware (/guarded)": (
                "/guarded",
                token,
            ),
        }
        for path, bearer in paths.values():
            load(url + path, token=bearer, seconds=warmup_seconds, connections=connections)
        # A B B A: drift in the machine's speed (other processes) weighs on both sides alike.
        runs: dict[str, list[Load]] = {side: [] for side in paths}
        for side in [*paths, *reversed(paths)]:
            path, bearer = paths[side]
            runs[side].append(
                load(url + path, token=bearer, seconds=seconds / 2, connections=connections)
            )
        return {side: combine(loads) for side, loads in runs.items()}


def combine(loads: Sequence[Load]) -> Load:
    """One figure from several runs: total rate; the mean of each run's percentiles."""
    seconds = sum(load.seconds for load in loads)
    requests = sum(load.requests for load in loads)
    return Load(
        requests=requests,
        seconds=seconds,
        requests_per_second=requests / seconds,
        p50_ms=statistics.fmean(load.p50_ms for load in loads),
        p99_ms=statistics.fmean(load.p99_ms for load in loads),
        failed=sum(load.failed for load in loads),
    )


def choose_generator(wanted: str) -> tuple[str, str]:
    """The load generator to use and why."""
    if wanted == "python":
        return "python", "asked for with --load-generator python"
    if wrk_path() is not None:
        return "wrk", f"found at {wrk_path()}"
    if wanted == "wrk":
        raise SystemExit("wrk is not installed (Debian: apt-get install wrk)")
    return "python", (
        "wrk is not installed (scripts/bench installs it when run as root); the Python "
        "generator shares this machine's cores and may understate both rates"
    )


def report(results: dict[str, Load], *, generator: str, reason: str, connections: int) -> str:
    open_load, auth_load = results.values()
    rows = [
        [
            side,
            f"{load.requests_per_second:,.0f}",
            f"{load.p50_ms:.2f}",
            f"{load.p99_ms:.2f}",
            f"{load.requests:,}",
            str(load.failed),
        ]
        for side, load in results.items()
    ]
    ratio = auth_load.requests_per_second / open_load.requests_per_second
    verdict = "met" if ratio >= TARGET_RATIO else "MISSED"
    return "\n".join(
        [
            f"Middleware: trivial Starlette endpoint under uvicorn on 127.0.0.1, "
            f"{connections} connections, load generator {generator} ({reason})",
            "",
            render_table(["server", "req/s", "p50 ms", "p99 ms", "requests", "failed"], rows),
            "",
            f"auth / no-auth requests per second: {ratio:.3f} "
            f"[{verdict}: ≥ {TARGET_RATIO}]; p50 {auth_load.p50_ms - open_load.p50_ms:+.2f} ms, "
            f"p99 {auth_load.p99_ms - open_load.p99_ms:+.2f} ms",
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="2 s per side instead of 6 s")
    parser.add_argument("--seconds", type=float, help="how long to load each side")
    parser.add_argument("--connections", type=int, default=16, help="concurrent connections")
    parser.add_argument(
        "--load-generator", choices=("auto", "wrk", "python"), default="auto", dest="generator"
    )
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    parser.add_argument("--serve", metavar="JWKS_URI", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve)
        return 0
    seconds = args.seconds or (2.0 if args.quick else 6.0)
    generator, reason = choose_generator(args.generator)
    print(describe(), end="\n\n", flush=True)
    results = measure(
        seconds=seconds,
        warmup_seconds=min(1.0, seconds / 2),
        connections=args.connections,
        generator=generator,
    )
    print(report(results, generator=generator, reason=reason, connections=args.connections))
    if args.json:
        document = {
            "load_generator": generator,
            "connections": args.connections,
            "seconds_per_side": seconds,
            "results": {side: vars(load) for side, load in results.items()},
        }
        write_results(args.json, "middleware", document)
    return 0


if __name__ == "__main__":
    sys.exit(main())
