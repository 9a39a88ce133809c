"""Report-only mode: would-be refusals are logged and let through; 503 is still answered."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Annotated, Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from claimguard import ClaimGuardMiddleware, Claims, ConfigurationError, TokenVerifier
from claimguard import requires_claim as requires_claim_decorator
from claimguard.fastapi import CurrentClaims, require_claim

from ..conftest import FakeIssuerEndpoints, Minter

pytestmark = pytest.mark.anyio

LOGGER = "claimguard.middleware"


async def whoami(request: Request) -> Response:
    return JSONResponse(
        {"authenticated": request.user.is_authenticated, "scopes": request.auth.scopes}
    )


@requires_claim_decorator("premium")
async def premium(request: Request) -> Response:
    return JSONResponse({"authenticated": request.user.is_authenticated})


def build_api() -> FastAPI:
    api = FastAPI()

    @api.get("/api/premium")
    async def api_premium(claims: Annotated[Claims, require_claim("premium")]) -> dict[str, Any]:
        return {"sub": claims.subject}

    @api.get("/api/me")
    async def api_me(claims: CurrentClaims) -> dict[str, Any]:
        return {"sub": claims.subject}

    return api


def build_app(verifier: TokenVerifier, **options: Any) -> ClaimGuardMiddleware:
    inner = Starlette(routes=[Route("/whoami", whoami), Route("/premium", premium)])
    api = build_api()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        target = api if scope.get("path", "").startswith("/api/") else inner
        await target(scope, receive, send)

    return ClaimGuardMiddleware(app, verifier=verifier, **options)


async def client_for(app: ClaimGuardMiddleware) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://testserver")


@pytest.fixture
async def reporting(verifier: TokenVerifier) -> AsyncIterator[httpx.AsyncClient]:
    async with await client_for(build_app(verifier, report_only=True)) as client:
        yield client


@pytest.fixture
async def enforcing(verifier: TokenVerifier) -> AsyncIterator[httpx.AsyncClient]:
    async with await client_for(build_app(verifier)) as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER and r.levelname == "WARNING"]


async def test_report_only_warns_when_built(
    verifier: TokenVerifier, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        build_app(verifier)
        assert warnings(caplog) == []
        build_app(verifier, report_only=True)
    assert any("report-only mode is on" in message for message in warnings(caplog))


async def test_report_only_must_be_a_bool(verifier: TokenVerifier) -> None:
    with pytest.raises(ConfigurationError, match="report_only"):
        build_app(verifier, report_only="yes")


async def test_missing_token_passes_as_anonymous_and_is_logged(
    reporting: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        response = await reporting.get("/whoami")
    assert response.status_code == 200
    assert response.json() == {"authenticated": False, "scopes": []}
    assert warnings(caplog) == [
        "report-only: would refuse GET '/whoami' with 401 unauthorized (missing_token)"
    ]


async def test_invalid_token_passes_as_anonymous_and_is_logged_without_the_token(
    reporting: httpx.AsyncClient, mint: Minter, caplog: pytest.LogCaptureFixture
) -> None:
    token = mint(lifetime=-3600)
    with caplog.at_level(logging.DEBUG, logger="claimguard"):
        response = await reporting.get("/whoami", headers=bearer(token))
    assert response.status_code == 200
    assert response.json() == {"authenticated": False, "scopes": []}
    assert warnings(caplog) == [
        "report-only: would refuse GET '/whoami' with 401 invalid_token (expired)"
    ]
    assert token not in caplog.text
    assert token.split(".")[1] not in caplog.text


async def test_malformed_request_passes_as_anonymous_and_is_logged(
    reporting: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        response = await reporting.get("/whoami", headers={"Authorization": "Bearer a b c"})
    assert response.status_code == 200
    assert response.json()["authenticated"] is False
    assert warnings(caplog) == ["report-only: would refuse GET '/whoami' with 400 invalid_request"]


async def test_decorator_403_passes_verified_and_is_logged_without_claim_values(
    reporting: httpx.AsyncClient, mint: Minter, caplog: pytest.LogCaptureFixture
) -> None:
    token = mint(premium=False, claims={"name": "Alice Secretname"})
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        response = await reporting.get("/premium", headers=bearer(token))
    assert response.status_code == 200
    assert response.json() == {"authenticated": True}
    assert warnings(caplog) == [
        "report-only: would refuse GET '/premium' with 403 insufficient_scope"
    ]
    assert "Secretname" not in caplog.text
    assert "alice" not in caplog.text


async def test_decorator_on_anonymous_request_is_reported_once(
    reporting: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        response = await reporting.get("/premium")
    assert response.status_code == 200
    assert response.json() == {"authenticated": False}
    assert warnings(caplog) == [
        "report-only: would refuse GET '/premium' with 401 unauthorized (missing_token)"
    ]


async def test_fastapi_dependency_403_passes_verified_and_is_logged(
    reporting: httpx.AsyncClient, mint: Minter, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        response = await reporting.get("/api/premium", headers=bearer(mint(premium=False)))
    assert response.status_code == 200
    assert response.json() == {"sub": "auth0|alice"}
    assert warnings(caplog) == [
        "report-only: would refuse GET '/api/premium' with 403 insufficient_scope"
    ]


async def test_fastapi_dependencies_on_anonymous_request_get_empty_claims(
    reporting: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        me = await reporting.get("/api/me")
        premium = await reporting.get("/api/premium")
    assert (me.status_code, me.json()) == (200, {"sub": None})
    assert (premium.status_code, premium.json()) == (200, {"sub": None})
    assert warnings(caplog) == [
        "report-only: would refuse GET '/api/me' with 401 unauthorized (missing_token)",
        "report-only: would refuse GET '/api/premium' with 401 unauthorized (missing_token)",
    ]


async def test_fastapi_dependency_refuses_anonymous_outside_report_only_behind_public_paths(
    verifier: TokenVerifier,
) -> None:
    app = build_app(verifier, public_paths=["/api"])
    async with await client_for(app) as client:
        response = await client.get("/api/me")
    assert response.status_code == 401


async def test_keys_unavailable_is_still_answered_503(
    verifier: TokenVerifier,
    endpoints: FakeIssuerEndpoints,
    mint: Minter,
    caplog: pytest.LogCaptureFixture,
) -> None:
    endpoints.failing = True
    async with await client_for(build_app(verifier, report_only=True)) as client:
        with caplog.at_level(logging.WARNING, logger=LOGGER):
            response = await client.get("/whoami", headers=bearer(mint()))
    assert response.status_code == 503
    assert "retry-after" in response.headers
    assert not any("would refuse" in message for message in warnings(caplog))


async def test_enforcing_mode_is_unchanged(
    enforcing: httpx.AsyncClient, mint: Minter, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        missing = await enforcing.get("/whoami")
        expired = await enforcing.get("/whoami", headers=bearer(mint(lifetime=-3600)))
        malformed = await enforcing.get("/whoami", headers={"Authorization": "Bearer a b c"})
        lacking = await enforcing.get("/premium", headers=bearer(mint(premium=False)))
        api_lacking = await enforcing.get("/api/premium", headers=bearer(mint(premium=False)))
        allowed = await enforcing.get("/premium", headers=bearer(mint(premium=True)))
    assert [r.status_code for r in (missing, expired, malformed, lacking, api_lacking)] == [
        401,
        401,
        400,
        403,
        403,
    ]
    assert allowed.status_code == 200
    assert warnings(caplog) == []


async def test_a_report_only_line_cannot_be_forged_through_the_path(
    verifier: TokenVerifier, caplog: pytest.LogCaptureFixture
) -> None:
    app = ClaimGuardMiddleware(Starlette(routes=[]), verifier=verifier, report_only=True)
    caplog.set_level(logging.WARNING, logger="claimguard")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as c:
        await c.get("/x%0a2026-12-02 INFO claimguard.jwks: all good%1b[31m")
    (line,) = [m for m in warnings(caplog) if "would refuse" in m]
    assert "\n" not in line
    assert "\x1b" not in line
