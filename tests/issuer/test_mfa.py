"""The second factor at the login page: the code form, enrolment, throttling, acr/amr."""

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from issuer import Issuer

from .conftest import FakeClock
from .flows import password_grant
from .mfaflows import (
    SECRET,
    claims,
    code_at,
    http,
    log_in,
    send_code,
    shown_secret,
    tokens_from,
)

WRONG_CODE = "each code works only once. Wait for your authenticator app to show the next"

pytestmark = pytest.mark.anyio
MFA = "http://schemas.openid.net/pape/policies/2007/06/multi-factor"


def premium_needs_mfa(event: Any, api: Any) -> None:
    if "premium" in event.user.app_metadata.get("roles", []):
        api.multifactor.enable("otp", allow_remember_browser=False)


@pytest.fixture
def issuer(bare_issuer: Issuer) -> Issuer:
    bare_issuer.directory.user("alice@example.com").totp_secret = SECRET
    bare_issuer.add_action(premium_needs_mfa)
    return bare_issuer


async def test_an_action_asks_for_a_code_and_tokens_carry_amr_and_acr(
    issuer: Issuer, clock: FakeClock
) -> None:
    async with http(issuer) as client:
        page = await log_in(client, "alice@example.com", "alice-pw")
        assert page.status_code == 200
        assert "Enter your code" in page.text
        tokens = await tokens_from(client, await send_code(client, page, code_at(SECRET, clock())))
    for token in (tokens["id_token"], tokens["access_token"]):
        assert claims(token)["amr"] == ["pwd", "otp"]
        assert claims(token)["acr"] == MFA


async def test_without_mfa_tokens_say_pwd_and_carry_no_acr(issuer: Issuer) -> None:
    async with http(issuer) as client:
        tokens = await tokens_from(client, await log_in(client, "bob@example.com", "bob-pw"))
    assert claims(tokens["access_token"])["amr"] == ["pwd"]
    assert "acr" not in claims(tokens["access_token"])
    assert "acr" not in claims(tokens["id_token"])


async def test_a_wrong_code_is_refused_and_the_form_stays(
    issuer: Issuer, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = f"{(int(code_at(SECRET, clock())) + 1) % 1_000_000:06d}"
    async with http(issuer) as client:
        page = await log_in(client, "alice@example.com", "alice-pw")
        with caplog.at_level(logging.WARNING, logger="issuer.mfa"):
            again = await send_code(client, page, wrong)
        assert again.status_code == 200
        assert WRONG_CODE in again.text
        assert "location" not in again.headers
        assert "one-time code refused" in caplog.text
        tokens = await tokens_from(client, await send_code(client, again, code_at(SECRET, clock())))
    assert claims(tokens["access_token"])["acr"] == MFA


async def test_a_code_is_refused_the_second_time_within_its_step(
    issuer: Issuer, clock: FakeClock
) -> None:
    code = code_at(SECRET, clock())
    async with http(issuer) as client:
        first = await log_in(client, "alice@example.com", "alice-pw")
        await tokens_from(client, await send_code(client, first, code))
        second = await log_in(client, "alice@example.com", "alice-pw")
        replayed = await send_code(client, second, code)
    assert replayed.status_code == 200
    assert WRONG_CODE in replayed.text


async def test_wrong_codes_are_throttled(clock: FakeClock) -> None:
    issuer = Issuer(clock=clock, throttle_max_failures=3)
    issuer.add_api("https://api.example.com", scopes=["read:messages"])
    issuer.add_client(
        "app", client_secret="app-secret", redirect_uris=["http://127.0.0.1:3000/callback"]
    )
    issuer.add_user("alice@example.com", password="alice-pw", totp_secret=SECRET)
    issuer.add_action(lambda event, api: api.multifactor.enable("otp"))
    async with http(issuer) as client:
        page = await log_in(client, "alice@example.com", "alice-pw")
        for _ in range(3):
            page = await send_code(client, page, "000000")
        right = await send_code(client, page, code_at(SECRET, clock()))
    assert right.status_code == 429
    assert int(right.headers["retry-after"]) > 0
    assert "Too many wrong codes" in right.text


async def test_enrolment_refuses_a_wrong_first_code_and_keeps_the_secret_once_confirmed(
    clock: FakeClock, tmp_path: Path
) -> None:
    issuer = Issuer(clock=clock, data_dir=tmp_path)
    issuer.add_api("https://api.example.com", scopes=["read:messages"])
    issuer.add_client(
        "app", client_secret="app-secret", redirect_uris=["http://127.0.0.1:3000/callback"]
    )
    issuer.add_user("carol@example.com", password="carol-pw")
    issuer.add_action(lambda event, api: api.multifactor.enable("otp"))
    async with http(issuer) as client:
        page = await log_in(client, "carol@example.com", "carol-pw")
        assert "Set up a second factor" in page.text
        assert "<svg" in page.text
        secret = shown_secret(page)
        wrong = await send_code(client, page, f"{(int(code_at(secret, clock())) + 1) % 10**6:06d}")
        assert WRONG_CODE in wrong.text
        assert shown_secret(wrong) == secret
        assert not (tmp_path / "totp-secrets.json").exists()
        tokens = await tokens_from(client, await send_code(client, wrong, code_at(secret, clock())))
    assert claims(tokens["id_token"])["amr"] == ["pwd", "otp"]
    assert json.loads((tmp_path / "totp-secrets.json").read_text()) == {"carol@example.com": secret}
    assert Issuer(clock=clock, data_dir=tmp_path).totp_secrets.get("carol@example.com") == secret


async def test_the_multi_factor_acr_value_requires_a_code_without_any_action(
    bare_issuer: Issuer, clock: FakeClock
) -> None:
    bare_issuer.directory.user("bob@example.com").totp_secret = SECRET
    async with http(bare_issuer) as client:
        page = await log_in(client, "bob@example.com", "bob-pw", acr_values=MFA)
        assert "Enter your code" in page.text
        tokens = await tokens_from(client, await send_code(client, page, code_at(SECRET, clock())))
    assert claims(tokens["access_token"])["acr"] == MFA


async def test_acr_values_and_prompt_reach_event_transaction(bare_issuer: Issuer) -> None:
    seen: dict[str, Any] = {}

    def record(event: Any, api: Any) -> None:
        seen.update(event.transaction.to_dict())

    bare_issuer.add_action(record)
    async with http(bare_issuer) as client:
        await log_in(client, "bob@example.com", "bob-pw", acr_values="urn:a urn:b", prompt="login")
    assert seen["acr_values"] == ["urn:a", "urn:b"]
    assert seen["prompt"] == "login"
    assert seen["requested_scopes"] == ["openid", "offline_access", "read:messages"]
    assert seen["redirect_uri"] == "http://127.0.0.1:3000/callback"


async def test_the_password_grant_refuses_a_login_that_needs_a_code(issuer: Issuer) -> None:
    async with http(issuer) as client:
        response = await password_grant(
            client, "alice@example.com", "alice-pw", auth=("app", "app-secret")
        )
    assert response.status_code == 403
    assert response.json()["error"] == "mfa_required"


async def test_an_unknown_provider_fails_the_action_clearly(bare_issuer: Issuer) -> None:
    bare_issuer.add_action(lambda event, api: api.multifactor.enable("duo"))
    async with http(bare_issuer) as client:
        response = await password_grant(
            client, "bob@example.com", "bob-pw", auth=("app", "app-secret")
        )
    assert response.status_code == 403
    assert "is not supported here" in (bare_issuer.action_logs()[0].error or "")


async def test_refreshed_tokens_keep_the_second_factor_of_their_login(
    issuer: Issuer, clock: FakeClock
) -> None:
    async with http(issuer) as client:
        page = await log_in(client, "alice@example.com", "alice-pw")
        tokens = await tokens_from(client, await send_code(client, page, code_at(SECRET, clock())))
        refreshed = await client.post(
            "oauth/token",
            data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
            auth=("app", "app-secret"),
        )
    assert refreshed.status_code == 200, refreshed.text
    assert claims(refreshed.json()["access_token"])["amr"] == ["pwd", "otp"]
    assert claims(refreshed.json()["access_token"])["acr"] == MFA


async def test_a_refresh_without_a_second_factor_is_refused_once_an_action_needs_one(
    bare_issuer: Issuer,
) -> None:
    async with http(bare_issuer) as client:
        tokens = await tokens_from(client, await log_in(client, "alice@example.com", "alice-pw"))
        bare_issuer.add_action(premium_needs_mfa)
        refreshed = await client.post(
            "oauth/token",
            data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
            auth=("app", "app-secret"),
        )
    assert refreshed.status_code == 400
    assert refreshed.json()["error"] == "invalid_grant"


async def test_the_code_form_needs_its_csrf_cookie(issuer: Issuer, clock: FakeClock) -> None:
    async with http(issuer) as client:
        page = await log_in(client, "alice@example.com", "alice-pw")
        client.cookies.clear()
        response = await send_code(client, page, code_at(SECRET, clock()))
    assert response.status_code == 403
