"""The second factor at the login page: the code form, enrolment, throttling, acr/amr."""

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from issuer import Issuer
from issuer.login._enrolment import TotpSecrets

from ..conftest import FakeClock, make_bare_issuer
from ..flows import assert_config_error, password_grant, redirect_params
from ..mfaflows import (
    SECRET,
    authorize_url,
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


def remembered_mfa(event: Any, api: Any) -> None:
    api.multifactor.enable("otp", allow_remember_browser=True)


def unremembered_mfa(event: Any, api: Any) -> None:
    api.multifactor.enable("otp", allow_remember_browser=False)


async def second_authorization(issuer: Issuer, clock: FakeClock) -> tuple[Any, Any]:
    """Alice logs in with password and code, then the browser comes back to /authorize."""
    async with http(issuer) as client:
        page = await log_in(client, "alice@example.com", "alice-pw")
        assert "Enter your code" in page.text
        await tokens_from(client, await send_code(client, page, code_at(SECRET, clock())))
        clock.advance(60)
        again = await client.get(authorize_url())
        tokens = await tokens_from(client, again) if again.status_code == 303 else None
    return again, tokens


async def test_a_remembered_browser_skips_the_code_at_later_logins(
    bare_issuer: Issuer, clock: FakeClock
) -> None:
    bare_issuer.directory.user("alice@example.com").totp_secret = SECRET
    bare_issuer.add_action(remembered_mfa)
    again, tokens = await second_authorization(bare_issuer, clock)
    assert again.status_code == 303
    assert tokens is not None
    # The remembered second factor still counts: RFC 8176 methods and the MFA class.
    assert claims(tokens["access_token"])["amr"] == ["pwd", "otp"]
    assert claims(tokens["access_token"])["acr"] == MFA


async def test_a_remembered_code_makes_auth_time_the_codes_time(
    bare_issuer: Issuer, clock: FakeClock
) -> None:
    bare_issuer.directory.user("alice@example.com").totp_secret = SECRET
    bare_issuer.add_action(remembered_mfa)
    async with http(bare_issuer) as client:
        page = await log_in(client, "alice@example.com", "alice-pw")
        clock.advance(30)
        code_time = int(clock())
        await tokens_from(client, await send_code(client, page, code_at(SECRET, clock())))
        clock.advance(60)
        tokens = await tokens_from(client, await client.get(authorize_url()))
    # The token lists the remembered code, so its auth_time is the code's, not the password's.
    assert claims(tokens["access_token"])["amr"] == ["pwd", "otp"]
    assert claims(tokens["access_token"])["auth_time"] == code_time
    assert claims(tokens["id_token"])["auth_time"] == code_time


async def test_without_remembering_the_code_is_asked_at_every_authorization(
    bare_issuer: Issuer, clock: FakeClock
) -> None:
    bare_issuer.directory.user("alice@example.com").totp_secret = SECRET
    bare_issuer.add_action(unremembered_mfa)
    again, _ = await second_authorization(bare_issuer, clock)
    assert again.status_code == 200
    assert "Enter your code" in again.text


async def test_one_action_refusing_to_remember_outweighs_another_allowing_it(
    bare_issuer: Issuer, clock: FakeClock
) -> None:
    bare_issuer.directory.user("alice@example.com").totp_secret = SECRET
    bare_issuer.add_action(remembered_mfa)
    bare_issuer.add_action(unremembered_mfa)
    again, _ = await second_authorization(bare_issuer, clock)
    assert again.status_code == 200
    assert "Enter your code" in again.text


async def test_a_code_entered_without_remembering_is_not_remembered_later(
    bare_issuer: Issuer, clock: FakeClock
) -> None:
    bare_issuer.directory.user("alice@example.com").totp_secret = SECRET
    remember = {"allowed": False}

    def policy(event: Any, api: Any) -> None:
        api.multifactor.enable("otp", allow_remember_browser=remember["allowed"])

    bare_issuer.add_action(policy)
    async with http(bare_issuer) as client:
        page = await log_in(client, "alice@example.com", "alice-pw")
        await tokens_from(client, await send_code(client, page, code_at(SECRET, clock())))
        remember["allowed"] = True
        again = await client.get(authorize_url())
    assert again.status_code == 200
    assert "Enter your code" in again.text


def enrolling_issuer(clock: FakeClock, tmp_path: Path, **options: Any) -> Issuer:
    issuer = Issuer(clock=clock, data_dir=tmp_path, **options)
    issuer.add_api("https://api.example.com", scopes=["read:messages"])
    issuer.add_client(
        "app", client_secret="app-secret", redirect_uris=["http://127.0.0.1:3000/callback"]
    )
    issuer.add_user("carol@example.com", password="carol-pw")
    issuer.add_action(lambda event, api: api.multifactor.enable("otp"))
    return issuer


async def test_a_stale_enrolment_form_neither_logs_in_nor_replaces_the_confirmed_secret(
    clock: FakeClock, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    issuer = enrolling_issuer(clock, tmp_path)
    async with http(issuer) as other, http(issuer) as owner:
        stale = await log_in(other, "carol@example.com", "carol-pw")
        clock.advance(60)
        page = await log_in(owner, "carol@example.com", "carol-pw")
        mine = shown_secret(page)
        await tokens_from(owner, await send_code(owner, page, code_at(mine, clock())))
        clock.advance(60)
        with caplog.at_level(logging.WARNING, logger="issuer.mfa"):
            refused = await send_code(other, stale, code_at(shown_secret(stale), clock()))
        assert refused.status_code == 400
        assert "Start the login again" in refused.text
        assert "location" not in refused.headers
        assert "refused" in caplog.text
        assert issuer.totp_secrets.get("carol@example.com") == mine
        assert json.loads((tmp_path / "totp-secrets.json").read_text()) == {
            "carol@example.com": mine
        }
        clock.advance(60)
        again = await log_in(owner, "carol@example.com", "carol-pw")
        assert "Enter your code" in again.text
        tokens = await tokens_from(owner, await send_code(owner, again, code_at(mine, clock())))
    assert claims(tokens["access_token"])["amr"] == ["pwd", "otp"]


async def test_a_stale_enrolment_form_is_dropped_once_another_enrolment_succeeds(
    clock: FakeClock, tmp_path: Path
) -> None:
    issuer = enrolling_issuer(clock, tmp_path)
    async with http(issuer) as first, http(issuer) as second:
        stale = await log_in(first, "carol@example.com", "carol-pw")
        page = await log_in(second, "carol@example.com", "carol-pw")
        await tokens_from(
            second, await send_code(second, page, code_at(shown_secret(page), clock()))
        )
        wrong = await send_code(first, stale, "000000")
        retried = await send_code(first, stale, code_at(shown_secret(stale), clock()))
    assert wrong.status_code == retried.status_code == 400
    assert "Start the login again" in retried.text


async def test_an_enrolment_form_is_refused_once_the_user_has_a_secret_from_elsewhere(
    clock: FakeClock, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    issuer = enrolling_issuer(clock, tmp_path)
    async with http(issuer) as client:
        page = await log_in(client, "carol@example.com", "carol-pw")
        issuer.directory.user("carol@example.com").totp_secret = SECRET
        with caplog.at_level(logging.WARNING, logger="issuer.mfa"):
            refused = await send_code(client, page, code_at(shown_secret(page), clock()))
    assert refused.status_code == 400
    assert "A second factor was set up for this account" in refused.text
    assert "enrolment refused" in caplog.text
    assert issuer.totp_secrets.get("carol@example.com") is None


def test_enrolment_never_replaces_a_secret_already_written(tmp_path: Path) -> None:
    one, two = TotpSecrets(data_dir=tmp_path), TotpSecrets(data_dir=tmp_path)
    assert one.enrol_if_absent("Carol@example.com", "A" * 32)
    assert not two.enrol_if_absent("carol@example.com", "B" * 32)
    assert not one.enrol_if_absent("carol@example.com", "B" * 32)
    assert two.get("carol@example.com") == "A" * 32
    assert json.loads((tmp_path / "totp-secrets.json").read_text()) == {
        "carol@example.com": "A" * 32
    }


async def test_with_enrolment_off_a_user_without_a_secret_is_refused_with_a_page(
    clock: FakeClock, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    issuer = enrolling_issuer(clock, tmp_path, mfa_enrolment=False)
    issuer.add_user("dave@example.com", password="dave-pw", totp_secret=SECRET)
    async with http(issuer) as client:
        with caplog.at_level(logging.WARNING, logger="issuer.mfa"):
            page = await log_in(client, "carol@example.com", "carol-pw")
        assert page.status_code == 403
        assert "Second factor not set up" in page.text
        assert 'id="secret"' not in page.text
        assert "enrolment is off" in caplog.text
        assert issuer.totp_secrets.get("carol@example.com") is None
        asked = await log_in(client, "dave@example.com", "dave-pw")
        assert "Enter your code" in asked.text


def test_enrolment_is_switched_in_the_mfa_table(tmp_path: Path) -> None:
    path = tmp_path / "issuer.toml"
    path.write_text("data_dir = false\n[mfa]\nenrolment = false\n")
    assert Issuer.from_config(path).mfa_enrolment is False
    path.write_text("data_dir = false\n")
    assert Issuer.from_config(path).mfa_enrolment is True
    assert_config_error(tmp_path, "[mfa]\nenrolment = 1\n", "mfa.enrolment", "true or false")
    assert_config_error(tmp_path, "[mfa]\nenrol = true\n", "mfa.enrol", "unknown key")


async def test_prompt_none_is_interaction_required_when_the_login_needs_a_code(
    issuer: Issuer,
) -> None:
    async with http(issuer) as client:
        page = await log_in(client, "alice@example.com", "alice-pw")
        assert "Enter your code" in page.text
        answer = await client.get(authorize_url(prompt="none", state="st-2"))
    params = redirect_params(answer)
    assert params["error"] == "interaction_required"
    assert (params["state"], params["iss"]) == ("st-2", issuer.url)
    assert "code" not in params


async def test_prompt_none_never_shows_an_enrolment_secret(
    clock: FakeClock, tmp_path: Path
) -> None:
    issuer = enrolling_issuer(clock, tmp_path)
    async with http(issuer) as client:
        await log_in(client, "carol@example.com", "carol-pw")
        answer = await client.get(authorize_url(prompt="none"))
    assert 'id="secret"' not in answer.text
    assert redirect_params(answer)["error"] == "interaction_required"


async def test_an_abandoned_code_form_leaves_a_session_that_still_asks_for_the_code(
    issuer: Issuer, clock: FakeClock
) -> None:
    async with http(issuer) as client:
        await log_in(client, "alice@example.com", "alice-pw")
        clock.advance(30)
        again = await client.get(authorize_url())
        assert again.status_code == 200
        assert "Enter your code" in again.text
        assert 'name="password"' not in again.text
        tokens = await tokens_from(client, await send_code(client, again, code_at(SECRET, clock())))
    assert claims(tokens["access_token"])["amr"] == ["pwd", "otp"]
    assert claims(tokens["id_token"])["auth_time"] == int(clock())


async def test_sso_tokens_after_a_code_carry_the_time_of_the_methods_they_list(
    bare_issuer: Issuer, clock: FakeClock
) -> None:
    bare_issuer.directory.user("bob@example.com").totp_secret = SECRET
    logged_in_at = clock()
    async with http(bare_issuer) as client:
        page = await log_in(client, "bob@example.com", "bob-pw", acr_values=MFA)
        clock.advance(100)
        strong = await tokens_from(client, await send_code(client, page, code_at(SECRET, clock())))
        clock.advance(100)
        weak = await tokens_from(client, await client.get(authorize_url()))
    assert claims(strong["id_token"])["amr"] == ["pwd", "otp"]
    assert claims(strong["id_token"])["auth_time"] == int(logged_in_at + 100)
    assert claims(weak["id_token"])["amr"] == ["pwd"]
    assert "acr" not in claims(weak["id_token"])
    assert claims(weak["id_token"])["auth_time"] == int(logged_in_at)


async def test_max_age_counts_from_the_password_when_the_code_is_not_carried_over(
    bare_issuer: Issuer, clock: FakeClock
) -> None:
    bare_issuer.directory.user("bob@example.com").totp_secret = SECRET
    async with http(bare_issuer) as client:
        page = await log_in(client, "bob@example.com", "bob-pw", acr_values=MFA)
        clock.advance(200)
        await tokens_from(client, await send_code(client, page, code_at(SECRET, clock())))
        clock.advance(200)
        answer = await client.get(authorize_url(max_age="300"))
    assert answer.status_code == 200
    assert 'name="password"' in answer.text


async def test_pending_code_forms_are_bounded_and_the_oldest_is_dropped_first(
    clock: FakeClock,
) -> None:
    issuer = make_bare_issuer(clock, max_pending_logins=1)
    issuer.directory.user("alice@example.com").totp_secret = SECRET
    issuer.add_action(premium_needs_mfa)
    pages = []
    for _ in range(2):
        async with http(issuer) as browser:
            page = await log_in(browser, "alice@example.com", "alice-pw")
            assert "Enter your code" in page.text
            pages.append((page, dict(browser.cookies)))
    answers = []
    for page, cookies in pages:
        async with issuer.http_client(base_url="http://127.0.0.1:8765", cookies=cookies) as browser:
            answers.append(await send_code(browser, page, code_at(SECRET, clock())))
            clock.advance(30)  # a code is good once: the next login needs the next one
    assert answers[0].status_code == 400
    assert "Start the login again" in answers[0].text
    assert "code" in redirect_params(answers[1])
