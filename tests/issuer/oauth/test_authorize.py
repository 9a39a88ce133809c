"""``/authorize`` and ``POST /login``: the login transaction is used once."""

import logging

import anyio
import httpx
import pytest

from issuer import ConfigError, Issuer
from issuer.login._csrf import FORM_LIFETIME_SECONDS

from ..conftest import FakeClock, make_bare_issuer
from ..flows import hidden_fields, redirect_params

pytestmark = pytest.mark.anyio

CALLBACK = "http://127.0.0.1:3000/callback"


async def test_a_login_form_posted_twice_at_once_logs_in_once(bare_issuer: Issuer) -> None:
    # A double click sends the form twice; the second must not meet a half-used transaction.
    query = {
        "client_id": "app",
        "response_type": "code",
        "redirect_uri": CALLBACK,
        "state": "xyz",
        "scope": "openid",
    }
    responses: list[httpx.Response] = []
    async with bare_issuer.http_client() as client:
        page = await client.get(f"authorize?{httpx.QueryParams(query)}")
        form = {**hidden_fields(page), "email": "alice@example.com", "password": "alice-pw"}

        async def post() -> None:
            responses.append(await client.post("login", data=form))

        async with anyio.create_task_group() as group:
            group.start_soon(post)
            group.start_soon(post)
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [303, 400]
    done = next(response for response in responses if response.status_code == 303)
    assert "code" in redirect_params(done)
    again = next(response for response in responses if response.status_code == 400)
    assert "Start the login again" in again.text


async def test_pending_login_forms_are_bounded_and_the_oldest_is_dropped_first(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    # A flood of GET /authorize must not grow memory without bound: past the cap the
    # oldest form is dropped, and its browser is told to start again.
    issuer = make_bare_issuer(clock, max_pending_logins=2)
    query = {"client_id": "app", "response_type": "code", "redirect_uri": CALLBACK}
    forms: list[dict[str, str]] = []
    with caplog.at_level(logging.WARNING, logger="issuer.authorize"):
        for _ in range(3):
            async with issuer.http_client() as browser:
                page = await browser.get(f"authorize?{httpx.QueryParams(query)}")
                forms.append(hidden_fields(page))
    assert "the oldest was dropped" in caplog.text
    answers = []
    for form in forms:
        cookies = {"issuer_csrf": form["csrf_token"]}
        async with issuer.http_client(cookies=cookies) as browser:
            login = {**form, "email": "alice@example.com", "password": "alice-pw"}
            answers.append(await browser.post("login", data=login))
    assert [answer.status_code for answer in answers] == [400, 303, 303]
    assert "Start the login again" in answers[0].text


async def test_a_pending_login_form_lapses_on_the_issuers_clock(clock: FakeClock) -> None:
    issuer = make_bare_issuer(clock)
    query = {"client_id": "app", "response_type": "code", "redirect_uri": CALLBACK}
    async with issuer.http_client() as browser:
        page = await browser.get(f"authorize?{httpx.QueryParams(query)}")
        clock.advance(FORM_LIFETIME_SECONDS)
        form = {**hidden_fields(page), "email": "alice@example.com", "password": "alice-pw"}
        late = await browser.post("login", data=form)
    assert late.status_code == 400
    assert "Start the login again" in late.text


def test_the_pending_login_cap_is_checked_when_the_issuer_is_built() -> None:
    with pytest.raises(ConfigError, match="max_pending_logins"):
        Issuer(max_pending_logins=0)
