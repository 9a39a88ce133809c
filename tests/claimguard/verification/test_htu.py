"""The ``htu`` normal form (RFC 9449 §4.3 check 9, RFC 3986 §6.2.2) and the request's URL."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from claimguard import ConfigurationError
from claimguard.verification._htu import check_public_origin, normalize_htu, request_htu


@pytest.mark.parametrize(
    "spelling",
    [
        "https://api.example.com/a/b",
        "HTTPS://API.Example.COM/a/b",
        "https://api.example.com:443/a/b",
        "https://api.example.com/%61/b",
        "https://api.example.com/a/./b",
        "https://api.example.com/a/x/../b",
        "https://api.example.com/a/b?query=1",
        "https://api.example.com/a/b#fragment",
        "wss://api.example.com/a/b",
    ],
)
def test_equivalent_spellings_have_one_normal_form(spelling: str) -> None:
    assert normalize_htu(spelling) == "https://api.example.com/a/b"


@pytest.mark.parametrize(
    "other",
    [
        "http://api.example.com/a/b",
        "https://api.example.com:8443/a/b",
        "https://api.example.com/a/B",
        "https://api.example.com/a%2Fb",
        "https://other.example.com/a/b",
        "https://api.example.com/a/b/",
    ],
)
def test_different_urls_stay_different(other: str) -> None:
    assert normalize_htu(other) != "https://api.example.com/a/b"


def test_percent_encoding_hex_is_upper_case() -> None:
    assert normalize_htu("http://h/%c3%a9") == "http://h/%C3%A9"
    assert normalize_htu("http://h") == "http://h/"


@pytest.mark.parametrize(
    "bad",
    [
        "ftp://h/x",
        "/relative",
        "https://user@h/x",
        "https://h:99999/x",
        "http://h/%zz",
        "https:///x",
        5,
    ],
)
def test_urls_that_are_not_http_are_refused(bad: object) -> None:
    with pytest.raises(ValueError, match=r"\w"):
        normalize_htu(bad)  # type: ignore[arg-type]


_SEGMENT = st.text(
    alphabet=string.ascii_letters + string.digits + "-._~!$&'()*+,;=:@", min_size=1, max_size=8
).filter(lambda s: s not in (".", ".."))


_UNRESERVED = frozenset(string.ascii_letters + string.digits + "-._~")


def _respell(segment: str, data: st.DataObject) -> str:
    out = []
    for char in segment:
        # RFC 3986 §6.2.2.2: only unreserved characters mean the same encoded or not.
        if char in _UNRESERVED and data.draw(st.booleans()):
            hex_pair = f"{ord(char):02x}"
            out.append("%" + (hex_pair.upper() if data.draw(st.booleans()) else hex_pair))
        else:
            out.append(char)
    return "".join(out)


@given(segments=st.lists(_SEGMENT, min_size=1, max_size=4), data=st.data())
def test_property_equivalent_spellings_are_accepted(
    segments: list[str], data: st.DataObject
) -> None:
    canonical = normalize_htu("https://api.example.com/" + "/".join(segments))
    host = data.draw(st.sampled_from(["api.example.com", "API.EXAMPLE.COM", "api.example.com:443"]))
    scheme = data.draw(st.sampled_from(["https", "HTTPS", "wss"]))
    path = "/".join(_respell(s, data) for s in segments)
    suffix = data.draw(st.sampled_from(["", "?q=1", "#f", "?a#b"]))
    assert normalize_htu(f"{scheme}://{host}/{path}{suffix}") == canonical


@given(a=st.lists(_SEGMENT, min_size=1, max_size=4), b=st.lists(_SEGMENT, min_size=1, max_size=4))
def test_property_different_paths_are_refused(a: list[str], b: list[str]) -> None:
    left = normalize_htu("https://h/" + "/".join(a))
    right = normalize_htu("https://h/" + "/".join(b))
    assert (left == right) == (a == b)


def test_public_origin_is_an_origin_only() -> None:
    assert check_public_origin("HTTPS://Api.Example.com:443/") == "https://api.example.com"
    assert check_public_origin(None) is None
    for bad in ("https://api.example.com/prefix", "https://h?x", "ftp://h", 3):
        with pytest.raises(ConfigurationError):
            check_public_origin(bad)


def test_request_url_comes_from_the_scope_or_the_public_origin() -> None:
    scope = {
        "scheme": "http",
        "path": "/a b",
        "raw_path": b"/a%20b",
        "query_string": b"x=1",
        "headers": [(b"host", b"Internal:8000"), (b"x-forwarded-host", b"evil.example")],
        "server": ("10.0.0.1", 8000),
    }
    assert request_htu(scope, None) == "http://internal:8000/a%20b"
    assert request_htu(scope, "https://api.example.com") == "https://api.example.com/a%20b"
    without_host = {**scope, "headers": []}
    assert request_htu(without_host, None) == "http://10.0.0.1:8000/a%20b"
    with pytest.raises(ValueError, match="Host"):
        request_htu({**scope, "headers": [(b"host", b"a/b")]}, None)
