"""Signing keys and Auth0-shaped access tokens for the benchmarks.

Tokens are encoded here with ``cryptography`` directly (no JWT library), so every verifier
under test reads bytes that none of them produced.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

__all__ = [
    "ALGORITHMS",
    "AUDIENCE",
    "ISSUER",
    "NAMESPACE",
    "Floor",
    "SigningKey",
    "b64url",
    "b64url_decode",
    "make_key",
]

ALGORITHMS = ("RS256", "ES256", "EdDSA")
ISSUER = "https://tenant.example.auth0.com/"
AUDIENCE = "https://api.example.com"
NAMESPACE = "https://myapp.example.com/"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _uint(value: int) -> str:
    return b64url(value.to_bytes((value.bit_length() + 7) // 8 or 1, "big"))


@dataclass
class SigningKey:
    """A private key the benchmarks sign with, its ``kid`` and its JWS algorithm."""

    alg: str
    private: Any
    kid: str = field(default_factory=lambda: secrets.token_hex(8))

    @property
    def public(self) -> Any:
        return self.private.public_key()

    @property
    def public_jwk(self) -> dict[str, Any]:
        """The public JWK an issuer publishes for this key (RFC 7517, RFC 7518 §6, RFC 8037)."""
        public = self.public
        jwk: dict[str, Any]
        if self.alg == "RS256":
            numbers = public.public_numbers()
            jwk = {"kty": "RSA", "n": _uint(numbers.n), "e": _uint(numbers.e)}
        elif self.alg == "ES256":
            numbers = public.public_numbers()
            jwk = {
                "kty": "EC",
                "crv": "P-256",
                "x": b64url(numbers.x.to_bytes(32, "big")),
                "y": b64url(numbers.y.to_bytes(32, "big")),
            }
        else:
            raw = public.public_bytes_raw()
            jwk = {"kty": "OKP", "crv": "Ed25519", "x": b64url(raw)}
        return {**jwk, "kid": self.kid, "use": "sig", "alg": self.alg}

    def sign(self, signing_input: bytes) -> bytes:
        """The JWS signature of ``signing_input`` (RFC 7518 §3.3, §3.4; RFC 8037 §3.1)."""
        if self.alg == "RS256":
            return bytes(self.private.sign(signing_input, padding.PKCS1v15(), hashes.SHA256()))
        if self.alg == "ES256":
            # JWS carries ECDSA signatures as the fixed-width R || S, not DER (RFC 7518 §3.4).
            der = self.private.sign(signing_input, ec.ECDSA(hashes.SHA256()))
            r, s = decode_dss_signature(der)
            return r.to_bytes(32, "big") + s.to_bytes(32, "big")
        return bytes(self.private.sign(signing_input))

    def claims(self, *, now: float | None = None, **extra: Any) -> dict[str, Any]:
        """The claims of a typical Auth0 access token for a user of this API."""
        issued = int(time.time() if now is None else now)
        return {
            "iss": ISSUER,
            "sub": "auth0|65f0c2a1b2c3d4e5f6a7b8c9",
            "aud": [AUDIENCE, ISSUER + "userinfo"],
            "iat": issued,
            "exp": issued + 86400,
            "scope": "openid profile email read:messages write:messages",
            "azp": "Xq7bZ2mR4tW9yK3nP6sV8cF1hJ5dL0aE",
            "jti": secrets.token_urlsafe(16),
            NAMESPACE + "premium": True,
            **extra,
        }

    def mint(self, claims: dict[str, Any] | None = None, *, header_alg: str | None = None) -> str:
        """A compact JWS of ``claims`` (default: :meth:`claims`) with header ``kid`` and ``typ``."""
        header = {"alg": header_alg or self.alg, "typ": "JWT", "kid": self.kid}
        payload = self.claims() if claims is None else claims
        signing_input = (
            b64url(json.dumps(header, separators=(",", ":")).encode())
            + "."
            + b64url(json.dumps(payload, separators=(",", ":")).encode())
        )
        return signing_input + "." + b64url(self.sign(signing_input.encode("ascii")))


def make_key(alg: str) -> SigningKey:
    """Generate a fresh key for ``alg``: RSA 2048, P-256 or Ed25519."""
    if alg == "RS256":
        return SigningKey(alg, rsa.generate_private_key(public_exponent=65537, key_size=2048))
    if alg == "ES256":
        return SigningKey(alg, ec.generate_private_key(ec.SECP256R1()))
    if alg == "EdDSA":
        return SigningKey(alg, ed25519.Ed25519PrivateKey.generate())
    raise ValueError(f"no key type for {alg!r}")


class Floor:
    """The raw ``cryptography`` verification of one token: the cost no verifier can avoid.

    Everything that can be prepared once is: the key object, padding and hash objects, and
    for ECDSA the DER form of the signature (JWS sends R || S, OpenSSL wants DER).
    :attr:`verify` raises ``InvalidSignature`` unless the signature holds.
    """

    def __init__(self, key: SigningKey, token: str) -> None:
        signing_input_text, _, signature_segment = token.rpartition(".")
        signing_input = signing_input_text.encode("ascii")
        signature = b64url_decode(signature_segment)
        public = key.public
        self.verify: Callable[[], None]
        if key.alg == "RS256":
            self.verify = partial(
                public.verify, signature, signing_input, padding.PKCS1v15(), hashes.SHA256()
            )
        elif key.alg == "ES256":
            r = int.from_bytes(signature[:32], "big")
            s = int.from_bytes(signature[32:], "big")
            der = encode_dss_signature(r, s)
            self.verify = partial(public.verify, der, signing_input, ec.ECDSA(hashes.SHA256()))
        else:
            self.verify = partial(public.verify, signature, signing_input)


def minimal_verifier(key: SigningKey) -> Callable[[str], dict[str, Any]]:
    """The least work any Python verifier must do for a token it has not seen: a yardstick.

    Split at the dots, decode the signature and the payload, check the signature with a
    key object built once, ``json.loads`` the payload and compare ``iss``, ``aud`` and
    ``exp``. Nothing else: no header, no canonical base64url, no duplicate-member or
    depth checks, no typing of claims. It accepts tokens a verifier must refuse, so it
    only shows how much of a verifier's cost is left once the signature is paid for.
    """
    public, alg = key.public, key.alg
    check: Callable[[bytes, bytes], None]
    if alg == "RS256":
        pkcs1, sha256 = padding.PKCS1v15(), hashes.SHA256()

        def check(signing_input: bytes, signature: bytes) -> None:
            public.verify(signature, signing_input, pkcs1, sha256)

    elif alg == "ES256":
        ecdsa = ec.ECDSA(hashes.SHA256())

        def check(signing_input: bytes, signature: bytes) -> None:
            r = int.from_bytes(signature[:32], "big")
            s = int.from_bytes(signature[32:], "big")
            public.verify(encode_dss_signature(r, s), signing_input, ecdsa)

    else:

        def check(signing_input: bytes, signature: bytes) -> None:
            public.verify(signature, signing_input)

    def verify(token: str) -> dict[str, Any]:
        signing_input, _, signature = token.rpartition(".")
        check(signing_input.encode("ascii"), b64url_decode(signature))
        claims: dict[str, Any] = json.loads(b64url_decode(signing_input.partition(".")[2]))
        aud = claims["aud"]
        if (
            claims["iss"] != ISSUER
            or AUDIENCE not in (aud if isinstance(aud, list) else [aud])
            or claims["exp"] <= time.time()
        ):
            raise ValueError("token refused")
        return claims

    return verify
