from __future__ import annotations

from typing import Any

import pytest

from claimguard._jwk import SUPPORTED_ALGORITHMS, UnusableKey, parse_jwk

from .conftest import SigningKey

ALL = frozenset(SUPPORTED_ALGORITHMS)


def test_rsa_key_without_alg_serves_every_rsa_algorithm(rsa_key: SigningKey) -> None:
    jwk = {k: v for k, v in rsa_key.public_jwk.items() if k != "alg"}
    key = parse_jwk(jwk, ALL)
    assert key.algorithms == {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}
    assert key.kid == "rsa-1"


def test_key_alg_narrows_to_that_algorithm(rsa_key: SigningKey) -> None:
    assert parse_jwk(rsa_key.public_jwk, ALL).algorithms == {"RS256"}


def test_allowlist_narrows_further(rsa_key: SigningKey) -> None:
    jwk = {k: v for k, v in rsa_key.public_jwk.items() if k != "alg"}
    assert parse_jwk(jwk, frozenset({"PS256", "ES256"})).algorithms == {"PS256"}


def test_ec_curve_fixes_the_algorithm(ec_key: SigningKey) -> None:
    assert parse_jwk(ec_key.public_jwk, ALL).algorithms == {"ES256"}


def test_ed25519_key_verifies_under_both_names(ed_key: SigningKey) -> None:
    # RFC 9864: "Ed25519" is the fully-specified name of EdDSA over Ed25519.
    assert parse_jwk(ed_key.public_jwk, ALL).algorithms == {"EdDSA", "Ed25519"}


def test_verify_functions_check_real_signatures(ec_key: SigningKey) -> None:
    from jwt.algorithms import ECAlgorithm

    key = parse_jwk(ec_key.public_jwk, ALL)
    signature = ECAlgorithm(ECAlgorithm.SHA256).sign(b"message", ec_key.private)
    verify = key.verifiers["ES256"]
    assert verify(b"message", signature)
    assert not verify(b"messagE", signature)
    assert not verify(b"message", signature[:-1])
    assert not verify(b"message", b"\x00" * 64)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"use": "enc"}, "use"),
        ({"key_ops": ["encrypt"]}, "key_ops"),
        ({"d": "AAAA"}, "private"),
        ({"kid": 3}, "kid"),
        ({"alg": "ES256"}, "allowed algorithm"),
        ({"kty": "oct"}, "symmetric"),
        ({"kty": "XYZ"}, "unsupported key type"),
        ({"n": "!!"}, "invalid"),
    ],
)
def test_unusable_keys_say_why(rsa_key: SigningKey, change: dict[str, Any], reason: str) -> None:
    with pytest.raises(UnusableKey, match=reason):
        parse_jwk({**rsa_key.public_jwk, **change}, ALL)


def test_off_curve_point_is_unusable(ec_key: SigningKey) -> None:
    jwk = {**ec_key.public_jwk, "y": ec_key.public_jwk["x"]}
    with pytest.raises(UnusableKey, match="invalid"):
        parse_jwk(jwk, ALL)


def test_non_object_entry_is_unusable() -> None:
    with pytest.raises(UnusableKey, match="not an object"):
        parse_jwk(["kty", "RSA"], ALL)


def test_rsa_keys_under_2048_bits_are_unusable() -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa
    from jwt.algorithms import RSAAlgorithm

    short = rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()
    with pytest.raises(UnusableKey, match="1024 bits"):
        parse_jwk(RSAAlgorithm.to_jwk(short, as_dict=True), ALL)
