from __future__ import annotations

import pytest

from claimguard.jose._fetch import FetchError
from claimguard.jose._jwkset import read_jwk_set

from ..conftest import SigningKey

URL = "https://issuer.example/jwks"
ALGORITHMS = frozenset({"RS256", "ES256"})


def test_usable_keys_are_read_by_kid_and_the_others_skipped_with_a_reason(
    rsa_key: SigningKey, ec_key: SigningKey
) -> None:
    document = {
        "keys": [
            {"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"},
            "not an object",
            rsa_key.public_jwk,
            ec_key.public_jwk,
        ]
    }
    keys, skipped = read_jwk_set(document, URL, ALGORITHMS)
    assert sorted(keys) == sorted([rsa_key.public_jwk["kid"], ec_key.public_jwk["kid"]])
    assert len(skipped) == 2


def test_a_kid_used_twice_names_neither_key(rsa_key: SigningKey, rsa_key_2: SigningKey) -> None:
    document = {"keys": [rsa_key.public_jwk, {**rsa_key_2.public_jwk, "kid": "rsa-1"}]}
    with pytest.raises(FetchError, match="appears more than once"):
        read_jwk_set(document, URL, ALGORITHMS)


@pytest.mark.parametrize("document", [{}, {"keys": {}}, {"keys": []}])
def test_a_set_without_a_keys_list_or_a_usable_key_is_a_failed_fetch(
    document: dict[str, object],
) -> None:
    with pytest.raises(FetchError, match=URL):
        read_jwk_set(document, URL, ALGORITHMS)
