"""Proofs from the npm package ``dpop`` have the shape RFC 9449 §4.2 gives them, read with
PyJWT: what later interoperability tests rely on when they hand such proofs to claimguard."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from typing import Any

import jwt
import pytest
from jwt.algorithms import get_default_algorithms

from .interop import PRIVATE_MEMBERS, ProofAlg, generate_jwk, node_dpop_proof, require_npm_dpop

URL = "https://api.example.com/orders/7"
TOKEN = "an.access.token"


@pytest.fixture(autouse=True)
def _npm_dpop() -> None:
    require_npm_dpop()


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _thumbprint(jwk: dict[str, Any]) -> str:
    # RFC 7638 §3.2: the required members only, sorted, no whitespace.
    required = {
        "EC": ("crv", "kty", "x", "y"),
        "OKP": ("crv", "kty", "x"),
        "RSA": ("e", "kty", "n"),
    }
    members = {name: jwk[name] for name in required[jwk["kty"]]}
    canonical = json.dumps(members, sort_keys=True, separators=(",", ":"))
    return _b64url(hashlib.sha256(canonical.encode()).digest())


def _verified(proof: str, alg: ProofAlg) -> tuple[dict[str, Any], dict[str, Any]]:
    """The proof's header and claims, after checking its signature with the key it carries."""
    header = jwt.get_unverified_header(proof)
    # PyJWT knows Ed25519 signatures by the older name.
    algorithm = get_default_algorithms()["EdDSA" if alg == "Ed25519" else alg]
    signing_input, _, signature = proof.rpartition(".")
    key = algorithm.from_jwk(header["jwk"])
    signature_bytes = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
    assert algorithm.verify(signing_input.encode(), key, signature_bytes)
    claims = jwt.decode(proof, options={"verify_signature": False})
    return header, claims


@pytest.mark.parametrize("alg", ["ES256", "Ed25519", "RS256", "PS256"])
def test_a_proof_from_the_npm_package_has_the_rfc9449_shape(alg: ProofAlg) -> None:
    private_jwk = generate_jwk(alg)
    proof = node_dpop_proof(
        private_jwk, "POST", URL, alg=alg, access_token=TOKEN, nonce="server-nonce"
    )
    header, claims = _verified(proof, alg)

    assert header["typ"] == "dpop+jwt"
    assert header["alg"] == alg
    assert not PRIVATE_MEMBERS & header["jwk"].keys()
    assert _thumbprint(header["jwk"]) == _thumbprint(private_jwk)
    assert claims["htm"] == "POST"
    assert claims["htu"] == URL
    assert isinstance(claims["iat"], int)
    assert abs(claims["iat"] - time.time()) < 60
    assert isinstance(claims["jti"], str)
    assert claims["jti"]
    assert claims["ath"] == _b64url(hashlib.sha256(TOKEN.encode()).digest())
    assert claims["nonce"] == "server-nonce"


def test_a_proof_without_token_or_nonce_carries_neither() -> None:
    proof = node_dpop_proof(generate_jwk(), "GET", URL)
    _, claims = _verified(proof, "ES256")
    assert "ath" not in claims
    assert "nonce" not in claims
    assert claims["htm"] == "GET"


def test_every_proof_has_its_own_id_and_extra_claims_go_in() -> None:
    private_jwk = generate_jwk()
    first = node_dpop_proof(private_jwk, "GET", URL, additional={"extra": "yes"})
    second = node_dpop_proof(private_jwk, "GET", URL)
    first_claims = _verified(first, "ES256")[1]
    assert first_claims["extra"] == "yes"
    assert first_claims["jti"] != _verified(second, "ES256")[1]["jti"]
