from __future__ import annotations

from typing import Any

import pytest

from claimguard import InvalidRequest
from claimguard.asgi._bearer import bearer_token


def _scope(*headers: tuple[bytes, bytes], query: bytes = b"") -> dict[str, Any]:
    return {"type": "http", "headers": list(headers), "query_string": query}


@pytest.mark.parametrize("scheme", [b"Bearer", b"bearer", b"BEARER", b"bEaReR"])
def test_scheme_is_case_insensitive(scheme: bytes) -> None:
    assert bearer_token(_scope((b"authorization", scheme + b" abc.def.ghi"))) == "abc.def.ghi"


def test_header_name_is_case_insensitive() -> None:
    assert bearer_token(_scope((b"Authorization", b"Bearer tok"))) == "tok"


def test_b64token_alphabet_and_padding_are_accepted() -> None:
    token = "AZaz09-._~+/=="
    assert bearer_token(_scope((b"authorization", b"Bearer " + token.encode()))) == token


def test_several_spaces_after_the_scheme_are_allowed() -> None:
    assert bearer_token(_scope((b"authorization", b"Bearer   tok"))) == "tok"


def test_surrounding_white_space_is_not_part_of_the_value() -> None:
    assert bearer_token(_scope((b"authorization", b"  Bearer tok \t"))) == "tok"


def test_no_header_means_no_token() -> None:
    assert bearer_token(_scope()) is None


@pytest.mark.parametrize("value", [b"Basic dXNlcjpwYXNz", b"Digest x=1", b"DPoP abc"])
def test_other_schemes_carry_no_bearer_token(value: bytes) -> None:
    assert bearer_token(_scope((b"authorization", value))) is None


def test_two_authorization_headers_are_a_malformed_request() -> None:
    with pytest.raises(InvalidRequest, match="more than one"):
        bearer_token(_scope((b"authorization", b"Bearer a"), (b"authorization", b"Bearer b")))


@pytest.mark.parametrize(
    "value",
    [
        b"Bearer",
        b"Bearer ",
        b"Bearer a b",
        b"Bearer a,b",
        b'Bearer "abc"',
        b"Bearer =abc",
        b"Bearer ab=c",
        b"Bearer\tabc",
        b"Bearer a\xffb",
        b"",
        b",",
    ],
)
def test_malformed_bearer_credentials_are_a_malformed_request(value: bytes) -> None:
    with pytest.raises(InvalidRequest):
        bearer_token(_scope((b"authorization", value)))


@pytest.mark.parametrize(
    "query", [b"access_token=abc", b"a=1&access_token=abc", b"%61ccess_token=abc", b"access_token="]
)
def test_query_string_tokens_are_refused(query: bytes) -> None:
    with pytest.raises(InvalidRequest, match="query string"):
        bearer_token(_scope(query=query))


def test_query_string_token_is_refused_even_beside_a_header() -> None:
    with pytest.raises(InvalidRequest):
        bearer_token(_scope((b"authorization", b"Bearer tok"), query=b"access_token=tok"))


def test_other_query_parameters_are_fine() -> None:
    scope = _scope((b"authorization", b"Bearer tok"), query=b"token=1&my_access_token=2")
    assert bearer_token(scope) == "tok"
