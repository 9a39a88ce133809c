"""``verifier.preflight()`` and ``ClaimGuardMiddleware(..., preflight=True)``: a wrong issuer
stops startup with the precise cause instead of answering 503 later."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient
from starlette.types import Message, Receive, Scope, Send

from claimguard import ClaimGuardMiddleware, ConfigurationError, TokenVerifier

from ..conftest import AUDIENCE, ISSUER, FakeClock, FakeIssuerEndpoints

pytestmark = pytest.mark.anyio


def _verifier(endpoints: FakeIssuerEndpoints, clock: FakeClock, **options: Any) -> TokenVerifier:
    options.setdefault("issuer", ISSUER)
    return TokenVerifier(audience=AUDIENCE, http_client=endpoints.client(), clock=clock, **options)


async def test_preflight_fetches_the_keys_now(
    endpoints: FakeIssuerEndpoints, clock: FakeClock
) -> None:
    verifier = _verifier(endpoints, clock)
    await verifier.preflight()
    assert verifier.jwks_state().kids == ("rsa-1", "ec-1", "ed-1")
    assert (endpoints.discovery_requests, endpoints.jwks_requests) == (1, 1)


async def test_preflight_ignores_the_cooldown(
    endpoints: FakeIssuerEndpoints, clock: FakeClock
) -> None:
    verifier = _verifier(endpoints, clock)
    endpoints.failing = True
    with pytest.raises(ConfigurationError):
        await verifier.preflight()
    endpoints.failing = False
    await verifier.preflight()  # at once: a startup check does not wait out the cooldown
    assert verifier.health().ready


@pytest.mark.parametrize(
    ("break_it", "says"),
    [
        (lambda e: setattr(e, "failing", True), "could not be fetched: ConnectError"),
        (lambda e: setattr(e, "issuer", "https://issuer.example.com"), "check the trailing slash"),
        (lambda e: setattr(e, "keys", []), "jwks.json has no usable key: it is empty"),
        (lambda e: setattr(e, "jwks_status", 500), "jwks.json answered HTTP 500"),
    ],
)
async def test_preflight_raises_the_precise_cause(
    endpoints: FakeIssuerEndpoints, clock: FakeClock, break_it: Any, says: str
) -> None:
    break_it(endpoints)
    verifier = _verifier(endpoints, clock)
    with pytest.raises(ConfigurationError) as caught:
        await verifier.preflight()
    assert caught.value.description.startswith(
        f"the signing keys of issuer {ISSUER!r} cannot be fetched: "
    )
    assert says in caught.value.description


async def test_preflight_raises_when_a_refetch_fails_though_old_keys_still_serve(
    endpoints: FakeIssuerEndpoints, clock: FakeClock
) -> None:
    verifier = _verifier(endpoints, clock)
    await verifier.preflight()
    endpoints.failing = True
    with pytest.raises(ConfigurationError, match="ConnectError"):
        await verifier.preflight()
    assert verifier.health().ready


# -- the middleware on the ASGI lifespan ------------------------------------------------------


def _lifespan_app(events: list[str]) -> Starlette:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        events.append("app started")
        yield
        events.append("app stopped")

    return Starlette(lifespan=lifespan)


async def test_startup_fails_with_the_cause_when_preflight_fails(
    endpoints: FakeIssuerEndpoints, clock: FakeClock
) -> None:
    endpoints.issuer = "https://issuer.example.com"
    events: list[str] = []
    app = ClaimGuardMiddleware(
        _lifespan_app(events), verifier=_verifier(endpoints, clock), preflight=True
    )
    with pytest.raises(ConfigurationError, match="check the trailing slash"), TestClient(app):
        pass
    assert events == []  # the app never started


async def test_startup_runs_the_app_after_a_good_preflight(
    endpoints: FakeIssuerEndpoints, clock: FakeClock
) -> None:
    events: list[str] = []
    verifier = _verifier(endpoints, clock)
    app = ClaimGuardMiddleware(_lifespan_app(events), verifier=verifier, preflight=True)
    with TestClient(app):
        assert events == ["app started"]
        assert verifier.jwks_state().fetch_count == 1
    assert events == ["app started", "app stopped"]


async def test_the_server_is_sent_startup_failed_with_the_message(
    endpoints: FakeIssuerEndpoints, clock: FakeClock
) -> None:
    endpoints.failing = True
    called: list[Scope] = []

    async def inner(scope: Scope, receive: Receive, send: Send) -> None:
        called.append(scope)

    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "lifespan.startup"}

    async def send(message: Message) -> None:
        sent.append(message)

    app = ClaimGuardMiddleware(inner, verifier=_verifier(endpoints, clock), preflight=True)
    with pytest.raises(ConfigurationError):
        await app({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send)
    [failed] = sent
    assert failed["type"] == "lifespan.startup.failed"
    assert "could not be fetched: ConnectError" in failed["message"]
    assert called == []


async def test_without_preflight_lifespan_passes_through_and_fetches_nothing(
    endpoints: FakeIssuerEndpoints, clock: FakeClock
) -> None:
    events: list[str] = []
    verifier = _verifier(endpoints, clock)
    with TestClient(ClaimGuardMiddleware(_lifespan_app(events), verifier=verifier)):
        assert events == ["app started"]
    assert verifier.jwks_state().fetch_count == 0


async def test_preflight_needs_a_verifier_that_has_it(verifier: TokenVerifier) -> None:
    class Bare:
        clock = verifier.clock
        verify = verifier.verify
        valid_until = verifier.valid_until

    with pytest.raises(ConfigurationError, match="preflight"):
        ClaimGuardMiddleware(Starlette(), verifier=Bare(), preflight=True)
