"""DPoP proofs at the token endpoint: each RFC 9449 §4.3 check, replay, metadata."""

import base64
import json
import logging

import anyio
import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed448, rsa

from issuer import Issuer
from issuer.dpop import DPoPKey
from issuer.tokens._replay import ReplayCache, ReplayCacheFull

from ..conftest import FakeClock
from ..dpop_proofs import (
    API,
    DROP,
    client_credentials,
    ec_key,
    proof,
    public_jwk,
    refused,
)

pytestmark = pytest.mark.anyio


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


@pytest.mark.parametrize("alg", ["ES256", "EdDSA", "Ed25519", "RS256", "PS256"])
async def test_a_valid_proof_binds_the_access_token_to_its_key(
    bare_issuer: Issuer, clock: FakeClock, alg: str
) -> None:
    key = DPoPKey(alg, clock=clock)  # type: ignore[arg-type]
    response = await client_credentials(
        bare_issuer, key.proof("POST", f"{bare_issuer.url}oauth/token")
    )
    assert response.status_code == 200, response.text
    assert response.json()["token_type"] == "DPoP"
    claims = bare_issuer.verify_access_token(response.json()["access_token"], audience=API)
    assert claims is not None
    assert claims["cnf"] == {"jkt": key.jkt}


async def test_without_a_proof_the_token_stays_a_bearer_token(bare_issuer: Issuer) -> None:
    response = await client_credentials(bare_issuer)
    assert response.json()["token_type"] == "Bearer"
    claims = bare_issuer.verify_access_token(response.json()["access_token"], audience=API)
    assert claims is not None
    assert "cnf" not in claims


async def test_two_dpop_headers_are_refused(bare_issuer: Issuer) -> None:
    response = await client_credentials(bare_issuer, proof(bare_issuer), proof(bare_issuer))
    assert "more than one" in refused(response)


@pytest.mark.parametrize("text", ["not-a-jwt", "a.b", "a.b.c.d", "%%%.e30.AA"])
async def test_a_proof_that_is_no_compact_jws_is_refused(bare_issuer: Issuer, text: str) -> None:
    refused(await client_credentials(bare_issuer, text))


async def test_a_proof_with_a_duplicate_member_is_refused(bare_issuer: Issuer) -> None:
    key = ec_key()
    good = proof(bare_issuer, key=key)
    header, payload, _ = good.split(".")
    doubled = json.loads(base64.urlsafe_b64decode(payload + "=="))
    text = json.dumps(doubled)[:-1] + ', "htm": "GET"}'
    forged = f"{header}.{_b64(text.encode())}"
    signature = jwt.get_algorithm_by_name("ES256").sign(forged.encode(), key)
    assert "does not parse" in refused(
        await client_credentials(bare_issuer, f"{forged}.{_b64(signature)}")
    )


async def test_a_proof_over_the_size_cap_is_refused(bare_issuer: Issuer) -> None:
    big = proof(bare_issuer, claims={"padding": "x" * 9000})
    assert "longer than" in refused(await client_credentials(bare_issuer, big))


async def test_typ_must_be_dpop_jwt(bare_issuer: Issuer) -> None:
    for typ in ("JWT", DROP):
        response = await client_credentials(bare_issuer, proof(bare_issuer, header={"typ": typ}))
        assert "typ" in refused(response)


async def test_alg_none_is_refused(bare_issuer: Issuer) -> None:
    header = {"typ": "dpop+jwt", "alg": "none", "jwk": public_jwk(ec_key())}
    claims = {"jti": "j", "htm": "POST", "htu": f"{bare_issuer.url}oauth/token", "iat": 0}
    unsigned = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}."
    assert "alg" in refused(await client_credentials(bare_issuer, unsigned))


async def test_a_symmetric_alg_is_refused(bare_issuer: Issuer) -> None:
    payload = {"jti": "j", "htm": "POST", "htu": f"{bare_issuer.url}oauth/token", "iat": 0}
    mac = jwt.encode(
        payload,
        "a-shared-secret-of-enough-length!",
        algorithm="HS256",
        headers={"typ": "dpop+jwt", "jwk": {"kty": "oct", "k": "c2VjcmV0"}},
    )
    assert "alg" in refused(await client_credentials(bare_issuer, mac))


async def test_a_jwk_with_private_members_is_refused(bare_issuer: Issuer) -> None:
    key = ec_key()
    private = jwt.get_algorithm_by_name("ES256").to_jwk(key, as_dict=True)
    assert "d" in private
    response = await client_credentials(
        bare_issuer, proof(bare_issuer, key=key, header={"jwk": private})
    )
    assert "private" in refused(response)


async def test_a_jwk_that_does_not_verify_the_signature_is_refused(bare_issuer: Issuer) -> None:
    other = public_jwk(ec_key())
    response = await client_credentials(bare_issuer, proof(bare_issuer, header={"jwk": other}))
    assert "signature" in refused(response)


async def test_a_jwk_of_another_type_than_alg_needs_is_refused(bare_issuer: Issuer) -> None:
    p384 = ec.generate_private_key(ec.SECP384R1())
    jwk = jwt.get_algorithm_by_name("ES384").to_jwk(p384.public_key(), as_dict=True)
    response = await client_credentials(bare_issuer, proof(bare_issuer, header={"jwk": jwk}))
    assert "jwk" in refused(response)


async def test_a_missing_jwk_is_refused(bare_issuer: Issuer) -> None:
    response = await client_credentials(bare_issuer, proof(bare_issuer, header={"jwk": DROP}))
    assert "jwk" in refused(response)


@pytest.mark.parametrize("claim", ["jti", "htm", "htu", "iat"])
async def test_a_proof_lacking_a_required_claim_is_refused(bare_issuer: Issuer, claim: str) -> None:
    refused(await client_credentials(bare_issuer, proof(bare_issuer, claims={claim: DROP})))


async def test_htm_must_be_post(bare_issuer: Issuer) -> None:
    response = await client_credentials(bare_issuer, proof(bare_issuer, claims={"htm": "GET"}))
    assert "htm" in refused(response)


async def test_htu_must_be_the_token_endpoint(bare_issuer: Issuer) -> None:
    for htu in ("http://127.0.0.1:8765/userinfo", "http://evil.example/oauth/token"):
        response = await client_credentials(bare_issuer, proof(bare_issuer, claims={"htu": htu}))
        assert "htu" in refused(response)


async def test_htu_is_compared_after_normalisation(bare_issuer: Issuer) -> None:
    # RFC 3986 §6.2.2-6.2.3: case, default port, percent-encoding; query and fragment ignored.
    htu = "HTTP://127.0.0.1:8765/%6Fauth/token?x=1#f"
    response = await client_credentials(bare_issuer, proof(bare_issuer, claims={"htu": htu}))
    assert response.status_code == 200, response.text


async def test_iat_must_be_within_the_window(bare_issuer: Issuer, clock: FakeClock) -> None:
    now = int(clock())
    for iat in (now - 61, now + 6, "1800000000", True):
        response = await client_credentials(bare_issuer, proof(bare_issuer, claims={"iat": iat}))
        refused(response)
    for iat in (now - 60, now + 5):
        response = await client_credentials(bare_issuer, proof(bare_issuer, claims={"iat": iat}))
        assert response.status_code == 200, response.text


async def test_a_replayed_proof_is_refused(bare_issuer: Issuer, clock: FakeClock) -> None:
    once = proof(bare_issuer)
    assert (await client_credentials(bare_issuer, once)).status_code == 200
    clock.advance(30)
    assert "already used" in refused(await client_credentials(bare_issuer, once))


async def test_a_refused_proof_is_not_remembered(
    bare_issuer: Issuer,
) -> None:
    # A proof that fails a check is not remembered: the replay cache holds only accepted ones.
    refused(await client_credentials(bare_issuer, proof(bare_issuer, claims={"htm": "GET"})))
    assert len(bare_issuer.dpop._replay) == 0


def test_the_replay_cache_is_bounded_and_fails_closed(clock: FakeClock) -> None:
    cache = ReplayCache(clock=clock, capacity=2)
    assert cache.first_use("k", "1", expires_at=clock() + 60)
    assert cache.first_use("k", "2", expires_at=clock() + 60)
    assert not cache.first_use("k", "1", expires_at=clock() + 60)
    with pytest.raises(ReplayCacheFull):
        cache.first_use("k", "3", expires_at=clock() + 60)
    clock.advance(61)
    assert cache.first_use("k", "3", expires_at=clock() + 60)
    assert len(cache) == 1


async def test_refusals_are_logged_with_their_cause(
    bare_issuer: Issuer, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="issuer.token"):
        await client_credentials(bare_issuer, proof(bare_issuer, claims={"htm": "GET"}))
    assert any(
        "invalid_dpop_proof" in r.getMessage() and "htm" in r.getMessage() for r in caplog.records
    )


async def test_metadata_lists_the_dpop_algorithms(bare_issuer: Issuer) -> None:
    async with bare_issuer.http_client() as client:
        for path in (".well-known/openid-configuration", ".well-known/oauth-authorization-server"):
            metadata = (await client.get(path)).json()
            assert metadata["dpop_signing_alg_values_supported"] == [
                "ES256", "EdDSA", "Ed25519", "RS256", "PS256"
            ]  # fmt: skip


async def test_an_rsa_proof_key_must_use_the_exponent_65537(bare_issuer: Issuer) -> None:
    small = rsa.generate_private_key(public_exponent=3, key_size=2048)
    response = await client_credentials(bare_issuer, proof(bare_issuer, key=small, alg="RS256"))
    assert "65537" in refused(response)


async def test_an_rsa_proof_key_over_4096_bits_is_refused_before_its_signature(
    bare_issuer: Issuer,
) -> None:
    modulus = (1 << 4100) | 1
    jwk = {"kty": "RSA", "n": _b64(modulus.to_bytes(513, "big")), "e": "AQAB"}
    header = {"typ": "dpop+jwt", "alg": "RS256", "jwk": jwk}
    payload = {"jti": "j", "htm": "POST", "htu": f"{bare_issuer.url}oauth/token", "iat": 0}
    noise = _b64(b"\x01" * 513)
    text = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}.{noise}"
    assert "4096" in refused(await client_credentials(bare_issuer, text))


async def test_an_ed448_key_is_refused_under_eddsa(bare_issuer: Issuer) -> None:
    key = ed448.Ed448PrivateKey.generate()
    response = await client_credentials(bare_issuer, proof(bare_issuer, key=key, alg="EdDSA"))
    assert "Ed25519" in refused(response)


async def test_a_failed_grant_spends_no_proof(bare_issuer: Issuer) -> None:
    # Recording proofs of failed grants would let anyone fill the cache for everyone.
    once = proof(bare_issuer)
    response = await client_credentials(bare_issuer, once, audience="https://unknown.example")
    assert response.status_code == 400
    assert response.json()["error"] != "invalid_dpop_proof"
    assert len(bare_issuer.dpop._replay) == 0
    assert (await client_credentials(bare_issuer, once)).status_code == 200
    assert "already used" in refused(await client_credentials(bare_issuer, once))


async def test_of_two_concurrent_uses_of_a_proof_only_one_runs_the_grant(
    bare_issuer: Issuer,
) -> None:
    # The password grant awaits the password check and the login pipeline: without a
    # reservation, both requests passed the replay check before either was recorded.
    alice = bare_issuer.directory.user("alice@example.com")
    before = alice.logins_count
    once = proof(bare_issuer)
    form = {
        "grant_type": "password",
        "client_id": "app",
        "client_secret": "app-secret",
        "username": "alice@example.com",
        "password": "alice-pw",
        "audience": API,
    }
    responses: list[httpx.Response] = []
    async with bare_issuer.http_client() as client:

        async def post() -> None:
            responses.append(await client.post("oauth/token", data=form, headers={"DPoP": once}))

        async with anyio.create_task_group() as group:
            group.start_soon(post)
            group.start_soon(post)
    assert sorted(r.status_code for r in responses) == [200, 400]
    assert "already used" in refused(next(r for r in responses if r.status_code == 400))
    assert alice.logins_count == before + 1


async def test_a_proof_whose_grant_failed_can_be_used_again(clock: FakeClock) -> None:
    cache = ReplayCache(clock=clock, capacity=1)
    assert cache.reserve("k", "1", expires_at=clock() + 60)
    assert not cache.reserve("k", "1", expires_at=clock() + 60)  # in use: refused
    cache.release("k", "1")
    assert len(cache) == 0
    assert cache.reserve("k", "1", expires_at=clock() + 60)
    cache.confirm("k", "1")
    cache.release("k", "1")  # a spent proof stays spent
    assert cache.seen("k", "1")
