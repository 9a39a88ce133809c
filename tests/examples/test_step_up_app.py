"""``examples/step_up_app.py`` behind real uvicorn, trusting the example issuer: a
password-only login is asked to step up; a recent multi-factor login is let in."""

from __future__ import annotations

import re
import time
from typing import Any

import httpx
import jwt
import pytest
from examples.step_up_app import AUDIENCE, MULTI_FACTOR, create_app

from issuer import Issuer, IssuerServer

from .conftest import Serve, bearer

pytestmark = pytest.mark.anyio


def multi_factor_token(issuer: Issuer, *, logged_in_seconds_ago: float, **claims: Any) -> str:
    """An access token as the example issuer signs it after a multi-factor login."""
    now = int(time.time())
    alice = issuer.directory.user("alice@example.com")
    payload: dict[str, Any] = {
        "iss": issuer.url,
        "sub": alice.user_id,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + 600,
        "acr": MULTI_FACTOR,
        "amr": ["pwd", "otp"],
        "auth_time": int(now - logged_in_seconds_ago),
        **claims,
    }
    key = issuer.keys.active
    return jwt.encode(payload, key.private_key, algorithm=key.alg, headers={"kid": key.kid})


def challenge_params(response: httpx.Response) -> dict[str, str]:
    header = response.headers["www-authenticate"]
    assert header.startswith("Bearer ")
    return dict(re.findall(r'([a-z_]+)="([^"]*)"', header))


async def test_payouts_need_a_recent_multi_factor_login(
    example_issuer: IssuerServer, serve: Serve
) -> None:
    issuer = example_issuer.issuer
    password_only = (await issuer.login("alice@example.com")).access_token
    fresh = multi_factor_token(issuer, logged_in_seconds_ago=60)
    stale = multi_factor_token(issuer, logged_in_seconds_ago=3600)
    with serve(create_app(issuer_url=example_issuer.url)) as url:
        async with httpx.AsyncClient(base_url=url) as client:
            balance = await client.get("/balance", headers=bearer(password_only))
            refused = await client.post("/payouts", headers=bearer(password_only))
            too_old = await client.post("/payouts", headers=bearer(stale))
            allowed = await client.post("/payouts", headers=bearer(fresh))
            metadata = await client.get("/.well-known/oauth-protected-resource")
    assert balance.status_code == 200
    for answer in (refused, too_old):
        assert answer.status_code == 401
        params = challenge_params(answer)
        assert params["error"] == "insufficient_user_authentication"
        assert params["acr_values"] == MULTI_FACTOR
        assert params["max_age"] == "300"
        assert answer.json()["acr_values"] == MULTI_FACTOR
        assert answer.json()["max_age"] == 300
    assert "resource_metadata" in challenge_params(refused)
    assert allowed.status_code == 200
    assert allowed.json()["status"] == "payout scheduled"
    assert metadata.json()["acr_values_supported"] == [MULTI_FACTOR]
