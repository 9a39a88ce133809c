"""``examples/step_up_app.py`` behind real uvicorn, trusting the example issuer, also served
on loopback: the whole step-up loop of RFC 9470. A password login is refused at
``/payouts`` with ``insufficient_user_authentication``; the client sends the user back to
``/authorize`` with the challenge's ``acr_values`` and ``max_age``; the issuer's session
spares the password but the multi-factor ACR (or an action) asks for a one-time code; the
new token is let in."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from examples.step_up_app import AUDIENCE, create_app

from claimguard import ConfigurationError
from issuer import IssuerServer

from .conftest import Serve, bearer
from .stepup import (
    ALICE_TOTP_SECRET,
    MULTI_FACTOR,
    Browser,
    CodeClient,
    challenge_params,
    step_up_params,
)

pytestmark = pytest.mark.anyio


def demo_app(server: IssuerServer) -> CodeClient:
    return CodeClient(
        issuer_url=server.url,
        client_id="demo-app",
        client_secret="demo-secret",
        redirect_uri="http://127.0.0.1:3000/callback",
        audience=AUDIENCE,
    )


def access_claims(server: IssuerServer, tokens: dict[str, Any]) -> dict[str, Any]:
    claims = server.issuer.verify_access_token(tokens["access_token"], audience=AUDIENCE)
    assert claims is not None
    return claims


@dataclass
class Loop:
    """What one step-up loop saw: the password login's access token claims, the refusal,
    the stepped-up claims, the payout with them, and the time before the step-up."""

    browser: Browser
    first: dict[str, Any]
    refused: httpx.Response
    stepped: dict[str, Any]
    allowed: httpx.Response
    before: int


async def step_up_loop(server: IssuerServer, serve: Serve) -> Loop:
    """Alice logs in with her password, is refused a payout, steps up and is let in."""
    client = demo_app(server)
    with serve(create_app(issuer_url=server.url)) as url:
        async with (
            httpx.AsyncClient() as http,
            httpx.AsyncClient(base_url=url) as api,
        ):
            browser = Browser(http, "alice@example.com", "alice-password", ALICE_TOTP_SECRET)
            first = await client.log_in(browser)
            balance = await api.get("/balance", headers=bearer(first["access_token"]))
            assert balance.status_code == 200
            refused = await api.post("/payouts", headers=bearer(first["access_token"]))
            before = int(time.time())
            stepped = await client.log_in(browser, **step_up_params(challenge_params(refused)))
            allowed = await api.post("/payouts", headers=bearer(stepped["access_token"]))
    return Loop(
        browser,
        access_claims(server, first),
        refused,
        access_claims(server, stepped),
        allowed,
        before,
    )


async def test_a_password_login_steps_up_to_a_one_time_code_and_is_let_in(
    example_issuer: IssuerServer, serve: Serve
) -> None:
    loop = await step_up_loop(example_issuer, serve)
    first, refused, stepped, allowed = loop.first, loop.refused, loop.stepped, loop.allowed

    assert first["amr"] == ["pwd"]
    assert "acr" not in first
    assert refused.status_code == 401
    challenge = challenge_params(refused)
    assert challenge["error"] == "insufficient_user_authentication"
    assert challenge["acr_values"] == MULTI_FACTOR
    assert challenge["max_age"] == "300"
    assert "resource_metadata" in challenge
    assert refused.json()["acr_values"] == MULTI_FACTOR
    # The session spared the password the second time; the multi-factor ACR asked for a code.
    assert loop.browser.shown == ["password", "code"]
    assert stepped["amr"] == ["pwd", "otp"]
    assert stepped["acr"] == MULTI_FACTOR
    assert stepped["auth_time"] >= loop.before
    assert allowed.status_code == 200
    assert allowed.json()["status"] == "payout scheduled"


def payouts_need_a_code(event: Any, api: Any) -> None:
    """Auth0's step-up action: a client asking for the multi-factor ACR gets a code page."""
    if MULTI_FACTOR in event.transaction.acr_values:
        api.multifactor.enable("otp", allow_remember_browser=False)


async def test_an_action_asks_for_the_code_the_api_demands(
    example_issuer: IssuerServer, serve: Serve
) -> None:
    example_issuer.issuer.add_action(payouts_need_a_code)

    loop = await step_up_loop(example_issuer, serve)
    refused, stepped, allowed = loop.refused, loop.stepped, loop.allowed

    assert refused.status_code == 401
    assert loop.browser.shown == ["password", "code"]
    assert stepped["amr"] == ["pwd", "otp"]
    assert stepped["acr"] == MULTI_FACTOR
    assert stepped["auth_time"] >= loop.before
    assert allowed.status_code == 200
    ran = [r.action for r in example_issuer.issuer.action_logs() if r.outcome == "ok"]
    assert ran.count("payouts_need_a_code") == 2


async def test_access_tokens_carry_the_logins_auth_time(
    example_issuer: IssuerServer, serve: Serve
) -> None:
    # RFC 9470 §4: the resource server reads auth_time from the access token.
    before = int(time.time())
    async with httpx.AsyncClient() as http:
        browser = Browser(http, "alice@example.com", "alice-password", ALICE_TOTP_SECRET)
        tokens = await demo_app(example_issuer).log_in(browser)
    claims = access_claims(example_issuer, tokens)
    assert before <= claims["auth_time"] <= claims["iat"]


async def test_metadata_lists_the_multi_factor_acr(
    example_issuer: IssuerServer, serve: Serve
) -> None:
    with serve(create_app(issuer_url=example_issuer.url)) as url:
        async with httpx.AsyncClient(base_url=url) as api:
            metadata = await api.get("/.well-known/oauth-protected-resource")
    assert metadata.json()["acr_values_supported"] == [MULTI_FACTOR]


def test_the_public_origin_proofs_name_is_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CLAIMGUARD_PUBLIC_ORIGIN", "http://127.0.0.1:8000/payouts")
    with pytest.raises(ConfigurationError, match="public_origin"):
        create_app()
    monkeypatch.setenv("CLAIMGUARD_PUBLIC_ORIGIN", "http://127.0.0.1:8000")
    create_app()
