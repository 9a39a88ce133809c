from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import jwt
import pytest
from joserfc import jwt as jose_jwt
from joserfc.jwk import ECKey, OKPKey, RSAKey

from claimguard import ConfigurationError, InvalidToken, KeySetUnavailable, TokenVerifier

from ..conftest import (
    AUDIENCE,
    DROP,
    ISSUER,
    NAMESPACE,
    FakeClock,
    FakeIssuerEndpoints,
    Minter,
    SigningKey,
)

pytestmark = pytest.mark.anyio


async def _refused(verifier: TokenVerifier, token: str) -> str:
    with pytest.raises(InvalidToken) as info:
        await verifier.verify(token)
    return info.value.code


async def test_valid_token_gives_claims_and_scopes(verifier: TokenVerifier, mint: Minter) -> None:
    claims = await verifier.verify(mint(premium=True))
    assert claims.subject == "auth0|alice"
    assert claims.custom == {"premium": True}
    assert claims.scopes == {"openid", "read:messages", "claim:premium"}


@pytest.mark.parametrize("key_name", ["rsa_key", "ec_key", "ed_key"])
async def test_each_default_algorithm_verifies(
    verifier: TokenVerifier, mint: Minter, key_name: str, request: pytest.FixtureRequest
) -> None:
    key = request.getfixturevalue(key_name)
    claims = await verifier.verify(mint(key=key))
    assert claims["iss"] == ISSUER


async def test_ps256_verifies(
    mint: Minter, rsa_private: Any, endpoints: FakeIssuerEndpoints
) -> None:
    ps_key = SigningKey(rsa_private, "ps-1", "PS256")
    endpoints.keys.append(ps_key.public_jwk)
    async with endpoints.client() as client:
        verifier = TokenVerifier(issuer=ISSUER, audience=AUDIENCE, http_client=client)
        claims = await verifier.verify(mint(key=ps_key))
    assert claims.subject == "auth0|alice"


async def test_expired_token_is_refused(
    verifier: TokenVerifier, mint: Minter, clock: FakeClock
) -> None:
    token = mint(lifetime=60)
    await verifier.verify(token)
    clock.advance(60 + 29)
    await verifier.verify(token)  # within the 30 s leeway, through the token cache
    clock.advance(1)
    assert await _refused(verifier, token) == "expired"


async def test_not_yet_valid_token_is_refused(
    verifier: TokenVerifier, mint: Minter, clock: FakeClock
) -> None:
    token = mint(claims={"nbf": clock.time() + 120})
    assert await _refused(verifier, token) == "not_yet_valid"
    clock.advance(91)
    assert (await verifier.verify(token)).subject == "auth0|alice"


async def test_token_issued_in_the_future_is_refused(
    verifier: TokenVerifier, mint: Minter, clock: FakeClock
) -> None:
    assert await _refused(verifier, mint(claims={"iat": clock.time() + 600})) == "not_yet_valid"


async def test_max_token_age(
    http_client: httpx.AsyncClient, clock: FakeClock, mint: Minter
) -> None:
    verifier = TokenVerifier(
        issuer=ISSUER,
        audience=AUDIENCE,
        http_client=http_client,
        clock=clock,
        max_token_age_seconds=300,
    )
    token = mint()
    await verifier.verify(token)
    clock.advance(331)
    assert await _refused(verifier, token) == "too_old"
    assert await _refused(verifier, mint(claims={"iat": DROP})) == "missing_claim"


@pytest.mark.parametrize(
    ("claims", "code"),
    [
        ({"iss": "https://issuer.example.com"}, "wrong_issuer"),
        ({"iss": "https://ISSUER.example.com/"}, "wrong_issuer"),
        ({"iss": DROP}, "wrong_issuer"),
        ({"aud": "https://other.example.com"}, "wrong_audience"),
        ({"aud": []}, "invalid_claim"),
        ({"aud": DROP}, "missing_claim"),
        ({"aud": [AUDIENCE, 3]}, "invalid_claim"),
        ({"exp": DROP}, "missing_claim"),
        ({"exp": "9999999999"}, "invalid_claim"),
        ({"exp": True}, "invalid_claim"),
        ({"exp": None}, "invalid_claim"),
        ({"nbf": [1]}, "invalid_claim"),
        ({"nbf": None}, "invalid_claim"),
        ({"nbf": False}, "invalid_claim"),
        ({"nbf": "0"}, "invalid_claim"),
        ({"iat": None}, "invalid_claim"),
        ({"iat": True}, "invalid_claim"),
        ({"iat": {"t": 1}}, "invalid_claim"),
        ({"aud": {"a": AUDIENCE}}, "invalid_claim"),
        ({"aud": None}, "missing_claim"),
        ({"sub": 42}, "invalid_claim"),
        ({"sub": None}, None),
        ({"nbf": 1.5, "iat": 2.5, "exp": 9999999999.5}, None),
    ],
)
async def test_claim_checks(
    verifier: TokenVerifier, mint: Minter, claims: dict[str, Any], code: str | None
) -> None:
    token = mint(claims=claims)
    if code is None:
        verified = await verifier.verify(token)
        assert {name: verified.get(name) for name in claims} == claims
    else:
        assert await _refused(verifier, token) == code


async def test_audience_may_be_a_plain_string(verifier: TokenVerifier, mint: Minter) -> None:
    assert (await verifier.verify(mint(claims={"aud": AUDIENCE}))).subject == "auth0|alice"


async def test_tampered_payload_is_refused(verifier: TokenVerifier, mint: Minter) -> None:
    header, _, signature = mint().split(".")
    forged = jwt.utils.base64url_encode(
        json.dumps({"iss": ISSUER, "aud": AUDIENCE, "exp": 9999999999, "sub": "admin"}).encode()
    ).decode()
    assert await _refused(verifier, f"{header}.{forged}.{signature}") == "bad_signature"


async def test_token_signed_by_another_key_with_a_known_kid_is_refused(
    verifier: TokenVerifier, mint: Minter, rsa_key_2: SigningKey
) -> None:
    impostor = SigningKey(rsa_key_2.private, "rsa-1", "RS256")
    assert await _refused(verifier, mint(key=impostor)) == "bad_signature"


async def test_alg_none_is_refused(verifier: TokenVerifier) -> None:
    token = jwt.encode({"iss": ISSUER, "aud": AUDIENCE, "exp": 9999999999}, None, algorithm="none")
    assert await _refused(verifier, token + "c2ln") == "alg_not_allowed"


async def test_hs256_signed_with_the_public_key_is_refused(
    verifier: TokenVerifier, rsa_key: SigningKey
) -> None:
    from cryptography.hazmat.primitives import hashes, hmac, serialization

    pem = rsa_key.private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = jwt.utils.base64url_encode(b'{"alg":"HS256","kid":"rsa-1","typ":"JWT"}')
    body = jwt.utils.base64url_encode(
        json.dumps({"iss": ISSUER, "aud": AUDIENCE, "exp": 9999999999}).encode()
    )
    mac = hmac.HMAC(pem, hashes.SHA256())
    mac.update(header + b"." + body)
    token = b".".join([header, body, jwt.utils.base64url_encode(mac.finalize())]).decode()
    assert await _refused(verifier, token) == "alg_not_allowed"


async def test_algorithm_must_fit_the_key(verifier: TokenVerifier, rsa_key: SigningKey) -> None:
    ps_token = jwt.encode(
        {"iss": ISSUER, "aud": AUDIENCE, "exp": 9999999999},
        rsa_key.private,
        algorithm="PS256",
        headers={"kid": "rsa-1"},
    )
    # The JWK says alg RS256, so a PS256 signature by the same key is refused.
    assert await _refused(verifier, ps_token) == "alg_key_mismatch"


async def test_at_jwt_can_be_required(
    http_client: httpx.AsyncClient, clock: FakeClock, mint: Minter
) -> None:
    verifier = TokenVerifier(
        issuer=ISSUER, audience=AUDIENCE, http_client=http_client, clock=clock, require_at_jwt=True
    )
    assert await _refused(verifier, mint(headers={"typ": "JWT"})) == "wrong_type"
    assert (await verifier.verify(mint(headers={"typ": "at+jwt"}))).subject == "auth0|alice"
    assert (await verifier.verify(mint(headers={"typ": "application/at+JWT"}))).subject


async def test_token_cache_makes_a_repeated_token_skip_the_work(
    verifier: TokenVerifier, mint: Minter, endpoints: FakeIssuerEndpoints
) -> None:
    token = mint()
    first = await verifier.verify(token)
    assert verifier.cached_tokens == 1
    assert await verifier.verify(token) is first
    assert endpoints.jwks_requests == 1


async def test_token_cache_can_be_disabled(
    http_client: httpx.AsyncClient, clock: FakeClock, mint: Minter
) -> None:
    verifier = TokenVerifier(
        issuer=ISSUER, audience=AUDIENCE, http_client=http_client, clock=clock, token_cache_size=0
    )
    token = mint()
    first = await verifier.verify(token)
    assert await verifier.verify(token) is not first
    assert verifier.cached_tokens == 0


async def test_token_cache_is_bounded(
    http_client: httpx.AsyncClient, clock: FakeClock, mint: Minter
) -> None:
    verifier = TokenVerifier(
        issuer=ISSUER, audience=AUDIENCE, http_client=http_client, clock=clock, token_cache_size=3
    )
    for i in range(10):
        await verifier.verify(mint(claims={"jti": str(i)}))
    assert verifier.cached_tokens == 3


async def test_cached_tokens_whose_key_left_the_jwks_are_dropped(
    verifier: TokenVerifier,
    mint: Minter,
    endpoints: FakeIssuerEndpoints,
    clock: FakeClock,
    rsa_key_2: SigningKey,
) -> None:
    token = mint()
    await verifier.verify(token)
    endpoints.keys = [rsa_key_2.public_jwk]
    clock.advance(31)
    await verifier.verify(mint(key=rsa_key_2))  # unknown kid: refetch, rsa-1 is gone
    assert verifier.cached_tokens == 1
    assert await _refused(verifier, token) == "unknown_kid"


async def test_namespace_collision_in_a_token_is_refused(
    http_client: httpx.AsyncClient, clock: FakeClock, mint: Minter
) -> None:
    verifier = TokenVerifier(
        issuer=ISSUER,
        audience=AUDIENCE,
        namespace=[NAMESPACE, "https://other.example.com/"],
        http_client=http_client,
        clock=clock,
    )
    token = mint(claims={NAMESPACE + "plan": "a", "https://other.example.com/plan": "b"})
    assert await _refused(verifier, token) == "ambiguous_claim"


async def test_jwks_unreachable_with_a_cold_cache_is_unavailable(
    mint: Minter, clock: FakeClock
) -> None:
    endpoints = FakeIssuerEndpoints(failing=True)
    async with endpoints.client() as client:
        verifier = TokenVerifier(issuer=ISSUER, audience=AUDIENCE, http_client=client, clock=clock)
        with pytest.raises(KeySetUnavailable) as info:
            await verifier.verify(mint())
    assert info.value.status == 503
    assert 1 <= info.value.retry_after_seconds <= 30


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"algorithms": ["HS256"]}, "HS256"),
        ({"algorithms": ["none"]}, "none"),
        ({"algorithms": "RS256"}, "sequence"),
        ({"algorithms": ["XS999"]}, "unsupported"),
        ({"leeway_seconds": 301}, "leeway_seconds"),
        ({"leeway_seconds": -1}, "leeway_seconds"),
        ({"audience": []}, "audience"),
        ({"issuer": "http://issuer.example.com/"}, "https"),
        ({"jwks_uri": "ftp://keys.example.com/"}, "https"),
        ({"max_token_age_seconds": 0}, "max_token_age_seconds"),
        ({"token_cache_size": -1}, "token_cache_size"),
        ({"jwks_cooldown_seconds": 0}, "jwks_cooldown_seconds"),
        ({"namespace": ""}, "namespace"),
    ],
)
def test_bad_options_fail_at_construction(options: dict[str, Any], message: str) -> None:
    kwargs: dict[str, Any] = {"issuer": ISSUER, "audience": AUDIENCE, **options}
    with pytest.raises(ConfigurationError, match=message):
        TokenVerifier(**kwargs)


def test_loopback_issuer_may_use_plain_http() -> None:
    for host in ("127.0.0.1", "127.1.2.3", "localhost", "[::1]"):
        TokenVerifier(issuer=f"http://{host}:8765/", audience=AUDIENCE)


# -- tokens made by an independent library ---------------------------------------------


def _joserfc_key(key: SigningKey) -> Any:
    kinds = {"RS256": RSAKey, "ES256": ECKey, "EdDSA": OKPKey}
    return kinds[key.alg].import_key(key.private)


@pytest.mark.parametrize(
    ("key_name", "alg"), [("rsa_key", "RS256"), ("ec_key", "ES256"), ("ed_key", "Ed25519")]
)
async def test_tokens_minted_by_joserfc_verify(
    verifier: TokenVerifier,
    key_name: str,
    alg: str,
    request: pytest.FixtureRequest,
    clock: FakeClock,
) -> None:
    key: SigningKey = request.getfixturevalue(key_name)
    now = int(clock.time())
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "auth0|bob",
        "iat": now,
        "exp": now + 600,
        NAMESPACE + "roles": ["admin"],
    }
    token = jose_jwt.encode(
        {"alg": alg, "kid": key.kid}, claims, _joserfc_key(key), algorithms=[alg]
    )
    verified = await verifier.verify(token)
    assert verified.subject == "auth0|bob"
    assert "claim:roles:admin" in verified.scopes


async def test_verifier_closes_the_client_it_made() -> None:
    verifier = TokenVerifier(issuer=ISSUER, audience=AUDIENCE)
    async with verifier:
        assert verifier.jwks_state().fetch_count == 0
    assert verifier.jwks_state().kids == ()


# The order of P-256's base point (SEC 2 §2.4.2).
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def _high_low_twin(token: str) -> str:
    """The same ES256 token with its signature spelled ``(r, n - s)``."""
    head, _, signature = token.rpartition(".")
    raw = base64.urlsafe_b64decode(signature + "==")
    s = int.from_bytes(raw[32:], "big")
    twin = raw[:32] + (P256_ORDER - s).to_bytes(32, "big")
    return f"{head}.{base64.urlsafe_b64encode(twin).rstrip(b'=').decode()}"


async def test_both_spellings_of_an_ecdsa_signature_are_one_cached_token(
    verifier: TokenVerifier, mint: Minter, ec_key: SigningKey, endpoints: FakeIssuerEndpoints
) -> None:
    token = mint(key=ec_key)
    twin = _high_low_twin(token)
    assert twin != token
    claims = await verifier.verify(token)
    assert await verifier.verify(twin) is claims
    assert verifier.cached_tokens == 1
    assert await verifier.verify(twin) is claims
    assert verifier.cached_tokens == 1
    assert endpoints.jwks_requests == 1


async def test_either_ecdsa_spelling_verifies_first_and_stands_for_both(
    verifier: TokenVerifier, mint: Minter, ec_key: SigningKey, clock: FakeClock
) -> None:
    # Honest signers produce high S half the time: it is never refused (RFC 7518 §3.4).
    token = mint(key=ec_key, lifetime=60)
    twin = _high_low_twin(token)
    claims = await verifier.verify(twin)
    assert claims.subject == "auth0|alice"
    assert await verifier.verify(token) is claims
    assert verifier.cached_tokens == 1
    clock.advance(60 + 30)  # exp plus leeway: the twin shares the entry's time rules
    for spelling in (token, twin):
        with pytest.raises(InvalidToken) as info:
            await verifier.verify(spelling)
        assert info.value.code == "expired"


async def test_a_tampered_ecdsa_token_is_not_answered_from_its_twin(
    verifier: TokenVerifier, mint: Minter, ec_key: SigningKey
) -> None:
    token = mint(key=ec_key)
    await verifier.verify(token)
    head, _, signature = _high_low_twin(token).rpartition(".")
    other_payload = mint(key=ec_key, claims={"sub": "auth0|mallory"}).split(".")[1]
    forged = f"{head.split('.')[0]}.{other_payload}.{signature}"
    with pytest.raises(InvalidToken) as info:
        await verifier.verify(forged)
    assert info.value.code == "bad_signature"
