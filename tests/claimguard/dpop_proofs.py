"""Making DPoP proofs in tests: a key generated with cryptography, proofs signed with PyJWT.

``ProofKey("ES256").proof("GET", "http://testserver/whoami", access_token=token)`` gives a
valid proof; ``header=``/``claims=`` override or (with ``DROP``) remove members, so a test
can break exactly one rule of RFC 9449 §4.3.
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

# PyJWT signs Ed25519 only as EdDSA; RFC 9864 names it Ed25519.
_JWS = jwt.PyJWS()
_JWS.register_algorithm("Ed25519", OKPAlgorithm())

DROP: Any = object()
ALGS = 'algs="ES256 EdDSA Ed25519 RS256 PS256"'


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def ath(token: str) -> str:
    return b64(hashlib.sha256(token.encode()).digest())


def bearer_part(challenge: str) -> str:
    """The ``Bearer`` challenge of a ``WWW-Authenticate`` value that may hold a ``DPoP`` one."""
    return challenge.partition(", DPoP ")[0]


class ProofKey:
    """A DPoP key pair: ``jwk`` (public), ``jkt`` (RFC 7638 thumbprint), ``proof(...)``."""

    def __init__(self, alg: str = "ES256") -> None:
        self.alg = alg
        if alg == "ES256":
            self.private: Any = ec.generate_private_key(ec.SECP256R1())
            self.jwk = ECAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
            members = ("crv", "kty", "x", "y")
        elif alg in ("EdDSA", "Ed25519"):
            self.private = ed25519.Ed25519PrivateKey.generate()
            self.jwk = OKPAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
            members = ("crv", "kty", "x")
        else:
            self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            self.jwk = RSAAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
            members = ("e", "kty", "n")
        canonical = json.dumps({m: self.jwk[m] for m in members}, separators=(",", ":"))
        self.jkt = b64(hashlib.sha256(canonical.encode()).digest())

    def proof(
        self,
        method: str,
        url: str,
        *,
        access_token: str | None,
        iat: float,
        nonce: str | None = None,
        header: dict[str, Any] | None = None,
        claims: dict[str, Any] | None = None,
        signing_key: Any = None,
    ) -> str:
        hdr: dict[str, Any] = {"typ": "dpop+jwt", "alg": self.alg, "jwk": self.jwk}
        hdr.update(header or {})
        payload: dict[str, Any] = {"jti": str(uuid.uuid4()), "htm": method, "htu": url, "iat": iat}
        if access_token is not None:
            payload["ath"] = ath(access_token)
        if nonce is not None:
            payload["nonce"] = nonce
        payload.update(claims or {})
        hdr = {k: v for k, v in hdr.items() if v is not DROP}
        payload = {k: v for k, v in payload.items() if v is not DROP}
        alg = hdr.pop("alg")
        return _JWS.encode(
            json.dumps(payload).encode(), signing_key or self.private, algorithm=alg, headers=hdr
        )
