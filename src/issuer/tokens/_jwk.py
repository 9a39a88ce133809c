"""Public JWKs for DPoP: the algorithm allowlist, the key checks and RFC 7638 thumbprints."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

__all__ = ["DPOP_ALGS", "JWKError", "public_key", "pyjwt_algorithm", "thumbprint"]

#: Asymmetric algorithms a DPoP proof may use (RFC 9449 §4.3 point 5: never ``none`` or MAC).
#: ``Ed25519`` is RFC 9864's fully-specified name for ``EdDSA`` with an Ed25519 key; clients
#: that follow it sign proofs with that name, so both are accepted.
DPOP_ALGS = ("ES256", "EdDSA", "Ed25519", "RS256", "PS256")
_KTY = {"ES256": ("EC", "P-256"), "EdDSA": ("OKP", "Ed25519"), "Ed25519": ("OKP", "Ed25519"),
        "RS256": ("RSA", None), "PS256": ("RSA", None)}  # fmt: skip
# RFC 7638 §3.2: the required members of each key type, in lexicographic order.
_REQUIRED = {"EC": ("crv", "kty", "x", "y"), "OKP": ("crv", "kty", "x"), "RSA": ("e", "kty", "n")}
# RFC 7518 §6.2.2, §6.3.2 and RFC 8037 §2: members only a private key has.
_PRIVATE = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
MIN_RSA_BITS = 2048
# The proof is checked before the grant, for anyone: a huge modulus or exponent would make
# each unauthenticated request cost milliseconds of CPU. Clients generate e = 65537.
MAX_RSA_BITS = 4096
RSA_EXPONENT = 65537


def pyjwt_algorithm(alg: str) -> Any:
    """PyJWT's implementation of the DPoP algorithm ``alg`` (PyJWT knows Ed25519 as EdDSA)."""
    return jwt.get_algorithm_by_name("EdDSA" if alg == "Ed25519" else alg)


class JWKError(ValueError):
    """A JWK that cannot serve as a DPoP proof key; the message says why."""


def thumbprint(jwk: Mapping[str, Any]) -> str:
    """The RFC 7638 SHA-256 thumbprint of a public ``jwk``, base64url without padding."""
    members = _REQUIRED.get(str(jwk.get("kty")))
    if members is None or not all(isinstance(jwk.get(m), str) for m in members):
        raise JWKError("the key lacks the members its type requires")
    canonical = json.dumps({m: jwk[m] for m in members}, separators=(",", ":"), sort_keys=True)
    digest = hashlib.sha256(canonical.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def public_key(jwk: object, alg: str) -> Any:
    """The key object for ``jwk``, which must be a public key of the type ``alg`` needs.

    Raises :class:`JWKError` for a private key (RFC 9449 §4.3 point 7), a key type or curve
    that does not match ``alg``, an RSA key outside 2048 to 4096 bits or with an exponent
    other than 65537, or a key that does not parse.
    """
    if not isinstance(jwk, dict):
        raise JWKError("jwk is not a JSON object")
    if _PRIVATE & jwk.keys():
        raise JWKError("jwk holds private key material")
    kty, crv = _KTY[alg]
    if jwk.get("kty") != kty or (crv is not None and jwk.get("crv") != crv):
        raise JWKError(f"jwk is not a {crv or kty} key, as {alg} needs")
    try:
        key = pyjwt_algorithm(alg).from_jwk(jwk)
    except (jwt.PyJWTError, ValueError, TypeError, KeyError) as exc:
        raise JWKError(f"jwk does not parse: {exc}") from None
    if isinstance(key, rsa.RSAPublicKey):
        _check_rsa_cost(key)
    if hasattr(key, "private_bytes"):
        raise JWKError("jwk holds private key material")
    return key


def _check_rsa_cost(key: rsa.RSAPublicKey) -> None:
    if not MIN_RSA_BITS <= key.key_size <= MAX_RSA_BITS:
        raise JWKError(f"the RSA key has {key.key_size} bits, not {MIN_RSA_BITS} to {MAX_RSA_BITS}")
    if key.public_numbers().e != RSA_EXPONENT:
        raise JWKError(f"the RSA key's exponent is not {RSA_EXPONENT}")
