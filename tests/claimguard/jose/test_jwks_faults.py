"""The JWKS cache against a real, misbehaving issuer on 127.0.0.1 (uvicorn, real HTTP).

Each fault is counted three ways: fetches the verifier made (its own state and the
server's hit counter), token checks that failed because no key could be had, and token
checks that were served. Time is a :class:`FakeClock` for the cache rules (max age,
cooldown, stale period); only the fetch deadline runs on the real clock.
"""

from __future__ import annotations

import asyncio
import gzip
import threading
from collections import Counter
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import anyio
import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from claimguard import (
    ClaimGuardMiddleware,
    InvalidToken,
    KeySetUnavailable,
    TokenVerifier,
)
from issuer import bind_socket, serve_in_thread

from ..conftest import AUDIENCE, ISSUER, FakeClock, Minter, SigningKey

pytestmark = pytest.mark.anyio

TEN_MB = 10 * 1024 * 1024


def _deadline(mode: str) -> float:
    """A short fetch deadline where the fault is slowness; elsewhere one no load can hit."""
    return 0.5 if mode == "slow" else 10.0


@cache
def _gzip_bomb() -> bytes:
    """About 20 KB on the wire, 20 MB once decompressed."""
    return gzip.compress(b'{"keys": [' + b" " * (2 * TEN_MB) + b"]}", compresslevel=9)


@dataclass
class FaultyIssuer:
    """Serves a JWKS at ``/jwks`` and misbehaves on command (``mode``); counts every hit."""

    keys: list[dict[str, Any]]
    mode: str = "ok"
    hits: Counter[str] = field(default_factory=Counter)
    release: threading.Event = field(default_factory=threading.Event)

    async def jwks(self, request: Request) -> Response:
        self.hits[request.url.path] += 1
        mode = self.mode
        if mode == "slow":
            # Held until the test ends (not a fixed sleep), far beyond the client's deadline.
            await anyio.to_thread.run_sync(self.release.wait, 60)
        if mode == "5xx":
            return JSONResponse({"error": "temporarily_unavailable"}, status_code=503)
        if mode == "invalid_json":
            return Response(b'{"keys": [', media_type="application/json")
        if mode == "empty":
            return JSONResponse({"keys": []})
        if mode == "huge":
            return Response(b'{"keys": [], "pad": "' + b"x" * TEN_MB + b'"}')
        if mode == "huge_chunked":
            return StreamingResponse(_chunks(TEN_MB), media_type="application/json")
        if mode == "gzip_bomb":
            return Response(
                _gzip_bomb(),
                media_type="application/json",
                headers={"Content-Encoding": "gzip"},
            )
        if mode == "redirect":
            return RedirectResponse("/jwks-moved", status_code=302)
        return JSONResponse({"keys": self.keys})

    async def moved(self, request: Request) -> Response:
        self.hits[request.url.path] += 1
        return JSONResponse({"keys": self.keys})

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/jwks", self.jwks), Route("/jwks-moved", self.moved)])


async def _chunks(total: int) -> AsyncIterator[bytes]:
    yield b'{"keys": [], "pad": "'
    chunk = b"x" * 65536
    for _ in range(total // len(chunk)):
        yield chunk
    yield b'"}'


@dataclass
class Tally:
    served: int = 0
    unavailable: int = 0
    refused: int = 0
    codes: Counter[str] = field(default_factory=Counter)
    retry_after_seconds: list[int] = field(default_factory=list)


async def check_all(verifier: TokenVerifier, tokens: Sequence[str]) -> Tally:
    """Verify ``tokens`` concurrently; any exception other than the two expected fails."""
    tally = Tally()

    async def one(token: str) -> None:
        try:
            await verifier.verify(token)
        except KeySetUnavailable as exc:
            tally.unavailable += 1
            tally.retry_after_seconds.append(exc.retry_after_seconds)
        except InvalidToken as exc:
            tally.refused += 1
            tally.codes[exc.code] += 1
        else:
            tally.served += 1

    async with anyio.create_task_group() as group:
        for token in tokens:
            group.start_soon(one, token)
    assert all(seconds >= 1 for seconds in tally.retry_after_seconds)
    return tally


async def fetches_reach(verifier: TokenVerifier, count: int) -> None:
    """Let the refresh that ran beside the requests finish, then check it happened."""
    with anyio.fail_after(10):
        await asyncio.gather(*verifier.key_set._background)
    assert verifier.jwks_state().fetch_count == count


@pytest.fixture
def faulty(rsa_key: SigningKey) -> Iterator[tuple[FaultyIssuer, str]]:
    server = FaultyIssuer(keys=[rsa_key.public_jwk])
    with serve_in_thread(server.app()) as base_url:
        try:
            yield server, base_url
        finally:
            server.release.set()


def make_verifier(base_url: str, clock: FakeClock, **options: Any) -> TokenVerifier:
    return TokenVerifier(
        issuer=ISSUER,
        audience=AUDIENCE,
        jwks_uri=f"{base_url}/jwks",
        clock=clock,
        token_cache_size=0,  # every check goes to the key set
        **options,
    )


# -- faults at a cold start: 503, one fetch, then recovery after the cooldown ------------


@pytest.mark.parametrize(
    ("mode", "error_says"),
    [
        ("slow", "did not answer within"),
        ("5xx", "HTTP 503"),
        ("invalid_json", "did not return JSON"),
        ("empty", "no usable key"),
        ("huge", "more than"),
        ("huge_chunked", "more than"),
        ("gzip_bomb", "once decompressed"),
        ("redirect", "HTTP 302"),
    ],
)
async def test_fault_at_cold_start_fails_once_then_recovers(
    faulty: tuple[FaultyIssuer, str], clock: FakeClock, mint: Minter, mode: str, error_says: str
) -> None:
    server, base_url = faulty
    server.mode = mode
    tokens = [mint(claims={"n": i}) for i in range(8)]
    async with make_verifier(base_url, clock, jwks_timeout_seconds=_deadline(mode)) as verifier:
        tally = await check_all(verifier, tokens)
        assert (tally.served, tally.unavailable, tally.refused) == (0, 8, 0)
        state = verifier.jwks_state()
        assert state.fetch_count == 1  # eight concurrent misses share one fetch
        assert state.last_error is not None
        assert error_says in state.last_error
        assert server.hits["/jwks"] == 1
        assert server.hits["/jwks-moved"] == 0  # redirects are never followed

        # Within the cooldown nobody fetches again, whatever the traffic.
        clock.advance(10)
        tally = await check_all(verifier, tokens)
        assert (tally.served, tally.unavailable) == (0, 8)
        assert verifier.jwks_state().fetch_count == 1
        assert server.hits["/jwks"] == 1

        server.mode = "ok"
        clock.advance(verifier.key_set._cooldown)
        tally = await check_all(verifier, tokens)
        assert (tally.served, tally.unavailable, tally.refused) == (8, 0, 0)
        assert verifier.jwks_state().fetch_count == 2
        assert verifier.jwks_state().last_error is None
        assert server.hits["/jwks"] == 2


# -- faults after a good fetch: the last good keys keep serving --------------------------


@pytest.mark.parametrize("mode", ["slow", "5xx", "invalid_json", "empty", "gzip_bomb"])
async def test_fault_after_a_good_fetch_keeps_serving_stale_keys(
    faulty: tuple[FaultyIssuer, str], clock: FakeClock, mint: Minter, mode: str
) -> None:
    server, base_url = faulty
    tokens = [mint(claims={"n": i}) for i in range(6)]
    async with make_verifier(base_url, clock, jwks_timeout_seconds=_deadline(mode)) as verifier:
        assert (await check_all(verifier, tokens)).served == 6
        assert verifier.jwks_state().fetch_count == 1

        server.mode = mode
        clock.advance(601)  # past jwks_max_age_seconds: a refresh is due
        tally = await check_all(verifier, tokens)
        assert (tally.served, tally.unavailable, tally.refused) == (6, 0, 0)
        await fetches_reach(verifier, 2)
        state = verifier.jwks_state()
        assert state.fetch_count == 2  # six requests, one refresh attempt
        assert state.last_error is not None
        assert state.kids == ("rsa-1",)
        assert server.hits["/jwks"] == 2

        tally = await check_all(verifier, tokens)
        assert tally.served == 6
        assert verifier.jwks_state().fetch_count == 2  # cooldown holds further attempts


# -- rotation while requests flow ------------------------------------------------------------


async def test_rotation_while_requests_flow(
    faulty: tuple[FaultyIssuer, str],
    clock: FakeClock,
    mint: Minter,
    rsa_key: SigningKey,
    rsa_key_2: SigningKey,
) -> None:
    server, base_url = faulty
    old = [mint(claims={"n": i}) for i in range(10)]
    new = [mint(key=rsa_key_2, claims={"n": i}) for i in range(10)]
    async with make_verifier(base_url, clock) as verifier:
        assert (await check_all(verifier, old)).served == 10
        assert verifier.jwks_state().fetch_count == 1

        # The issuer publishes the next key and starts signing with it.
        server.keys = [rsa_key.public_jwk, rsa_key_2.public_jwk]
        clock.advance(31)  # past the cooldown
        tally = await check_all(verifier, [t for pair in zip(old, new, strict=True) for t in pair])
        assert (tally.served, tally.unavailable, tally.refused) == (20, 0, 0)
        assert verifier.jwks_state().fetch_count == 2  # ten misses on rsa-2, one fetch
        assert server.hits["/jwks"] == 2

        # The old key is retired; at the next refresh its tokens stop verifying.
        server.keys = [rsa_key_2.public_jwk]
        clock.advance(601)
        await check_all(verifier, new[:1])
        await fetches_reach(verifier, 3)
        assert verifier.jwks_state().kids == ("rsa-2",)
        tally = await check_all(verifier, old + new)
        assert (tally.served, tally.unavailable, tally.refused) == (10, 0, 10)
        assert tally.codes == Counter({"unknown_kid": 10})
        assert verifier.jwks_state().fetch_count == 3
        assert server.hits["/jwks"] == 3


# -- the issuer is down -----------------------------------------------------------------------


@pytest.fixture
def closed_port_url() -> str:
    """A loopback URL on which nothing listens (connection refused)."""
    sock = bind_socket()
    host, port = sock.getsockname()[:2]
    sock.close()
    return f"http://{host}:{port}"


@pytest.fixture
async def guarded(
    closed_port_url: str, clock: FakeClock
) -> AsyncIterator[tuple[httpx.AsyncClient, TokenVerifier]]:
    async def hello(request: Request) -> JSONResponse:
        return JSONResponse({"sub": request.user.identity})

    async with make_verifier(closed_port_url, clock) as verifier:
        app = ClaimGuardMiddleware(Starlette(routes=[Route("/", hello)]), verifier=verifier)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            yield client, verifier


async def test_issuer_down_at_cold_start_answers_503_with_retry_after(
    guarded: tuple[httpx.AsyncClient, TokenVerifier], mint: Minter
) -> None:
    client, verifier = guarded
    headers = {"Authorization": f"Bearer {mint()}"}
    statuses = Counter()
    for _ in range(5):
        response = await client.get("/", headers=headers)
        statuses[response.status_code] += 1
        assert response.status_code == 503
        assert int(response.headers["retry-after"]) >= 1
    assert statuses == Counter({503: 5})
    state = verifier.jwks_state()
    assert state.fetch_count == 1
    assert state.last_error is not None
    assert "ConnectError" in state.last_error


async def test_issuer_down_after_a_good_fetch_keeps_serving_until_the_stale_limit(
    rsa_key: SigningKey, clock: FakeClock, mint: Minter
) -> None:
    server = FaultyIssuer(keys=[rsa_key.public_jwk])
    tokens = [mint(claims={"n": i}) for i in range(5)]
    with serve_in_thread(server.app()) as base_url:
        verifier = make_verifier(base_url, clock, jwks_stale_seconds=3600)
        assert (await check_all(verifier, tokens)).served == 5
    async with verifier:  # the server is gone: connection refused from here on
        clock.advance(601)
        tally = await check_all(verifier, tokens)
        assert (tally.served, tally.unavailable, tally.refused) == (5, 0, 0)
        await fetches_reach(verifier, 2)
        assert verifier.jwks_state().fetch_count == 2
        assert verifier.jwks_state().last_error is not None

        clock.advance(3600)  # past max age + stale period: nothing trustworthy is left
        tally = await check_all(verifier, tokens)
        assert (tally.served, tally.unavailable, tally.refused) == (0, 5, 0)
        assert verifier.jwks_state().fetch_count == 3
    assert server.hits["/jwks"] == 1
