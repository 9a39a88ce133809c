"""Turning one JWK (RFC 7517) into a key that can check signatures, or a reason it cannot.

A key is usable only for the algorithms its type and curve allow (RFC 7518 §3), narrowed
further by its own ``alg`` member and by the verifier's allowlist. The checks that make
a key unusable — wrong ``use``, symmetric keys, short RSA moduli, points off the curve —
are each named here, and the JWKS cache skips such keys instead of failing.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm
from jwt.exceptions import PyJWTError

__all__ = [
    "ECDSA_ALGORITHMS",
    "SUPPORTED_ALGORITHMS",
    "UnusableKey",
    "VerificationKey",
    "ecdsa_twin",
    "parse_jwk",
]

MIN_RSA_BITS = 2048

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "256": hashes.SHA256,
    "384": hashes.SHA384,
    "512": hashes.SHA512,
}
_EC_ALG_FOR_CURVE = {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}
_EC_COORD_BYTES = {"ES256": 32, "ES384": 48, "ES512": 66}
# The order n of each curve's base point (SEC 2 §2.4.2, §2.5.1, §2.6.1).
_EC_ORDER = {
    "ES256": 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
    "ES384": int(
        "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF"
        "C7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973",
        16,
    ),
    "ES512": int(
        "01FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFA"
        "51868783BF2F966B7FCC0148F709A5D03BB5C9B8899C47AEBB6FB71E91386409",
        16,
    ),
}
ECDSA_ALGORITHMS = frozenset(_EC_ORDER)
# RFC 7638 §3.2: the members that identify a public key, per key type.
_THUMBPRINT_MEMBERS = {
    "RSA": ("e", "kty", "n"),
    "EC": ("crv", "kty", "x", "y"),
    "OKP": ("crv", "kty", "x"),
}
_RSA_ALGS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"})
# RFC 9864 names the fully-specified "Ed25519" and "Ed448" and deprecates "EdDSA".
_OKP_ALGS_FOR_CURVE = {
    "Ed25519": frozenset({"EdDSA", "Ed25519"}),
    "Ed448": frozenset({"EdDSA", "Ed448"}),
}
SUPPORTED_ALGORITHMS = (
    _RSA_ALGS | frozenset(_EC_ALG_FOR_CURVE.values()) | {"EdDSA", "Ed25519", "Ed448"}
)

Verify = Callable[[bytes, bytes], bool]
"""``verify(signing_input, signature) -> bool``; never raises."""


class UnusableKey(Exception):
    """A JWK that cannot verify any allowed algorithm; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class VerificationKey:
    """A parsed public key with one ready verify function per algorithm it may check.

    ``thumbprint`` (RFC 7638, SHA-256) names the key material itself: an issuer may reuse
    a ``kid`` for a new key, so whatever must follow the key follows the thumbprint.
    """

    kid: str | None
    kty: str
    verifiers: Mapping[str, Verify]
    thumbprint: str

    @property
    def algorithms(self) -> frozenset[str]:
        return frozenset(self.verifiers)


def _rsa_verifier(key: rsa.RSAPublicKey, alg: str) -> Verify:
    hash_cls = _HASHES[alg[2:]]
    pad: padding.AsymmetricPadding
    if alg.startswith("PS"):
        # RFC 7518 §3.5: the salt is as long as the hash output.
        pad = padding.PSS(mgf=padding.MGF1(hash_cls()), salt_length=hash_cls().digest_size)
    else:
        pad = padding.PKCS1v15()
    hash_obj = hash_cls()

    def verify(message: bytes, signature: bytes) -> bool:
        try:
            key.verify(signature, message, pad, hash_obj)
        except (InvalidSignature, ValueError):
            return False
        return True

    return verify


def _ec_verifier(key: ec.EllipticCurvePublicKey, alg: str) -> Verify:
    size = _EC_COORD_BYTES[alg]
    scheme = ec.ECDSA(_HASHES[alg[2:]]())

    def verify(message: bytes, signature: bytes) -> bool:
        # RFC 7518 §3.4: exactly R || S, each the curve's size. DER or any other length
        # is refused; r or s of zero or >= n fail inside OpenSSL.
        if len(signature) != 2 * size:
            return False
        r = int.from_bytes(signature[:size], "big")
        s = int.from_bytes(signature[size:], "big")
        if r == 0 or s == 0:
            return False
        try:
            key.verify(encode_dss_signature(r, s), message, scheme)
        except (InvalidSignature, ValueError):
            return False
        return True

    return verify


def ecdsa_twin(signature: bytes, alg: str) -> bytes | None:
    """The other valid spelling ``R || (n - S)`` of an ECDSA signature, or ``None``.

    ECDSA signatures are malleable: when ``(r, s)`` verifies, so does ``(r, n - s)`` over
    the same message with the same key. Low-S is not required of signers (RFC 7518 §3.4
    does not ask for it, and honest signers produce high S half the time), so both
    spellings are valid; this names the second so that one token is one token.
    """
    order = _EC_ORDER.get(alg)
    size = _EC_COORD_BYTES.get(alg)
    if order is None or size is None or len(signature) != 2 * size:
        return None
    s = int.from_bytes(signature[size:], "big")
    if not 0 < s < order:
        return None
    return signature[:size] + (order - s).to_bytes(size, "big")


def _thumbprint(jwk: Mapping[str, Any]) -> str:
    # RFC 7638 §3: the required members only, sorted, no white space, then SHA-256.
    members = {name: jwk[name] for name in _THUMBPRINT_MEMBERS[jwk["kty"]]}
    canonical = json.dumps(members, sort_keys=True, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()).rstrip(b"=").decode()


def _okp_verifier(key: ed25519.Ed25519PublicKey | ed448.Ed448PublicKey) -> Verify:
    def verify(message: bytes, signature: bytes) -> bool:
        try:
            key.verify(signature, message)
        except (InvalidSignature, ValueError):
            return False
        return True

    return verify


def _candidate_algorithms(jwk: Mapping[str, Any]) -> frozenset[str]:
    kty = jwk.get("kty")
    if kty == "RSA":
        return _RSA_ALGS
    if kty == "EC":
        alg = _EC_ALG_FOR_CURVE.get(jwk.get("crv"))  # type: ignore[arg-type]
        if alg is None:
            raise UnusableKey(f"unsupported EC curve {jwk.get('crv')!r}")
        return frozenset({alg})
    if kty == "OKP":
        algs = _OKP_ALGS_FOR_CURVE.get(jwk.get("crv"))  # type: ignore[arg-type]
        if algs is None:
            raise UnusableKey(f"unsupported OKP curve {jwk.get('crv')!r}")
        return algs
    if kty == "oct":
        raise UnusableKey("symmetric keys are never used with a JWKS")
    raise UnusableKey(f"unsupported key type {kty!r}")


def _check_intended_use(jwk: Mapping[str, Any]) -> None:
    use = jwk.get("use")
    if use is not None and use != "sig":
        raise UnusableKey(f"key 'use' is {use!r}, not 'sig'")
    key_ops = jwk.get("key_ops")
    if key_ops is not None and (not isinstance(key_ops, list) or "verify" not in key_ops):
        raise UnusableKey("key 'key_ops' does not include 'verify'")
    if "d" in jwk:
        raise UnusableKey("the JWKS publishes private key material")


def parse_jwk(jwk: Any, allowed_algorithms: frozenset[str]) -> VerificationKey:
    """Parse one JWK into a :class:`VerificationKey`; raise :class:`UnusableKey` if it is not."""
    if not isinstance(jwk, dict):
        raise UnusableKey("JWKS entry is not an object")
    kid = jwk.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise UnusableKey("key 'kid' is not a string")
    _check_intended_use(jwk)
    algorithms = _candidate_algorithms(jwk)
    key_alg = jwk.get("alg")
    if key_alg is not None and not (jwk.get("kty") == "OKP" and key_alg in algorithms):
        # RFC 7517 §4.4: a key that names its algorithm is used with that one only
        # ("EdDSA" and its RFC 9864 name for the key's curve are the same algorithm).
        algorithms = algorithms & {key_alg}
    algorithms = algorithms & allowed_algorithms
    if not algorithms:
        raise UnusableKey("key cannot verify any allowed algorithm")

    verifiers: dict[str, Verify] = {}
    try:
        if jwk["kty"] == "RSA":
            rsa_key = RSAAlgorithm.from_jwk(jwk)
            if not isinstance(rsa_key, rsa.RSAPublicKey):
                raise UnusableKey("not an RSA public key")
            if rsa_key.key_size < MIN_RSA_BITS:
                raise UnusableKey(f"RSA key has {rsa_key.key_size} bits, fewer than 2048")
            verifiers = {alg: _rsa_verifier(rsa_key, alg) for alg in algorithms}
        elif jwk["kty"] == "EC":
            ec_key = ECAlgorithm.from_jwk(jwk)
            if not isinstance(ec_key, ec.EllipticCurvePublicKey):
                raise UnusableKey("not an EC public key")
            verifiers = {alg: _ec_verifier(ec_key, alg) for alg in algorithms}
        else:
            okp_key = OKPAlgorithm.from_jwk(jwk)
            if not isinstance(okp_key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
                raise UnusableKey("not an EdDSA public key")
            verify = _okp_verifier(okp_key)
            verifiers = dict.fromkeys(algorithms, verify)
    except (PyJWTError, ValueError, TypeError, KeyError) as exc:
        # Off-curve points, bad base64 and missing members all land here.
        raise UnusableKey(f"key material is invalid: {exc}") from exc
    return VerificationKey(
        kid=kid, kty=jwk["kty"], verifiers=verifiers, thumbprint=_thumbprint(jwk)
    )
