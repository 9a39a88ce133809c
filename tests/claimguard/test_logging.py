"""What claimguard tells the server log: fetch failures with their precise cause, the keys
it fetched and how they changed, refusals at DEBUG; never a token."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from claimguard import ClaimGuardMiddleware, ConfigurationError, KeySetUnavailable, TokenVerifier

from .conftest import AUDIENCE, ISSUER, FakeClock, FakeIssuerEndpoints, Minter, SigningKey

pytestmark = pytest.mark.anyio

LOOPBACK = "http://127.0.0.1:9000/"


def _verifier(
    endpoints: FakeIssuerEndpoints, clock: FakeClock, issuer: str = ISSUER
) -> TokenVerifier:
    return TokenVerifier(
        issuer=issuer, audience=AUDIENCE, http_client=endpoints.client(), clock=clock
    )


def _messages(caplog: pytest.LogCaptureFixture, logger: str, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == logger and r.levelno == level]


async def _fails(verifier: TokenVerifier, token: str) -> KeySetUnavailable:
    with pytest.raises(KeySetUnavailable) as caught:
        await verifier.verify(token)
    return caught.value


async def test_trailing_slash_mismatch_is_a_warning_naming_the_fix(
    endpoints: FakeIssuerEndpoints, clock: FakeClock, mint: Minter, caplog: Any
) -> None:
    endpoints.base = endpoints.issuer = LOOPBACK
    verifier = _verifier(endpoints, clock, issuer="http://127.0.0.1:9000")
    error = await _fails(verifier, mint())

    expected = (
        "discovery at http://127.0.0.1:9000/.well-known/openid-configuration names another "
        "issuer: 'http://127.0.0.1:9000/', configured 'http://127.0.0.1:9000' — check the "
        "trailing slash: tokens carry the issuer's own spelling, so configure "
        "issuer='http://127.0.0.1:9000/'"
    )
    assert verifier.jwks_state().last_error == expected
    assert error.cause == "bad_discovery"
    assert error.detail == expected
    [warning] = _messages(caplog, "claimguard.jwks", logging.WARNING)
    assert warning.endswith(expected)


async def test_localhost_for_127_0_0_1_is_a_warning_naming_the_fix(
    endpoints: FakeIssuerEndpoints, clock: FakeClock, mint: Minter, caplog: Any
) -> None:
    endpoints.base = "http://localhost:9000/"
    endpoints.issuer = LOOPBACK
    verifier = _verifier(endpoints, clock, issuer="http://localhost:9000/")
    await _fails(verifier, mint())

    [warning] = _messages(caplog, "claimguard.jwks", logging.WARNING)
    assert "'127.0.0.1' and 'localhost' are the same machine but different issuers" in warning
    assert "configure issuer='http://127.0.0.1:9000/'" in warning
    assert "trailing slash" not in warning
    assert verifier.jwks_state().last_error in warning


async def test_unreachable_issuer_is_a_warning_with_the_transport_error(
    endpoints: FakeIssuerEndpoints, clock: FakeClock, mint: Minter, caplog: Any
) -> None:
    endpoints.failing = True
    verifier = _verifier(endpoints, clock)
    error = await _fails(verifier, mint())

    assert error.cause == "unreachable"
    [warning] = _messages(caplog, "claimguard.jwks", logging.WARNING)
    assert f"{ISSUER}.well-known/openid-configuration could not be fetched: ConnectError" in (
        warning
    )
    assert repr(ISSUER) in warning


async def test_no_usable_keys_is_a_warning_with_the_reasons(
    endpoints: FakeIssuerEndpoints, clock: FakeClock, mint: Minter, caplog: Any
) -> None:
    endpoints.keys = [{"kty": "oct", "k": "c2VjcmV0", "kid": "shared"}]
    verifier = _verifier(endpoints, clock)
    error = await _fails(verifier, mint())

    assert error.cause == "no_usable_keys"
    [warning] = _messages(caplog, "claimguard.jwks", logging.WARNING)
    assert f"JWKS at {ISSUER}.well-known/jwks.json has no usable key" in warning
    assert warning.endswith(verifier.jwks_state().last_error or "-")


async def test_first_fetch_and_each_key_change_are_info(
    endpoints: FakeIssuerEndpoints,
    clock: FakeClock,
    mint: Minter,
    rsa_key: SigningKey,
    rsa_key_2: SigningKey,
    caplog: Any,
) -> None:
    caplog.set_level(logging.INFO, logger="claimguard")
    verifier = _verifier(endpoints, clock)
    await verifier.verify(mint())
    [first] = _messages(caplog, "claimguard.jwks", logging.INFO)
    assert first == (
        f"signing keys of issuer {ISSUER!r} fetched from {ISSUER}.well-known/jwks.json: "
        "kids ['rsa-1', 'ec-1', 'ed-1']"
    )

    caplog.clear()
    await verifier.preflight()
    assert _messages(caplog, "claimguard.jwks", logging.INFO) == []  # nothing changed

    reused_kid = SigningKey(rsa_key_2.private, "ec-1", "RS256")
    endpoints.keys = [rsa_key.public_jwk, rsa_key_2.public_jwk, reused_kid.public_jwk]
    await verifier.preflight()
    [change] = _messages(caplog, "claimguard.jwks", logging.INFO)
    assert change.endswith(
        "changed at https://issuer.example.com/.well-known/jwks.json: "
        "added ['rsa-2'], removed ['ed-1'], replaced ['ec-1']"
    )


async def test_a_good_fetch_after_failures_says_so(
    endpoints: FakeIssuerEndpoints, clock: FakeClock, caplog: Any
) -> None:
    caplog.set_level(logging.INFO, logger="claimguard")
    verifier = _verifier(endpoints, clock)
    endpoints.failing = True
    for _ in range(2):
        with pytest.raises(ConfigurationError):
            await verifier.preflight()
    endpoints.failing = False
    await verifier.preflight()
    infos = _messages(caplog, "claimguard.jwks", logging.INFO)
    assert f"signing keys of issuer {ISSUER!r} fetched again after 2 failed attempt(s)" in infos


async def test_repeated_identical_failures_are_logged_once_a_minute_with_a_count(
    endpoints: FakeIssuerEndpoints, clock: FakeClock, caplog: Any
) -> None:
    endpoints.failing = True
    verifier = _verifier(endpoints, clock)

    async def fail_three_times() -> None:
        for _ in range(3):
            with pytest.raises(ConfigurationError):
                await verifier.preflight()
            clock.advance(10)

    await fail_three_times()
    assert len(_messages(caplog, "claimguard.jwks", logging.WARNING)) == 1

    clock.advance(30)  # 60 s since the one that was logged
    caplog.clear()
    await fail_three_times()
    [again] = _messages(caplog, "claimguard.jwks", logging.WARNING)
    assert again.endswith(
        "ConnectError: connection refused (2 identical failure(s) not logged since)"
    )

    # A different failure is news: logged at once, whatever the window says.
    endpoints.failing = False
    endpoints.jwks_status = 404
    caplog.clear()
    with pytest.raises(ConfigurationError):
        await verifier.preflight()
    [other] = _messages(caplog, "claimguard.jwks", logging.WARNING)
    assert other.endswith("jwks.json answered HTTP 404")


def _app(verifier: TokenVerifier) -> ClaimGuardMiddleware:
    async def premium(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    return ClaimGuardMiddleware(Starlette(routes=[Route("/premium", premium)]), verifier=verifier)


async def _get(app: ClaimGuardMiddleware, token: str | None) -> httpx.Response:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
        return await client.get("/premium", headers=headers)


async def test_a_refused_token_is_logged_at_debug_with_code_route_and_issuer_never_the_token(
    verifier: TokenVerifier, clock: FakeClock, mint: Minter, caplog: Any
) -> None:
    caplog.set_level(logging.DEBUG, logger="claimguard")
    token = mint(premium=True, lifetime=60)
    clock.advance(3600)
    assert (await _get(_app(verifier), token)).status_code == 401
    assert (await _get(_app(verifier), None)).status_code == 401

    refusals = _messages(caplog, "claimguard.middleware", logging.DEBUG)
    assert refusals == [
        f"refused http GET '/premium': 401 expired (issuer {ISSUER!r})",
        f"refused http GET '/premium': 401 missing_token (issuer {ISSUER!r})",
    ]
    _header, payload, signature = token.split(".")
    for record in caplog.records:
        text = record.getMessage()
        assert token not in text
        assert payload not in text
        assert signature not in text


async def test_a_guard_refusal_is_logged_at_debug_naming_the_issuer_and_requirement_not_the_value(
    verifier: TokenVerifier, mint: Minter, caplog: Any
) -> None:
    from claimguard import requires_claim

    @requires_claim("tier", equals="gold")
    async def gold(request: Request) -> PlainTextResponse:
        return PlainTextResponse("gold")

    app = ClaimGuardMiddleware(Starlette(routes=[Route("/premium", gold)]), verifier=verifier)
    caplog.set_level(logging.DEBUG, logger="claimguard")
    token = mint(claims={"https://myapp.example.com/tier": "s3cr3t-silver"})
    assert (await _get(app, token)).status_code == 403
    assert _messages(caplog, "claimguard.middleware", logging.DEBUG) == [
        "refused http GET '/premium': 403 insufficient_scope by an endpoint guard "
        f"(issuer {ISSUER!r}): The token does not grant 'claim:tier:gold'."
    ]
    assert not any("s3cr3t" in record.getMessage() for record in caplog.records)


async def test_refusals_are_not_logged_when_debug_is_off(
    verifier: TokenVerifier, clock: FakeClock, mint: Minter, caplog: Any
) -> None:
    caplog.set_level(logging.INFO, logger="claimguard")
    assert (await _get(_app(verifier), "not-a-token")).status_code == 401
    assert [r for r in caplog.records if r.name == "claimguard.middleware"] == []


async def test_a_refusal_for_unavailable_keys_names_the_cause(
    endpoints: FakeIssuerEndpoints, clock: FakeClock, mint: Minter, caplog: Any
) -> None:
    caplog.set_level(logging.DEBUG, logger="claimguard.middleware")
    endpoints.failing = True
    response = await _get(_app(_verifier(endpoints, clock)), mint())
    assert response.status_code == 503
    [refusal] = _messages(caplog, "claimguard.middleware", logging.DEBUG)
    assert "503 keys_unavailable:unreachable" in refusal
