from __future__ import annotations

import json

import pytest

from claimguard import (
    ConfigurationError,
    InsufficientClaims,
    InvalidRequest,
    InvalidToken,
    KeySetUnavailable,
)
from claimguard.asgi._challenge import Challenger


def test_missing_token_challenge_has_no_error_code() -> None:
    answer = Challenger(realm="shop").missing_token()
    assert answer.status == 401
    assert answer.www_authenticate == 'Bearer realm="shop"'
    assert json.loads(answer.body) == {
        "error": "unauthorized",
        "error_description": "A bearer token is required.",
    }


def test_invalid_token_challenge() -> None:
    answer = Challenger().for_error(InvalidToken("expired", "The token has expired."))
    assert answer.status == 401
    assert answer.www_authenticate == (
        'Bearer realm="api", error="invalid_token", error_description="The token has expired."'
    )
    assert json.loads(answer.body) == {
        "error": "invalid_token",
        "error_description": "The token has expired.",
    }


def test_invalid_request_challenge_is_400() -> None:
    answer = Challenger().for_error(InvalidRequest("Two tokens."))
    assert answer.status == 400
    assert answer.www_authenticate is not None
    assert 'error="invalid_request"' in answer.www_authenticate


def test_insufficient_scope_names_the_missing_scopes() -> None:
    error = InsufficientClaims("Lacks premium.", required=("premium", "roles:admin"))
    answer = Challenger().for_error(error)
    assert answer.status == 403
    assert answer.www_authenticate == (
        'Bearer realm="api", error="insufficient_scope", '
        'error_description="Lacks premium.", scope="premium roles:admin"'
    )


def test_insufficient_scope_without_named_scopes_has_no_scope_parameter() -> None:
    answer = Challenger().for_error(InsufficientClaims("No."))
    assert answer.www_authenticate is not None
    assert "scope=" not in answer.www_authenticate


def test_key_set_unavailable_is_503_with_retry_after_and_no_challenge() -> None:
    answer = Challenger().for_error(KeySetUnavailable("Down.", retry_after_seconds=17))
    assert answer.status == 503
    assert dict(answer.headers) == {"Retry-After": "17"}
    assert answer.www_authenticate is None
    assert json.loads(answer.body)["error"] == "temporarily_unavailable"


def test_retry_after_is_at_least_one_second() -> None:
    answer = Challenger().for_error(KeySetUnavailable("Down.", retry_after_seconds=0))
    assert dict(answer.headers)["Retry-After"] == "1"


def test_resource_metadata_is_named_in_every_challenge() -> None:
    url = "https://api.example.com/.well-known/oauth-protected-resource"
    challenger = Challenger(resource_metadata_url=url)
    for answer in (
        challenger.missing_token(),
        challenger.for_error(InvalidToken("expired", "Expired.")),
        challenger.for_error(InsufficientClaims("No.", required=("premium",))),
    ):
        assert answer.www_authenticate is not None
        assert f'resource_metadata="{url}"' in answer.www_authenticate


def test_descriptions_cannot_break_out_of_the_quoted_string() -> None:
    answer = Challenger().for_error(InvalidToken("x", 'bad "quote" \\ and\r\nheader'))
    header = answer.www_authenticate
    assert header is not None
    assert header.count('"') == 6
    assert "\r" not in header
    assert "\n" not in header
    assert "\\" not in header


def test_raw_headers_carry_json_content_type_and_length() -> None:
    answer = Challenger().missing_token()
    raw = dict(answer.raw_headers)
    assert raw[b"www-authenticate"] == b'Bearer realm="api"'
    assert raw[b"content-type"] == b"application/json"
    assert raw[b"content-length"] == str(len(answer.body)).encode()


@pytest.mark.parametrize("realm", ["", 'a"b', "a\\b", "line\nbreak", "caf\u00e9"])
def test_unquotable_realms_are_refused(realm: str) -> None:
    with pytest.raises(ConfigurationError, match="realm"):
        Challenger(realm=realm)


@pytest.mark.parametrize("url", ["/relative", "ftp://x", 'https://x/"', "https://x/ y"])
def test_bad_resource_metadata_urls_are_refused(url: str) -> None:
    with pytest.raises(ConfigurationError, match="resource_metadata_url"):
        Challenger(resource_metadata_url=url)


def test_a_503_body_names_its_cause_without_urls() -> None:
    error = KeySetUnavailable(
        "The issuer's signing keys cannot be fetched: its discovery document is not usable.",
        cause="bad_discovery",
        detail="discovery at http://10.0.0.5/.well-known/openid-configuration answered HTTP 404",
    )
    answer = Challenger().for_error(error)
    body = json.loads(answer.body)
    assert body == {
        "error": "temporarily_unavailable",
        "error_description": (
            "The issuer's signing keys cannot be fetched: its discovery document is not usable."
        ),
        "cause": "bad_discovery",
    }
    assert dict(answer.headers) == {"Retry-After": "30"}


def test_a_debug_503_body_carries_the_precise_cause() -> None:
    detail = "discovery at http://10.0.0.5/.well-known/openid-configuration answered HTTP 404"
    error = KeySetUnavailable("Down.", cause="bad_discovery", detail=detail)
    body = json.loads(Challenger(debug=True).for_error(error).body)
    assert body["error_description"] == f"Down ({detail})."
    assert body["cause"] == "bad_discovery"


def test_debug_must_be_a_bool() -> None:
    with pytest.raises(ConfigurationError, match="debug"):
        Challenger(debug="yes")  # type: ignore[arg-type]
