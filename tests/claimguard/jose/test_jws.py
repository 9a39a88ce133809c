from __future__ import annotations

import base64
import json

import pytest

from claimguard import InvalidToken
from claimguard.jose._jws import decode_json_object, parse_header, split_compact


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _token(header: dict[str, object] | str, payload: str = '{"a":1}', sig: bytes = b"sig!") -> str:
    head = header if isinstance(header, str) else json.dumps(header)
    return ".".join([_b64(head.encode()), _b64(payload.encode()), _b64(sig)])


def _parse_all(token: str) -> None:
    jws = split_compact(token, max_bytes=16384)
    parse_header(jws.header_segment)
    decode_json_object(jws.payload, "payload")


def _code(token: str) -> str:
    with pytest.raises(InvalidToken) as info:
        _parse_all(token)
    return info.value.code


def test_a_compact_jws_splits_into_its_parts() -> None:
    token = _token({"alg": "RS256", "kid": "k"}, sig=b"\x00\x01\xff")
    jws = split_compact(token, max_bytes=16384)
    assert jws.signature == b"\x00\x01\xff"
    assert jws.signing_input == token.rsplit(".", 1)[0].encode()
    assert parse_header(jws.header_segment) == ("RS256", "k", None)
    assert decode_json_object(jws.payload, "payload") == {"a": 1}


@pytest.mark.parametrize(
    "token",
    [
        "",
        "abc",
        "a.b",
        "a.b.c.d",
        "a..c",
        ".b.c",
        "a.b.",
        "a b.c.d",
        "YQ==.YQ.YQ",  # padding is not base64url
        "a+b.c.d",
        "a/b.c.d",
        "ä.b.c",
    ],
)
def test_malformed_shapes_are_refused(token: str) -> None:
    assert _code(token) == "malformed"


def test_five_segments_are_jwe_and_refused() -> None:
    with pytest.raises(InvalidToken, match="JWE"):
        split_compact("a.b.c.d.e", max_bytes=100)


def test_non_canonical_base64url_is_refused() -> None:
    token = _token({"alg": "RS256"})
    header, payload, sig = token.split(".")
    # "sig!" encodes to "c2lnIQ"; "c2lnIR" decodes to the same bytes with a stray bit.
    assert sig == "c2lnIQ"
    with pytest.raises(InvalidToken, match="canonical"):
        split_compact(f"{header}.{payload}.c2lnIR", max_bytes=16384)


def test_size_cap() -> None:
    with pytest.raises(InvalidToken) as info:
        split_compact("a" * 20000, max_bytes=16384)
    assert info.value.code == "too_large"


@pytest.mark.parametrize(
    "payload",
    [
        '{"a":1,"a":2}',
        '{"a":NaN}',
        '{"a":Infinity}',
        '{"a":1e400}',
        '{"a":' + "1" * 5000 + "}",
        "[1,2]",
        '"text"',
        '{"a":' + "[" * 5000 + "]" * 5000 + "}",
        "{",
    ],
)
def test_payloads_that_are_not_plain_json_objects_are_refused(payload: str) -> None:
    assert _code(_token({"alg": "RS256"}, payload)) == "malformed"


def test_invalid_utf8_is_refused() -> None:
    token = ".".join([_b64(b'{"alg":"RS256"}'), _b64(b'{"a":"\xff"}'), _b64(b"s")])
    assert _code(token) == "malformed"


@pytest.mark.parametrize(
    ("header", "code"),
    [
        ({"alg": "RS256", "enc": "A128GCM"}, "unsupported_header"),
        ({"alg": "RS256", "b64": False, "crit": ["b64"]}, "unsupported_header"),
        ({"alg": "RS256", "crit": ["exp"]}, "unsupported_header"),
        ({"alg": "RS256", "zip": "DEF"}, "unsupported_header"),
        ({"alg": "RS256", "cty": "JWT"}, "unsupported_header"),
        ({"alg": 256}, "malformed"),
        ({"kid": "k"}, "malformed"),
        ({"alg": "RS256", "kid": 7}, "malformed"),
        ({"alg": "RS256", "typ": ["JWT"]}, "malformed"),
    ],
)
def test_header_rules(header: dict[str, object], code: str) -> None:
    assert _code(_token(header)) == code


def test_key_carrying_headers_are_ignored_not_refused() -> None:
    header = {"alg": "RS256", "jku": "https://evil.example/jwks", "x5u": "https://evil.example/c"}
    jws = split_compact(_token({**header, "jwk": {"kty": "oct"}, "x5c": ["AA"]}), max_bytes=9999)
    assert parse_header(jws.header_segment).alg == "RS256"
