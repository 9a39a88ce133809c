"""Which public keys may sign a DPoP proof, decided before any signature work is done.

A proof's key comes from the unauthenticated sender, and its signature is checked before
the access token is (RFC 9449 §4.3), so the key must not be able to make that check
expensive. RSA verification costs grow with the modulus and the public exponent: only
``e = 65537`` and moduli of 2048 to 4096 bits are taken, which covers every key a client
generates by default. The advertised algorithms name Ed25519 only (RFC 9449 §4.3 check
5 asks that the key fit the algorithm), so an ``OKP`` key on another curve is refused.
The access token's own keys come from the configured issuer and are not limited here.
"""

from __future__ import annotations

from typing import Any

from .._errors import InvalidDPoPProof, InvalidToken
from ..jose._jws import b64_decode

__all__ = ["MAX_RSA_BITS", "MIN_RSA_BITS", "RSA_EXPONENT", "check_proof_jwk"]

MIN_RSA_BITS = 2048
MAX_RSA_BITS = 4096
RSA_EXPONENT = 65537


def check_proof_jwk(jwk: dict[str, Any]) -> None:
    """Refuse a proof ``jwk`` whose curve or RSA numbers are outside the rules above."""
    kty = jwk.get("kty")
    if kty == "OKP" and jwk.get("crv") != "Ed25519":
        raise InvalidDPoPProof(
            "alg_key_mismatch", "The DPoP proof's algorithm does not fit its key."
        )
    if kty != "RSA":
        return
    modulus, exponent = _unsigned(jwk.get("n")), _unsigned(jwk.get("e"))
    if not MIN_RSA_BITS <= modulus.bit_length() <= MAX_RSA_BITS:
        raise InvalidDPoPProof(
            "rsa_key_size",
            f"The DPoP proof's RSA key must have {MIN_RSA_BITS} to {MAX_RSA_BITS} bits.",
        )
    if exponent != RSA_EXPONENT:
        raise InvalidDPoPProof(
            "rsa_exponent", f"The DPoP proof's RSA key must use the exponent {RSA_EXPONENT}."
        )


def _unsigned(member: object) -> int:
    try:
        if not isinstance(member, str):
            raise InvalidToken("malformed", "The value is not a string.")
        return int.from_bytes(b64_decode(member.encode("ascii")), "big")
    except (InvalidToken, UnicodeEncodeError):
        raise InvalidDPoPProof("bad_jwk", "The DPoP proof's jwk is not a usable key.") from None
