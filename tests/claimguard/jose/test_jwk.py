from __future__ import annotations

from typing import Any

import pytest

from claimguard.jose._jwk import SUPPORTED_ALGORITHMS, UnusableKey, parse_jwk

from ..conftest import SigningKey

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


@pytest.mark.parametrize(
    ("alg", "curve_name", "size"),
    [("ES256", "SECP256R1", 32), ("ES384", "SECP384R1", 48), ("ES512", "SECP521R1", 66)],
)
def test_the_ecdsa_twin_verifies_on_every_curve(alg: str, curve_name: str, size: int) -> None:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
    from jwt.algorithms import ECAlgorithm

    from claimguard.jose._jwk import ecdsa_twin

    private = ec.generate_private_key(getattr(ec, curve_name)())
    key = parse_jwk(ECAlgorithm.to_jwk(private.public_key(), as_dict=True), frozenset({alg}))
    check = key.verifiers[alg]
    hash_alg = {"ES256": hashes.SHA256, "ES384": hashes.SHA384, "ES512": hashes.SHA512}[alg]
    for message in (b"a", b"b", b"c", b"d"):
        r, s = decode_dss_signature(private.sign(message, ec.ECDSA(hash_alg())))
        raw = r.to_bytes(size, "big") + s.to_bytes(size, "big")
        twin = ecdsa_twin(raw, alg)
        assert twin is not None
        assert twin != raw
        assert check(message, raw)
        assert check(message, twin)
        assert ecdsa_twin(twin, alg) == raw
        assert not check(message + b"!", twin)


def test_ecdsa_twin_is_none_for_impossible_signatures() -> None:
    from claimguard.jose._jwk import ecdsa_twin

    assert ecdsa_twin(b"\x00" * 64, "ES256") is None  # s == 0
    assert ecdsa_twin(b"\xff" * 64, "ES256") is None  # s >= n
    assert ecdsa_twin(b"\x01" * 63, "ES256") is None  # wrong length
    assert ecdsa_twin(b"\x01" * 64, "RS256") is None


def test_keys_are_named_by_their_rfc7638_thumbprint(rsa_key: SigningKey) -> None:
    # RFC 7638 §3.1's example key and thumbprint.
    jwk = {
        "kty": "RSA",
        "n": (
            "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tS"
            "oc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65Y"
            "GjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdk"
            "t-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqD"
            "Kgw"
        ),
        "e": "AQAB",
        "alg": "RS256",
        "kid": "2011-04-29",
    }
    key = parse_jwk(jwk, frozenset({"RS256"}))
    assert key.thumbprint == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
    renamed = parse_jwk({**jwk, "kid": "another"}, frozenset({"RS256"}))
    assert renamed.thumbprint == key.thumbprint
    assert parse_jwk(rsa_key.public_jwk, SUPPORTED_ALGORITHMS).thumbprint != key.thumbprint
