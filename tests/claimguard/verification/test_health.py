"""``verifier.health()``: a readiness snapshot taken without the network."""

from __future__ import annotations

import json

import pytest

from claimguard import ConfigurationError, TokenVerifier, VerifierHealth

from ..conftest import AUDIENCE, ISSUER, FakeClock, FakeIssuerEndpoints

pytestmark = pytest.mark.anyio


def _verifier(endpoints: FakeIssuerEndpoints, clock: FakeClock) -> TokenVerifier:
    return TokenVerifier(
        issuer=ISSUER,
        audience=AUDIENCE,
        http_client=endpoints.client(),
        clock=clock,
        jwks_max_age_seconds=600,
        jwks_stale_seconds=3600,
    )


async def test_health_before_any_fetch_is_not_ready_and_says_why(
    endpoints: FakeIssuerEndpoints, clock: FakeClock
) -> None:
    health = _verifier(endpoints, clock).health()
    assert health == VerifierHealth(
        ready=False,
        kids=0,
        last_fetch_age_seconds=None,
        stale=False,
        last_error=(
            f"The signing keys of issuer {ISSUER!r} have not been fetched yet: they are "
            "fetched on the first token, or at startup with preflight."
        ),
        cause="not_fetched",
    )
    assert endpoints.discovery_requests == 0


async def test_health_follows_the_keys_through_fresh_stale_and_expired(
    endpoints: FakeIssuerEndpoints, clock: FakeClock
) -> None:
    verifier = _verifier(endpoints, clock)
    await verifier.preflight()
    assert verifier.health() == VerifierHealth(
        ready=True, kids=3, last_fetch_age_seconds=0.0, stale=False, last_error=None, cause=None
    )

    clock.advance(700)
    endpoints.failing = True
    with pytest.raises(ConfigurationError):
        await verifier.preflight()
    health = verifier.health()
    assert (health.ready, health.stale, health.last_fetch_age_seconds) == (True, True, 700.0)
    assert health.cause == "unreachable"
    assert health.last_error is not None
    assert "ConnectError" in health.last_error

    clock.advance(600 + 3600)  # beyond max age plus the stale period: nothing usable
    assert not verifier.health().ready


async def test_health_as_dict_is_json(endpoints: FakeIssuerEndpoints, clock: FakeClock) -> None:
    endpoints.keys = []
    verifier = _verifier(endpoints, clock)
    with pytest.raises(ConfigurationError):
        await verifier.preflight()
    document = json.loads(json.dumps(verifier.health().as_dict()))
    assert document == {
        "ready": False,
        "kids": 0,
        "last_fetch_age_seconds": None,
        "stale": False,
        "last_error": f"JWKS at {ISSUER}.well-known/jwks.json has no usable key: it is empty",
        "cause": "no_usable_keys",
    }
