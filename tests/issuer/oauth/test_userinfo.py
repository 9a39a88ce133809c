"""``/userinfo`` with Bearer and DPoP tokens (RFC 9449 §7)."""

import pytest

from issuer import Issuer
from issuer.dpop import DPoPAuth, DPoPKey

from ..conftest import FakeClock

pytestmark = pytest.mark.anyio


async def test_a_dpop_bound_token_works_with_its_proof(
    bare_issuer: Issuer, clock: FakeClock
) -> None:
    key = DPoPKey(clock=clock)
    tokens = await bare_issuer.login("alice@example.com", dpop_key=key)
    async with bare_issuer.http_client(auth=DPoPAuth(key, access_token=tokens.access_token)) as c:
        response = await c.get("userinfo")
    assert response.status_code == 200, response.text
    assert response.json()["email"] == "alice@example.com"


async def test_a_dpop_bound_token_is_refused_as_a_bearer_token(
    bare_issuer: Issuer, clock: FakeClock
) -> None:
    tokens = await bare_issuer.login("alice@example.com", dpop_key=DPoPKey(clock=clock))
    async with bare_issuer.http_client() as client:
        response = await client.get(
            "userinfo", headers={"Authorization": f"Bearer {tokens.access_token}"}
        )
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == (
        'Bearer realm="issuer", error="invalid_token", error_description="a DPoP-bound token'
        ' was sent as a Bearer token", DPoP algs="ES256 EdDSA Ed25519 RS256 PS256"'
    )


async def test_a_proof_by_another_key_is_refused(bare_issuer: Issuer, clock: FakeClock) -> None:
    tokens = await bare_issuer.login("alice@example.com", dpop_key=DPoPKey(clock=clock))
    thief = DPoPAuth(DPoPKey(clock=clock), access_token=tokens.access_token)
    async with bare_issuer.http_client(auth=thief) as client:
        response = await client.get("userinfo")
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


async def test_the_dpop_scheme_needs_a_proof_with_the_tokens_hash(
    bare_issuer: Issuer, clock: FakeClock
) -> None:
    key = DPoPKey(clock=clock)
    tokens = await bare_issuer.login("alice@example.com", dpop_key=key)
    url = f"{bare_issuer.url}userinfo"
    async with bare_issuer.http_client() as client:
        for proof in (None, key.proof("GET", url), key.proof("GET", url, access_token="other")):
            headers = {"Authorization": f"DPoP {tokens.access_token}"}
            if proof is not None:
                headers["DPoP"] = proof
            response = await client.get("userinfo", headers=headers)
            assert response.status_code == 401
            challenge = response.headers["www-authenticate"]
            assert challenge.startswith("DPoP ")
            assert 'error="invalid_dpop_proof", error_description="' in challenge


async def test_without_credentials_both_schemes_are_offered(bare_issuer: Issuer) -> None:
    async with bare_issuer.http_client() as client:
        response = await client.get("userinfo")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == (
        'Bearer realm="issuer", DPoP algs="ES256 EdDSA Ed25519 RS256 PS256"'
    )


async def test_a_proof_by_a_key_the_token_is_not_bound_to_is_not_remembered(
    bare_issuer: Issuer, clock: FakeClock
) -> None:
    key = DPoPKey(clock=clock)
    bound = await bare_issuer.login("alice@example.com", dpop_key=key)
    bearer = await bare_issuer.login("alice@example.com")
    url = f"{bare_issuer.url}userinfo"
    proof = key.proof("GET", url, access_token=bearer.access_token)
    async with bare_issuer.http_client() as client:
        headers = {"Authorization": f"DPoP {bearer.access_token}", "DPoP": proof}
        assert (await client.get("userinfo", headers=headers)).status_code == 401
        assert len(bare_issuer.userinfo_dpop._replay) == 0
        proof = key.proof("GET", url, access_token=bound.access_token)
        headers = {"Authorization": f"DPoP {bound.access_token}", "DPoP": proof}
        assert (await client.get("userinfo", headers=headers)).status_code == 200
        assert (await client.get("userinfo", headers=headers)).status_code == 401


async def test_userinfo_and_the_token_endpoint_keep_their_own_replay_caches(
    bare_issuer: Issuer, clock: FakeClock
) -> None:
    key = DPoPKey(clock=clock)
    tokens = await bare_issuer.login("alice@example.com", dpop_key=key)
    async with bare_issuer.http_client(auth=DPoPAuth(key, access_token=tokens.access_token)) as c:
        assert (await c.get("userinfo")).status_code == 200
    assert len(bare_issuer.userinfo_dpop._replay) == 1
    assert bare_issuer.userinfo_dpop._replay is not bare_issuer.dpop._replay
