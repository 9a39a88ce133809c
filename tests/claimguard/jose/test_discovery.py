"""The discovery failure names the issuer the document gives, and the fix for a near miss."""

from __future__ import annotations

import pytest

from claimguard.jose._discovery import issuer_mismatch

URL = "http://127.0.0.1:9000/.well-known/openid-configuration"


def test_a_trailing_slash_is_named() -> None:
    message = issuer_mismatch(URL, "http://127.0.0.1:9000", "http://127.0.0.1:9000/")
    assert message == (
        f"discovery at {URL} names another issuer: 'http://127.0.0.1:9000/', configured "
        "'http://127.0.0.1:9000' — check the trailing slash: tokens carry the issuer's own "
        "spelling, so configure issuer='http://127.0.0.1:9000/'"
    )


def test_localhost_and_127_0_0_1_are_named() -> None:
    message = issuer_mismatch(URL, "http://127.0.0.1:9000/", "http://localhost:9000/")
    assert "'localhost' and '127.0.0.1' are the same machine but different issuers" in message
    assert message.endswith("configure issuer='http://localhost:9000/'")


def test_the_scheme_is_named_and_an_unusable_fix_is_not_offered() -> None:
    message = issuer_mismatch(
        "https://issuer.example.com/.well-known/openid-configuration",
        "https://issuer.example.com/",
        "http://issuer.example.com/",
    )
    assert "the scheme differs (http, configured https)" in message
    assert message.endswith("so fix the issuer URL")


def test_several_near_misses_are_all_named() -> None:
    message = issuer_mismatch(URL, "https://localhost:9000", "http://127.0.0.1:9000/")
    assert "the scheme differs" in message
    assert "same machine" in message
    assert "check the trailing slash" in message


@pytest.mark.parametrize(
    "named",
    [
        "https://evil.example.com/",
        "http://127.0.0.1:9001/",
        "http://127.0.0.1:9000/tenant/",
        "http://10.0.0.1:9000/",
    ],
)
def test_a_different_issuer_gets_no_hint(named: str) -> None:
    message = issuer_mismatch(URL, "http://127.0.0.1:9000/", named)
    assert message == (
        f"discovery at {URL} names another issuer: {named!r}, configured 'http://127.0.0.1:9000/'"
    )


def test_an_issuer_that_is_not_a_string_is_said_so() -> None:
    message = issuer_mismatch(URL, "http://127.0.0.1:9000/", None)
    assert message == f"discovery at {URL} names no issuer (its 'issuer' is not a string)"


def test_a_huge_named_issuer_is_cut_short() -> None:
    message = issuer_mismatch(URL, "http://127.0.0.1:9000/", "https://x/" + "a" * 10_000)
    assert len(message) < 400
