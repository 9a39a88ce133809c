"""One test per check of RFC 9449 §4.3 on a single proof (``_dpopproof.check_proof``)."""

from __future__ import annotations

import json
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed448, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from claimguard import InvalidDPoPProof
from claimguard.verification._dpopproof import ProofKeys, check_proof

from ..dpop_proofs import DROP, ProofKey, b64

NOW = 1_700_000_000.0
URL = "https://api.example.com/things"
TOKEN = "header.payload.signature"


@pytest.fixture(scope="module")
def key() -> ProofKey:
    return ProofKey("ES256")


def check(proof: str, *, method: str = "GET", htu: str = URL, token: str = TOKEN) -> Any:
    return check_proof(
        proof,
        method=method,
        htu=htu,
        access_token=token,
        now=NOW,
        iat_window_seconds=60,
        iat_future_seconds=5,
        max_bytes=8192,
    )


def refused_code(proof: str, **request: Any) -> str:
    with pytest.raises(InvalidDPoPProof) as info:
        check(proof, **request)
    return info.value.code


def make(key: ProofKey, **options: Any) -> str:
    return key.proof("GET", URL, access_token=TOKEN, iat=NOW, **options)


@pytest.mark.parametrize("alg", ["ES256", "EdDSA", "Ed25519", "RS256", "PS256"])
def test_a_valid_proof_gives_its_thumbprint_and_id(alg: str) -> None:
    key = ProofKey(alg)
    proof = key.proof("GET", URL, access_token=TOKEN, iat=NOW, claims={"jti": "one"})
    checked = check(proof)
    assert (checked.jkt, checked.jti, checked.iat, checked.nonce) == (key.jkt, "one", NOW, None)


def test_proof_larger_than_the_cap_is_refused(key: ProofKey) -> None:
    assert refused_code(make(key, claims={"pad": "x" * 9000})) == "too_large"


def test_proof_that_is_not_a_jws_is_refused() -> None:
    assert refused_code("not-a-jwt") == "malformed"


def test_typ_must_be_dpop_jwt(key: ProofKey) -> None:
    assert refused_code(make(key, header={"typ": "JWT"})) == "bad_typ"
    assert refused_code(make(key, header={"typ": DROP})) == "bad_typ"


def _unsigned(header: dict[str, Any], payload: dict[str, Any], signature: bytes) -> str:
    return ".".join(
        (b64(json.dumps(header).encode()), b64(json.dumps(payload).encode()), b64(signature))
    )


def test_alg_none_is_refused(key: ProofKey) -> None:
    header = {"typ": "dpop+jwt", "alg": "none", "jwk": key.jwk}
    payload = {"jti": "j", "htm": "GET", "htu": URL, "iat": NOW}
    assert refused_code(_unsigned(header, payload, b"x")) == "alg_not_allowed"


def test_hmac_alg_is_refused(key: ProofKey) -> None:
    secret = b"k" * 32
    proof = make(
        key, header={"alg": "HS256", "jwk": {"kty": "oct", "k": b64(secret)}}, signing_key=secret
    )
    assert refused_code(proof) == "alg_not_allowed"


def test_unlisted_asymmetric_alg_is_refused() -> None:
    key = ProofKey("RS256")
    assert refused_code(make(key, header={"alg": "RS512"})) == "alg_not_allowed"


def test_crit_header_is_refused(key: ProofKey) -> None:
    assert refused_code(make(key, header={"crit": ["exp"]})) == "unsupported_header"


def test_jwk_must_be_present(key: ProofKey) -> None:
    assert refused_code(make(key, header={"jwk": DROP})) == "bad_jwk"


def test_jwk_with_private_members_is_refused(key: ProofKey) -> None:
    private = ECAlgorithm.to_jwk(key.private, as_dict=True)
    assert "d" in private
    assert refused_code(make(key, header={"jwk": private})) == "private_jwk"


def test_symmetric_jwk_is_refused(key: ProofKey) -> None:
    assert refused_code(make(key, header={"jwk": {"kty": "oct", "k": "AAAA"}})) == "symmetric_jwk"


def test_alg_must_fit_the_key_type() -> None:
    rsa_key = ProofKey("RS256")
    ec_key = ProofKey("ES256")
    # An EC key named with an RSA algorithm, and the other way round.
    assert refused_code(make(rsa_key, header={"jwk": ec_key.jwk})) == "alg_key_mismatch"
    assert refused_code(make(ec_key, header={"jwk": rsa_key.jwk})) == "alg_key_mismatch"


def test_signature_must_verify_with_the_jwk(key: ProofKey) -> None:
    other = ec.generate_private_key(ec.SECP256R1())
    assert refused_code(make(key, signing_key=other)) == "bad_signature"


@pytest.mark.parametrize("claim", ["jti", "htm", "htu", "iat", "ath"])
def test_required_claims_must_be_present(key: ProofKey, claim: str) -> None:
    assert refused_code(make(key, claims={claim: DROP})) == "missing_claim"


def test_jti_must_be_a_short_string(key: ProofKey) -> None:
    assert refused_code(make(key, claims={"jti": 7})) == "bad_jti"
    assert refused_code(make(key, claims={"jti": "j" * 300})) == "bad_jti"


def test_htm_must_be_the_request_method(key: ProofKey) -> None:
    assert refused_code(make(key), method="POST") == "htm_mismatch"
    assert refused_code(make(key, claims={"htm": "get"})) == "htm_mismatch"


def test_htu_must_be_the_request_url(key: ProofKey) -> None:
    assert refused_code(make(key), htu="https://api.example.com/other") == "htu_mismatch"
    assert refused_code(make(key, claims={"htu": "https://evil.example/things"})) == "htu_mismatch"
    assert refused_code(make(key, claims={"htu": "not a url"})) == "htu_mismatch"


def test_htu_ignores_query_and_fragment(key: ProofKey) -> None:
    assert check(make(key, claims={"htu": URL + "?a=1#frag"})).jti


def test_iat_must_be_a_number(key: ProofKey) -> None:
    assert refused_code(make(key, claims={"iat": "1700000000"})) == "bad_iat"
    assert refused_code(make(key, claims={"iat": True})) == "bad_iat"


def test_iat_older_than_the_window_is_refused(key: ProofKey) -> None:
    assert check(make(key, claims={"iat": NOW - 60})).jti
    assert refused_code(make(key, claims={"iat": NOW - 61})) == "iat_too_old"


def test_iat_in_the_future_is_refused(key: ProofKey) -> None:
    assert check(make(key, claims={"iat": NOW + 5})).jti
    assert refused_code(make(key, claims={"iat": NOW + 6})) == "iat_in_future"


def test_ath_must_hash_the_access_token(key: ProofKey) -> None:
    assert refused_code(make(key), token="another.access.token") == "ath_mismatch"
    assert refused_code(make(key, claims={"ath": 12})) == "ath_mismatch"


def test_nonce_must_be_a_string(key: ProofKey) -> None:
    assert check(make(key, nonce="n-1")).nonce == "n-1"
    assert refused_code(make(key, claims={"nonce": 5})) == "bad_nonce"


def test_duplicate_members_are_refused(key: ProofKey) -> None:
    header = b64(b'{"typ":"dpop+jwt","typ":"dpop+jwt","alg":"ES256"}')
    assert refused_code(f"{header}.e30.AAAA") == "malformed"


def test_library_errors_never_escape(key: ProofKey) -> None:
    proof = jwt.encode(
        {"jti": "j"},
        key.private,
        algorithm="ES256",
        headers={"typ": "dpop+jwt", "jwk": {"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}},
    )
    assert refused_code(proof) == "bad_jwk"


def _rsa_proof(n: int, e: int, signature_bytes: int) -> str:
    """A proof carrying the RSA key ``(n, e)`` and a signature that is only noise: the key
    must be refused before any signature work is done."""
    jwk = {"kty": "RSA", "n": b64(n.to_bytes((n.bit_length() + 7) // 8, "big")), "e": b64(
        e.to_bytes((e.bit_length() + 7) // 8, "big"))}  # fmt: skip
    header = {"typ": "dpop+jwt", "alg": "RS256", "jwk": jwk}
    payload = {"jti": "x", "htm": "GET", "htu": URL, "iat": NOW, "ath": "x"}
    return _unsigned(header, payload, b"\x01" * signature_bytes)


def test_rsa_proof_keys_must_use_the_exponent_65537() -> None:
    small = rsa.generate_private_key(public_exponent=3, key_size=2048)
    jwk = RSAAlgorithm.to_jwk(small.public_key(), as_dict=True)
    proof = ProofKey("RS256").proof(
        "GET", URL, access_token=TOKEN, iat=NOW, header={"jwk": jwk}, signing_key=small
    )
    assert refused_code(proof) == "rsa_exponent"
    modulus = small.public_key().public_numbers().n
    assert refused_code(_rsa_proof(modulus, (1 << 3000) + 1, 256)) == "rsa_exponent"


def test_rsa_proof_keys_over_4096_bits_are_refused() -> None:
    modulus = (1 << 4100) | 1
    assert refused_code(_rsa_proof(modulus, 65537, 513)) == "rsa_key_size"


def test_an_ed448_key_is_refused_under_eddsa() -> None:
    private = ed448.Ed448PrivateKey.generate()
    jwk = OKPAlgorithm.to_jwk(private.public_key(), as_dict=True)
    proof = ProofKey("EdDSA").proof(
        "GET", URL, access_token=TOKEN, iat=NOW, header={"jwk": jwk}, signing_key=private
    )
    assert refused_code(proof) == "alg_key_mismatch"


def check_with(keys: ProofKeys, proof: str) -> Any:
    return check_proof(
        proof,
        method="GET",
        htu=URL,
        access_token=TOKEN,
        now=NOW,
        iat_window_seconds=60,
        iat_future_seconds=5,
        max_bytes=8192,
        keys=keys,
    )


def test_a_remembered_header_still_needs_a_good_signature(key: ProofKey) -> None:
    keys = ProofKeys()
    first = make(key, claims={"jti": "one"})
    assert check_with(keys, first).jkt == key.jkt
    assert len(keys) == 1
    # Same header, new claims, a signature by another key: the remembered key refuses it.
    other = ec.generate_private_key(ec.SECP256R1())
    forged = make(key, claims={"jti": "two"}, signing_key=other)
    assert forged.split(".")[0] == first.split(".")[0]
    with pytest.raises(InvalidDPoPProof) as info:
        check_with(keys, forged)
    assert info.value.code == "bad_signature"
    assert check_with(keys, make(key, claims={"jti": "three"})).jti == "three"


def test_only_headers_whose_signature_verified_are_remembered(key: ProofKey) -> None:
    keys = ProofKeys()
    proof = make(key)
    head, payload, _ = proof.split(".")
    with pytest.raises(InvalidDPoPProof):
        check_with(keys, f"{head}.{payload}.{b64(b'x' * 64)}")
    assert len(keys) == 0
    with pytest.raises(InvalidDPoPProof):
        check_with(keys, make(key, header={"typ": "JWT"}))
    assert len(keys) == 0


def test_remembered_keys_are_bounded_least_recently_used_first_out() -> None:
    keys = ProofKeys(max_entries=2)
    first, second, third = ProofKey("ES256"), ProofKey("ES256"), ProofKey("ES256")
    for each in (first, second):
        check_with(keys, make(each))
    check_with(keys, make(first))  # used again: the second is now the oldest
    check_with(keys, make(third))
    assert len(keys) == 2
    assert keys.get(make(second).split(".")[0].encode()) is None
    assert keys.get(make(first).split(".")[0].encode()) is not None
