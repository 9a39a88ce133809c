"""``/continue``: a login a redirect action paused resumes in the browser that left, once,
before its state expires; ``on_continue_post_login`` adds claims or denies."""

import logging
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from issuer import Issuer

from ..conftest import FakeClock, make_bare_issuer
from ..flows import redirect_params
from ..mfaflows import (
    SECRET,
    authorize_url,
    claims,
    code_at,
    http,
    log_in,
    send_code,
    tokens_from,
)

pytestmark = pytest.mark.anyio
PAGE = "https://verify.example.com/check"
CLAIM = "https://myapp.example.com/verified"


def send_away(event: Any, api: Any) -> None:
    api.redirect.send_user_to(PAGE, query={"lang": "en"})


def came_back(event: Any, api: Any) -> None:
    if event.request.query.get("answer") == "no":
        api.access.deny("the user said no")
    api.access_token.add_claim({CLAIM: True})


@pytest.fixture
def issuer(bare_issuer: Issuer) -> Issuer:
    bare_issuer.add_action(send_away, on_continue=came_back)
    return bare_issuer


def sent_to(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert location.startswith(PAGE + "?"), location
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


async def come_back(client: httpx.AsyncClient, state: str, **extra: str) -> httpx.Response:
    return await client.get("/continue", params={"state": state, **extra})


async def test_the_continued_action_adds_its_claim(issuer: Issuer) -> None:
    async with http(issuer) as client:
        away = sent_to(await log_in(client, "bob@example.com", "bob-pw"))
        assert away["lang"] == "en"
        tokens = await tokens_from(client, await come_back(client, away["state"]))
    assert claims(tokens["access_token"])[CLAIM] is True


async def test_a_post_to_continue_works_too(issuer: Issuer) -> None:
    async with http(issuer) as client:
        away = sent_to(await log_in(client, "bob@example.com", "bob-pw"))
        back = await client.post("/continue", data={"state": away["state"]})
        tokens = await tokens_from(client, back)
    assert claims(tokens["access_token"])[CLAIM] is True


async def test_the_continued_action_can_deny(issuer: Issuer) -> None:
    async with http(issuer) as client:
        away = sent_to(await log_in(client, "bob@example.com", "bob-pw"))
        back = await come_back(client, away["state"], answer="no")
    params = redirect_params(back)
    assert params["error"] == "access_denied"
    assert params["state"] == "st"


async def test_a_state_is_used_once(issuer: Issuer, caplog: pytest.LogCaptureFixture) -> None:
    async with http(issuer) as client:
        away = sent_to(await log_in(client, "bob@example.com", "bob-pw"))
        await tokens_from(client, await come_back(client, away["state"]))
        with caplog.at_level(logging.WARNING, logger="issuer.continue"):
            again = await come_back(client, away["state"])
    assert again.status_code == 400
    assert "already continued" in again.text
    assert "continue refused" in caplog.text


async def test_an_expired_state_is_refused(issuer: Issuer, clock: FakeClock) -> None:
    async with http(issuer) as client:
        away = sent_to(await log_in(client, "bob@example.com", "bob-pw"))
        clock.advance(issuer.redirect_continue_seconds + 1)
        late = await come_back(client, away["state"])
    assert late.status_code == 400
    assert "expired" in late.text


async def test_another_browser_cannot_continue_and_does_not_spend_the_state(
    issuer: Issuer,
) -> None:
    async with http(issuer) as client:
        away = sent_to(await log_in(client, "bob@example.com", "bob-pw"))
        async with http(issuer) as stranger:
            refused = await come_back(stranger, away["state"])
        assert refused.status_code == 403
        tokens = await tokens_from(client, await come_back(client, away["state"]))
    assert claims(tokens["access_token"])[CLAIM] is True


async def test_later_actions_run_after_the_continued_one(issuer: Issuer) -> None:
    issuer.add_action(lambda event, api: api.id_token.set_custom_claim(CLAIM + "/later", 1))
    async with http(issuer) as client:
        away = sent_to(await log_in(client, "bob@example.com", "bob-pw"))
        assert [r.action for r in issuer.action_logs()] == ["send_away"]
        tokens = await tokens_from(client, await come_back(client, away["state"]))
    assert claims(tokens["id_token"])[CLAIM + "/later"] == 1


async def test_a_second_factor_after_a_redirect(issuer: Issuer, clock: FakeClock) -> None:
    issuer.directory.user("bob@example.com").totp_secret = SECRET
    issuer.add_action(lambda event, api: api.multifactor.enable("otp"))
    async with http(issuer) as client:
        away = sent_to(await log_in(client, "bob@example.com", "bob-pw"))
        page = await come_back(client, away["state"])
        assert "Enter your code" in page.text
        tokens = await tokens_from(client, await send_code(client, page, code_at(SECRET, clock())))
    assert claims(tokens["access_token"])[CLAIM] is True
    assert claims(tokens["access_token"])["amr"] == ["pwd", "otp"]


async def test_a_redirect_without_on_continue_fails_the_login(bare_issuer: Issuer) -> None:
    bare_issuer.add_action(send_away)
    async with http(bare_issuer) as client:
        response = await log_in(client, "bob@example.com", "bob-pw")
    params = redirect_params(response)
    assert params["error"] == "access_denied"
    assert params["error_description"] == "action 'send_away' failed"
    # The action log says why: the call that could not be continued failed the action.
    (record,) = bare_issuer.action_logs()
    assert record.outcome == "failed"
    assert record.error is not None
    assert "needs an on_continue_post_login" in record.error
    assert record.error_line is not None


async def test_a_redirecting_action_is_logged_as_paused(issuer: Issuer) -> None:
    async with http(issuer) as client:
        await log_in(client, "bob@example.com", "bob-pw")
    (record,) = issuer.action_logs()
    assert (record.action, record.outcome, record.error) == ("send_away", "paused", None)


async def test_prompt_none_never_sends_the_browser_to_an_actions_page(issuer: Issuer) -> None:
    async with http(issuer) as client:
        away = sent_to(await log_in(client, "bob@example.com", "bob-pw"))
        await tokens_from(client, await come_back(client, away["state"]))
        answer = await client.get(authorize_url(prompt="none", state="st-3"))
    params = redirect_params(answer)
    assert params["error"] == "interaction_required"
    assert (params["state"], params["iss"]) == ("st-3", issuer.url)


async def test_logins_sent_away_are_bounded_and_the_oldest_is_dropped_first(
    clock: FakeClock,
) -> None:
    issuer = make_bare_issuer(clock, max_pending_logins=1)
    issuer.add_action(send_away, on_continue=came_back)
    away = []
    for _ in range(2):
        async with http(issuer) as browser:
            state = sent_to(await log_in(browser, "bob@example.com", "bob-pw"))["state"]
            away.append((state, dict(browser.cookies)))
    answers = []
    for state, cookies in away:
        async with issuer.http_client(base_url="http://127.0.0.1:8765", cookies=cookies) as browser:
            answers.append(await come_back(browser, state))
    assert answers[0].status_code == 400
    assert "Start the login again" in answers[0].text
    assert "code" in redirect_params(answers[1])


@pytest.mark.parametrize("ending", ["logout", "new password"])
async def test_a_login_waiting_in_an_ended_session_cannot_carry_on(
    issuer: Issuer, ending: str
) -> None:
    # An SSO login paused at an action's page carries its session's methods; if the
    # session ends while the browser is away, the login must not finish on its strength.
    async with http(issuer) as client:
        first = sent_to(await log_in(client, "bob@example.com", "bob-pw"))
        await tokens_from(client, await come_back(client, first["state"]))
        away = sent_to(await client.get(authorize_url(state="st-2")))
        if ending == "logout":
            await client.get("/v2/logout")
        else:
            issuer.update_user("bob@example.com", password="a-new-password")
        answer = await come_back(client, away["state"])
    params = redirect_params(answer)
    assert params["error"] == "login_required"
    assert (params["state"], params["iss"]) == ("st-2", issuer.url)
    assert "code" not in params
