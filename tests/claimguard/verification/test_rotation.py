"""Key material, not ``kid`` strings, decides what a verified token is worth.

RFC 7517 §4.5 makes ``kid`` a hint: an issuer may publish new key material under an old
``kid``, or a single key with none. The verified-token cache forgets a token when the
material that signed it leaves the JWKS, a refresh hands back only what the issuer
publishes now, on asyncio and trio alike, and new material under a known ``kid`` is
picked up by one refetch rather than at the next scheduled refresh.
"""

from __future__ import annotations

from typing import Any

import anyio.lowlevel
import httpx
import pytest

from claimguard import InvalidToken, KeySetUnavailable, TokenVerifier

from ..conftest import AUDIENCE, DROP, ISSUER, FakeClock, FakeIssuerEndpoints, Minter, SigningKey

pytestmark = pytest.mark.anyio


def _under_kid(key: SigningKey, kid: str | None) -> dict[str, Any]:
    jwk = dict(key.public_jwk)
    if kid is None:
        del jwk["kid"]
    else:
        jwk["kid"] = kid
    return jwk


def _verifier(client: httpx.AsyncClient, clock: FakeClock) -> TokenVerifier:
    return TokenVerifier(issuer=ISSUER, audience=AUDIENCE, http_client=client, clock=clock)


async def _refused(verifier: TokenVerifier, token: str) -> str:
    with pytest.raises(InvalidToken) as info:
        await verifier.verify(token)
    return info.value.code


async def test_a_cached_token_is_forgotten_when_its_kid_gets_new_material(
    verifier: TokenVerifier,
    mint: Minter,
    endpoints: FakeIssuerEndpoints,
    clock: FakeClock,
    rsa_key: SigningKey,
    rsa_key_2: SigningKey,
) -> None:
    old = mint(key=rsa_key)
    await verifier.verify(old)
    assert verifier.cached_tokens == 1
    # The issuer replaces the key but keeps its kid.
    endpoints.keys = [_under_kid(rsa_key_2, rsa_key.kid)]
    clock.advance(31)
    await _refused(verifier, mint(key=rsa_key, headers={"kid": "made-up"}))  # one refetch
    assert endpoints.jwks_requests == 2
    assert verifier.cached_tokens == 0
    assert await _refused(verifier, old) == "bad_signature"


async def test_a_reused_kid_with_new_material_is_picked_up_by_one_refetch(
    verifier: TokenVerifier,
    mint: Minter,
    endpoints: FakeIssuerEndpoints,
    clock: FakeClock,
    rsa_key: SigningKey,
    rsa_key_2: SigningKey,
) -> None:
    old = mint(key=rsa_key)
    await verifier.verify(old)
    endpoints.keys = [_under_kid(rsa_key_2, rsa_key.kid)]
    renamed = SigningKey(rsa_key_2.private, rsa_key.kid, rsa_key_2.alg)
    new = mint(key=renamed)
    # Within the cooldown the key held is trusted as it is: no fetch for a bad signature.
    assert await _refused(verifier, new) == "bad_signature"
    assert endpoints.jwks_requests == 1
    clock.advance(31)
    assert (await verifier.verify(new)).subject == "auth0|alice"
    assert endpoints.jwks_requests == 2
    assert await _refused(verifier, old) == "bad_signature"


async def test_bad_signatures_under_a_known_kid_cost_one_fetch_per_cooldown(
    verifier: TokenVerifier, mint: Minter, endpoints: FakeIssuerEndpoints, clock: FakeClock
) -> None:
    await verifier.verify(mint())
    clock.advance(31)
    token = mint()
    forged = token[: token.rindex(".") + 1] + "A" * len(token[token.rindex(".") + 1 :])
    for _ in range(50):
        assert await _refused(verifier, forged) == "bad_signature"
    assert endpoints.jwks_requests == 2
    clock.advance(31)
    for _ in range(50):
        assert await _refused(verifier, forged) == "bad_signature"
    assert endpoints.jwks_requests == 3


async def test_a_single_key_without_kid_can_be_replaced(
    mint: Minter,
    endpoints: FakeIssuerEndpoints,
    clock: FakeClock,
    rsa_key: SigningKey,
    rsa_key_2: SigningKey,
) -> None:
    endpoints.keys = [_under_kid(rsa_key, None)]
    async with endpoints.client() as client:
        verifier = _verifier(client, clock)
        old = mint(key=rsa_key, headers={"kid": DROP})
        await verifier.verify(old)
        endpoints.keys = [_under_kid(rsa_key_2, None)]
        clock.advance(31)
        new = mint(key=rsa_key_2, headers={"kid": DROP})
        assert (await verifier.verify(new)).subject == "auth0|alice"
        assert verifier.cached_tokens == 1
        assert await _refused(verifier, old) == "bad_signature"


@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_after_a_refresh_only_the_refreshed_keys_count_on_every_event_loop(
    anyio_backend: str,
    mint: Minter,
    endpoints: FakeIssuerEndpoints,
    clock: FakeClock,
    rsa_key: SigningKey,
    rsa_key_2: SigningKey,
) -> None:
    async with endpoints.client() as client:
        verifier = _verifier(client, clock)
        cached = mint(key=rsa_key)
        await verifier.verify(cached)
        endpoints.keys = [rsa_key_2.public_jwk]  # rsa-1 is retired
        clock.advance(601)  # past the JWKS max age
        retired = mint(key=rsa_key, claims={"jti": "new"})
        if anyio_backend == "trio":
            # No background task can be started: the refresh runs inline, and its result
            # is what counts.
            assert await _refused(verifier, retired) == "unknown_kid"
        else:
            # A known key is served while a background refresh runs beside the request.
            await verifier.verify(retired)
            for _ in range(10):
                await anyio.lowlevel.checkpoint()
        assert verifier.jwks_state().fetch_count == 2
        assert verifier.jwks_state().kids == (rsa_key_2.kid,)
        assert verifier.cached_tokens == 0
        for token in (cached, retired, mint(key=rsa_key, claims={"jti": "later"})):
            assert await _refused(verifier, token) == "unknown_kid"
        assert (await verifier.verify(mint(key=rsa_key_2))).subject == "auth0|alice"
        await verifier.aclose()


async def test_a_cached_token_never_outlives_the_key_set(
    verifier: TokenVerifier, mint: Minter, endpoints: FakeIssuerEndpoints, clock: FakeClock
) -> None:
    token = mint(lifetime=48 * 3600)
    await verifier.verify(token)
    endpoints.failing = True  # the issuer goes away; only cached tokens arrive
    clock.advance(600)  # the keys' max age: a cached token now asks for a refresh
    assert (await verifier.verify(token)).subject == "auth0|alice"
    for _ in range(10):
        await anyio.lowlevel.checkpoint()
    assert verifier.jwks_state().fetch_count == 2
    assert "could not be fetched" in (verifier.jwks_state().last_error or "")
    clock.advance(24 * 3600 + 1)  # past the stale period: no key can be had
    with pytest.raises(KeySetUnavailable):
        await verifier.verify(token)


async def test_a_cached_token_of_a_retired_key_is_refused_once_the_keys_are_refreshed(
    verifier: TokenVerifier,
    mint: Minter,
    endpoints: FakeIssuerEndpoints,
    clock: FakeClock,
    rsa_key: SigningKey,
    rsa_key_2: SigningKey,
) -> None:
    token = mint(key=rsa_key)
    await verifier.verify(token)
    endpoints.keys = [rsa_key_2.public_jwk]
    clock.advance(601)
    # Only this cached token arrives: it alone must bring the refresh about.
    await verifier.verify(token)
    for _ in range(10):
        await anyio.lowlevel.checkpoint()
    assert verifier.jwks_state().kids == (rsa_key_2.kid,)
    assert await _refused(verifier, token) == "unknown_kid"
