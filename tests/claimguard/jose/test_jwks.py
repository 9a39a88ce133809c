from __future__ import annotations

import secrets

import anyio
import anyio.lowlevel
import httpx
import pytest

from claimguard import InvalidToken, KeySetUnavailable, TokenVerifier

from ..conftest import AUDIENCE, DROP, ISSUER, FakeClock, FakeIssuerEndpoints, Minter, SigningKey

pytestmark = pytest.mark.anyio


def _verifier(client: httpx.AsyncClient, clock: FakeClock, **options: float) -> TokenVerifier:
    return TokenVerifier(
        issuer=ISSUER, audience=AUDIENCE, http_client=client, clock=clock, **options
    )


async def test_discovery_then_jwks_is_fetched_once(
    verifier: TokenVerifier, mint: Minter, endpoints: FakeIssuerEndpoints
) -> None:
    for _ in range(5):
        await verifier.verify(mint(claims={"jti": secrets.token_hex(4)}))
    assert (endpoints.discovery_requests, endpoints.jwks_requests) == (1, 1)
    state = verifier.jwks_state()
    assert state.fetch_count == 1
    assert state.jwks_uri == ISSUER + ".well-known/jwks.json"
    assert set(state.kids) == {"rsa-1", "ec-1", "ed-1"}
    assert state.last_error is None


async def test_discovery_naming_another_issuer_is_a_failed_fetch(
    mint: Minter, clock: FakeClock, endpoints: FakeIssuerEndpoints
) -> None:
    endpoints.issuer = "https://evil.example.com/"
    async with endpoints.client() as client:
        verifier = _verifier(client, clock)
        with pytest.raises(KeySetUnavailable):
            await verifier.verify(mint())
    assert "another issuer" in (verifier.jwks_state().last_error or "")
    assert endpoints.jwks_requests == 0


async def test_rotation_new_kid_is_accepted_after_exactly_one_refetch(
    verifier: TokenVerifier,
    mint: Minter,
    endpoints: FakeIssuerEndpoints,
    clock: FakeClock,
    rsa_key_2: SigningKey,
) -> None:
    await verifier.verify(mint())
    endpoints.keys.append(rsa_key_2.public_jwk)
    clock.advance(31)  # past the cooldown that follows the first fetch
    claims = await verifier.verify(mint(key=rsa_key_2))
    assert claims.subject == "auth0|alice"
    assert endpoints.jwks_requests == 2


async def test_unknown_kid_within_cooldown_does_not_fetch(
    verifier: TokenVerifier, mint: Minter, endpoints: FakeIssuerEndpoints, rsa_key_2: SigningKey
) -> None:
    await verifier.verify(mint())
    with pytest.raises(InvalidToken) as info:
        await verifier.verify(mint(key=rsa_key_2))
    assert info.value.code == "unknown_kid"
    assert endpoints.jwks_requests == 1


async def test_flood_of_unknown_kids_costs_one_fetch_per_cooldown_window(
    verifier: TokenVerifier, mint: Minter, endpoints: FakeIssuerEndpoints, clock: FakeClock
) -> None:
    good = mint()
    await verifier.verify(good)
    bogus = [
        mint(headers={"kid": secrets.token_hex(8)}, claims={"jti": str(i)}) for i in range(1000)
    ]
    outcomes = {"refused": 0, "accepted": 0}

    async def attempt(token: str) -> None:
        try:
            await verifier.verify(token)
        except InvalidToken:
            outcomes["refused"] += 1
        else:
            outcomes["accepted"] += 1

    for window in range(3):
        clock.advance(31)
        async with anyio.create_task_group() as tg:
            for token in bogus:
                tg.start_soon(attempt, token)
                tg.start_soon(attempt, good)
        assert endpoints.jwks_requests == 1 + (window + 1)
    assert outcomes == {"refused": 3000, "accepted": 3000}


async def test_concurrent_cold_requests_share_one_fetch(
    verifier: TokenVerifier, mint: Minter, endpoints: FakeIssuerEndpoints
) -> None:
    tokens = [mint(claims={"jti": str(i)}) for i in range(50)]
    async with anyio.create_task_group() as tg:
        for token in tokens:
            tg.start_soon(verifier.verify, token)
    assert (endpoints.discovery_requests, endpoints.jwks_requests) == (1, 1)


async def test_failing_jwks_after_a_good_fetch_keeps_serving_known_keys(
    verifier: TokenVerifier, mint: Minter, endpoints: FakeIssuerEndpoints, clock: FakeClock
) -> None:
    await verifier.verify(mint())
    endpoints.failing = True
    served = 0
    for step in range(100):
        clock.advance(600)  # keys well past their max age: every window tries a refetch
        await verifier.verify(mint(claims={"jti": str(step)}))
        served += 1
        await anyio.lowlevel.checkpoint()  # let the background refresh run
    assert served == 100
    assert endpoints.jwks_requests == 1
    assert verifier.jwks_state().last_error is not None
    assert verifier.jwks_state().fetch_count > 50


async def test_stale_keys_stop_serving_after_the_stale_period(
    mint: Minter, endpoints: FakeIssuerEndpoints, clock: FakeClock
) -> None:
    async with endpoints.client() as client:
        verifier = _verifier(client, clock, jwks_stale_seconds=3600)
        await verifier.verify(mint())
        endpoints.failing = True
        clock.advance(600 + 3600 + 1)
        with pytest.raises(KeySetUnavailable):
            await verifier.verify(mint())


async def test_refresh_ahead_fetches_without_making_the_request_wait(
    verifier: TokenVerifier, mint: Minter, endpoints: FakeIssuerEndpoints, clock: FakeClock
) -> None:
    await verifier.verify(mint())
    clock.advance(600 - 30)  # inside the refresh-ahead window (60 s before max age)
    await verifier.verify(mint(claims={"jti": "x"}))
    for _ in range(5):
        await anyio.lowlevel.checkpoint()
    assert endpoints.jwks_requests == 2


async def test_cold_failure_is_retried_after_the_cooldown(
    mint: Minter, endpoints: FakeIssuerEndpoints, clock: FakeClock
) -> None:
    endpoints.failing = True
    async with endpoints.client() as client:
        verifier = _verifier(client, clock)
        for _ in range(10):
            with pytest.raises(KeySetUnavailable) as info:
                await verifier.verify(mint())
        assert info.value.retry_after_seconds == 30
        assert verifier.jwks_state().fetch_count == 1
        endpoints.failing = False
        clock.advance(30)
        assert (await verifier.verify(mint())).subject == "auth0|alice"


async def test_unusable_keys_are_skipped_not_fatal(
    mint: Minter, endpoints: FakeIssuerEndpoints, clock: FakeClock, rsa_key: SigningKey
) -> None:
    endpoints.keys = [
        {"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"},
        {**rsa_key.public_jwk, "kid": "enc", "use": "enc"},
        {"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "AAAA", "kid": "bad-ec"},
        "not an object",
        rsa_key.public_jwk,
    ]
    async with endpoints.client() as client:
        verifier = _verifier(client, clock)
        assert (await verifier.verify(mint())).subject == "auth0|alice"
    state = verifier.jwks_state()
    assert state.kids == ("rsa-1",)
    assert len(state.skipped_keys) == 4


async def test_jwks_without_usable_keys_is_a_failed_fetch(
    mint: Minter, endpoints: FakeIssuerEndpoints, clock: FakeClock
) -> None:
    endpoints.keys = [{"kty": "oct", "k": "c2VjcmV0", "kid": "rsa-1"}]
    async with endpoints.client() as client:
        verifier = _verifier(client, clock)
        with pytest.raises(KeySetUnavailable):
            await verifier.verify(mint())
    assert "no usable key" in (verifier.jwks_state().last_error or "")


async def test_missing_kid_with_one_key_uses_it_and_with_several_is_refused(
    mint: Minter, endpoints: FakeIssuerEndpoints, clock: FakeClock, rsa_key: SigningKey
) -> None:
    async with endpoints.client() as client:
        several = _verifier(client, clock)
        with pytest.raises(InvalidToken) as info:
            await several.verify(mint(headers={"kid": DROP}))
        assert info.value.code == "kid_required"
    endpoints.keys = [rsa_key.public_jwk]
    async with endpoints.client() as client:
        one = _verifier(client, clock)
        token = mint(headers={"kid": DROP})
        assert (await one.verify(token)).subject == "auth0|alice"


async def test_duplicate_kids_in_the_jwks_are_not_used(
    mint: Minter, endpoints: FakeIssuerEndpoints, clock: FakeClock, rsa_key_2: SigningKey
) -> None:
    endpoints.keys.append({**rsa_key_2.public_jwk, "kid": "rsa-1"})
    async with endpoints.client() as client:
        verifier = _verifier(client, clock)
        with pytest.raises(InvalidToken) as info:
            await verifier.verify(mint())
    assert info.value.code == "unknown_kid"


async def test_explicit_jwks_uri_skips_discovery(
    mint: Minter, endpoints: FakeIssuerEndpoints, clock: FakeClock
) -> None:
    async with endpoints.client() as client:
        verifier = TokenVerifier(
            issuer=ISSUER,
            audience=AUDIENCE,
            jwks_uri=ISSUER + ".well-known/jwks.json",
            http_client=client,
            clock=clock,
        )
        await verifier.verify(mint())
    assert (endpoints.discovery_requests, endpoints.jwks_requests) == (0, 1)
