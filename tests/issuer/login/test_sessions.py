"""Login sessions: single sign-on at /authorize, prompt and max_age, expiry, logout, the
cookie, auth_time, and what actions see of the session."""

import logging
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt
import pytest

from issuer import Issuer

from ..conftest import FakeClock
from ..flows import (
    SESSION_COOKIE,
    assert_config_error,
    hidden_fields,
    open_consent,
    redirect_params,
    submit_consent,
    submit_login,
)

pytestmark = pytest.mark.anyio
CALLBACK = "http://127.0.0.1:3000/callback"
API = "https://api.example.com"


def authorize_url(**extra: str) -> str:
    query = {
        "response_type": "code",
        "client_id": "app",
        "redirect_uri": CALLBACK,
        "scope": "openid profile",
        "audience": API,
        "state": "st-1",
        **extra,
    }
    return f"authorize?{urlencode(query)}"


async def log_in(client: httpx.AsyncClient, email: str = "alice@example.com") -> dict[str, str]:
    """A password login through the form; the redirect's parameters."""
    password = email.split("@")[0] + "-pw"
    return redirect_params(await submit_login(client, authorize_url(), email, password))


def shows_form(response: httpx.Response) -> bool:
    return response.status_code == 200 and 'name="password"' in response.text


async def exchange(client: httpx.AsyncClient, code: str) -> dict[str, Any]:
    answer = await client.post(
        "oauth/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK},
        auth=("app", "app-secret"),
    )
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def unverified(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


async def test_prompt_none_without_a_session_is_login_required_with_state_and_iss(
    bare_issuer: Issuer,
) -> None:
    async with bare_issuer.http_client() as client:
        answer = await client.get(authorize_url(prompt="none"))
    params = redirect_params(answer)
    assert params["error"] == "login_required"
    assert (params["state"], params["iss"]) == ("st-1", bare_issuer.url)
    assert answer.headers["location"].startswith(CALLBACK + "?")


async def test_prompt_none_with_a_session_answers_with_a_code(bare_issuer: Issuer) -> None:
    async with bare_issuer.http_client() as client:
        await log_in(client)
        answer = await client.get(authorize_url(prompt="none", state="st-2"))
        params = redirect_params(answer)
        tokens = await exchange(client, params["code"])
    assert (params["state"], params["iss"]) == ("st-2", bare_issuer.url)
    user = bare_issuer.directory.user("alice@example.com")
    assert unverified(tokens["id_token"])["sub"] == user.user_id


async def test_a_second_authorize_skips_the_password_but_still_runs_actions(
    bare_issuer: Issuer,
) -> None:
    runs: list[str] = []

    def count(event: Any, api: Any) -> None:
        runs.append(event.transaction.state)
        api.id_token.set_custom_claim("https://myapp.example.com/run", len(runs))

    bare_issuer.add_action(count)
    async with bare_issuer.http_client() as client:
        await log_in(client)
        answer = await client.get(authorize_url(state="again"))
        tokens = await exchange(client, redirect_params(answer)["code"])
    assert runs == ["st-1", "again"]
    assert unverified(tokens["id_token"])["https://myapp.example.com/run"] == 2


async def test_prompt_login_and_select_account_show_the_form_despite_a_session(
    bare_issuer: Issuer,
) -> None:
    async with bare_issuer.http_client() as client:
        await log_in(client)
        forced = await client.get(authorize_url(prompt="login"))
        choose = await client.get(authorize_url(prompt="select_account"))
        unforced = await client.get(authorize_url())
    assert "code" in redirect_params(unforced)
    assert shows_form(forced)
    assert shows_form(choose)


async def test_max_age_exceeded_shows_the_form(bare_issuer: Issuer, clock: FakeClock) -> None:
    async with bare_issuer.http_client() as client:
        await log_in(client)
        clock.advance(30)
        fresh_enough = await client.get(authorize_url(max_age="60"))
        zero = await client.get(authorize_url(max_age="0"))
        clock.advance(31)
        too_old = await client.get(authorize_url(max_age="60"))
        silent_too_old = await client.get(authorize_url(max_age="60", prompt="none"))
    assert "code" in redirect_params(fresh_enough)
    assert shows_form(zero)
    assert shows_form(too_old)
    assert redirect_params(silent_too_old)["error"] == "login_required"


async def test_the_idle_timeout_ends_a_session(clock: FakeClock, bare_issuer: Issuer) -> None:
    async with bare_issuer.http_client() as client:
        await log_in(client)
        clock.advance(3599)
        used = await client.get(authorize_url(prompt="none"))
        clock.advance(3599)
        used_again = await client.get(authorize_url(prompt="none"))
        clock.advance(3600)
        idle = await client.get(authorize_url(prompt="none"))
    assert "code" in redirect_params(used)
    assert "code" in redirect_params(used_again)
    assert redirect_params(idle)["error"] == "login_required"


async def test_the_lifetime_ends_a_session_even_in_use(
    clock: FakeClock, bare_issuer: Issuer
) -> None:
    answers = []
    async with bare_issuer.http_client() as client:
        await log_in(client)
        for _ in range(24):
            clock.advance(3599)
            answers.append(redirect_params(await client.get(authorize_url(prompt="none"))))
        clock.advance(24)  # 24 h since the login
        ended = redirect_params(await client.get(authorize_url(prompt="none")))
    assert all("code" in params for params in answers)
    assert ended["error"] == "login_required"


@pytest.mark.parametrize("path", ["v2/logout", "oidc/logout"])
async def test_logout_ends_the_session_and_clears_the_cookie(
    bare_issuer: Issuer, path: str
) -> None:
    async with bare_issuer.http_client() as client:
        await log_in(client)
        cookie = client.cookies[SESSION_COOKIE]
        logged_out = await client.get(path)
        after = await client.get(authorize_url(prompt="none"))
    async with bare_issuer.http_client(cookies={SESSION_COOKIE: cookie}) as replay:
        replayed = await replay.get(authorize_url(prompt="none"))
        form = await replay.get(authorize_url())
    assert logged_out.status_code == 200
    [cleared] = [h for h in logged_out.headers.get_list("set-cookie") if SESSION_COOKIE in h]
    assert "max-age=0" in cleared.lower()
    assert redirect_params(after)["error"] == "login_required"
    assert redirect_params(replayed)["error"] == "login_required"
    assert shows_form(form)
    assert len(bare_issuer.sessions) == 0


async def test_the_session_cookie_is_httponly_lax_for_the_whole_issuer() -> None:
    for url, secure in (("http://127.0.0.1:8765/", False), ("https://login.example/", True)):
        issuer = Issuer(issuer_url=url)
        issuer.add_client("app", client_secret="app-secret", redirect_uris=[CALLBACK])
        issuer.add_user("alice@example.com", password="alice-pw")
        async with issuer.http_client() as client:
            posted = await submit_login(
                client, authorize_url(audience=""), "alice@example.com", "alice-pw"
            )
        [header] = [h for h in posted.headers.get_list("set-cookie") if SESSION_COOKIE in h]
        attributes = {part.strip().split("=")[0].lower() for part in header.split(";")}
        assert {"httponly", "path", "max-age"} <= attributes
        assert "samesite=lax" in header.lower()
        assert "path=/;" in header.lower() + ";"
        assert ("secure" in attributes) is secure
        # The value is random and long, and never the public id actions see.
        value = header.split(";")[0].split("=", 1)[1]
        assert len(value) >= 40
        assert all(value != s.id for s in issuer.sessions._sessions.values())


async def test_auth_time_is_the_login_time_not_the_token_time(
    bare_issuer: Issuer, clock: FakeClock
) -> None:
    logged_in_at = int(clock())
    async with bare_issuer.http_client() as client:
        await log_in(client)
        clock.advance(600)
        answer = await client.get(authorize_url(scope="openid offline_access"))
        tokens = await exchange(client, redirect_params(answer)["code"])
        clock.advance(60)
        refreshed = await client.post(
            "oauth/token",
            data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
            auth=("app", "app-secret"),
        )
    claims = unverified(tokens["id_token"])
    assert claims["auth_time"] == logged_in_at
    assert claims["iat"] == logged_in_at + 600
    assert unverified(refreshed.json()["id_token"])["auth_time"] == logged_in_at


async def test_an_unknown_or_forged_cookie_is_ignored_and_logged(
    bare_issuer: Issuer, caplog: pytest.LogCaptureFixture
) -> None:
    forged = {SESSION_COOKIE: "A" * 43}
    with caplog.at_level(logging.WARNING, logger="issuer.sessions"):
        async with bare_issuer.http_client(cookies=forged) as client:
            silent = await client.get(authorize_url(prompt="none"))
            form = await client.get(authorize_url())
    assert redirect_params(silent)["error"] == "login_required"
    assert shows_form(form)
    assert "no such session" in caplog.text
    assert "A" * 43 not in caplog.text


async def test_each_login_makes_a_new_session_and_ends_the_browsers_old_one(
    bare_issuer: Issuer,
) -> None:
    async with bare_issuer.http_client() as client:
        await log_in(client)
        alice_cookie = client.cookies[SESSION_COOKIE]
        page = await client.get(authorize_url(prompt="login"))
        assert shows_form(page)
        fields = {**hidden_fields(page), "email": "bob@example.com", "password": "bob-pw"}
        await client.post("login", data=fields)
        bob_cookie = client.cookies[SESSION_COOKIE]
        tokens = await exchange(
            client, redirect_params(await client.get(authorize_url(prompt="none")))["code"]
        )
    async with bare_issuer.http_client(cookies={SESSION_COOKIE: alice_cookie}) as old:
        replayed = await old.get(authorize_url(prompt="none"))
    assert bob_cookie != alice_cookie
    assert (
        unverified(tokens["id_token"])["sub"]
        == bare_issuer.directory.user("bob@example.com").user_id
    )
    assert redirect_params(replayed)["error"] == "login_required"
    assert len(bare_issuer.sessions) == 1


async def test_a_changed_password_or_a_removed_user_ends_the_session(
    bare_issuer: Issuer,
) -> None:
    async with bare_issuer.http_client() as alice, bare_issuer.http_client() as bob:
        await log_in(alice)
        await log_in(bob, "bob@example.com")
        bare_issuer.update_user("alice@example.com", password="new-pw")
        del bare_issuer.directory.users["bob@example.com"]
        alice_after = await alice.get(authorize_url(prompt="none"))
        bob_after = await bob.get(authorize_url(prompt="none"))
    assert redirect_params(alice_after)["error"] == "login_required"
    assert redirect_params(bob_after)["error"] == "login_required"
    assert len(bare_issuer.sessions) == 0


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        ({"prompt": "none login"}, "prompt=none cannot be combined"),
        ({"prompt": "sometimes"}, "unsupported prompt value 'sometimes'"),
        ({"max_age": "-1"}, "max_age must be a non-negative integer"),
        ({"max_age": "soon"}, "max_age must be a non-negative integer"),
    ],
)
async def test_a_malformed_prompt_or_max_age_is_invalid_request(
    bare_issuer: Issuer, extra: dict[str, str], problem: str
) -> None:
    async with bare_issuer.http_client() as client:
        params = redirect_params(await client.get(authorize_url(**extra)))
    assert params["error"] == "invalid_request"
    assert problem in params["error_description"]


async def test_actions_see_the_session_and_the_methods_used(
    bare_issuer: Issuer, clock: FakeClock
) -> None:
    seen: list[dict[str, Any]] = []
    bare_issuer.add_action(
        lambda event, api: seen.append(
            {"session": event.session.to_dict(), "methods": event.authentication.to_dict()}
        )
    )
    async with bare_issuer.http_client() as client:
        await log_in(client)
        cookie = client.cookies[SESSION_COOKIE]
        clock.advance(90)
        await client.get(authorize_url(prompt="none"))
    first, second = seen
    assert first["session"]["id"] == second["session"]["id"] != cookie
    assert second["session"]["created_at"] == "2027-01-15T08:00:00.000Z"
    assert second["session"]["authenticated_at"] == "2027-01-15T08:00:00.000Z"
    assert second["session"]["last_interacted_at"] == "2027-01-15T08:01:30.000Z"
    assert second["session"]["expires_at"] == "2027-01-16T08:00:00.000Z"
    assert second["methods"] == {
        "methods": [{"name": "pwd", "timestamp": "2027-01-15T08:00:00.000Z"}]
    }


async def test_a_recorded_method_is_listed_but_leaves_auth_time_to_the_login(
    bare_issuer: Issuer, clock: FakeClock
) -> None:
    seen: list[Any] = []
    bare_issuer.add_action(lambda event, api: seen.append(event.authentication.to_dict()))
    logged_in_at = clock()
    async with bare_issuer.http_client() as client:
        await log_in(client)
        clock.advance(120)
        [session] = bare_issuer.sessions._sessions.values()
        bare_issuer.sessions.record_method(session, "otp")
        answer = await client.get(authorize_url(prompt="none"))
        tokens = await exchange(client, redirect_params(answer)["code"])
    assert [m["name"] for m in seen[-1]["methods"]] == ["pwd", "otp"]
    assert seen[-1]["methods"][1]["timestamp"] == "2027-01-15T08:02:00.000Z"
    assert session.authenticated_at == logged_in_at
    # The token lists the password only, so its auth_time is the password's.
    assert unverified(tokens["id_token"])["amr"] == ["pwd"]
    assert unverified(tokens["id_token"])["auth_time"] == int(logged_in_at)


async def test_sessions_and_consent_work_together(bare_issuer: Issuer) -> None:
    async with bare_issuer.http_client() as client:
        registered = await client.post(
            "oidc/register", json={"redirect_uris": [CALLBACK], "client_name": "Desk"}
        )
        client_id = registered.json()["client_id"]
        url = authorize_url(client_id=client_id, code_challenge="E" * 43)
        url = url.replace("code_challenge=", "code_challenge_method=S256&code_challenge=")
        logged_in = await submit_login(client, url, "alice@example.com", "alice-pw")
        silent_before = await client.get(url + "&prompt=none")
        await submit_consent(client, await open_consent(client, logged_in), "allow")
        silent_after = await client.get(url + "&prompt=none")
        consent_again = await client.get(url + "&prompt=consent")
    assert redirect_params(silent_before)["error"] == "consent_required"
    assert "code" in redirect_params(silent_after)
    assert "consent?" in consent_again.headers["location"]


async def test_the_store_is_bounded_and_ends_the_least_recently_used(clock: FakeClock) -> None:
    from issuer.login._sessions import SessionStore

    issuer = Issuer(clock=clock)
    users = [issuer.add_user(f"u{i}@example.com", password="pw") for i in range(3)]
    store = SessionStore(directory=issuer.directory, clock=clock, max_sessions=2)
    first, _ = store.start(users[0])
    second, _ = store.start(users[1])
    assert store.resume(first) is not None  # the first is now the most recently used
    store.start(users[2])
    assert len(store) == 2
    assert store.resume(second) is None
    assert store.resume(first) is not None


def test_session_settings_come_from_the_sessions_table(tmp_path: Path) -> None:
    path = tmp_path / "issuer.toml"
    path.write_text("[sessions]\nlifetime_seconds = 7200\nidle_timeout_seconds = 600\n")
    issuer = Issuer.from_config(path)
    assert (issuer.sessions.lifetime_seconds, issuer.sessions.idle_timeout_seconds) == (
        7200,
        600,
    )
    assert issuer.session_cookie.max_age_seconds == 7200


@pytest.mark.parametrize(
    ("toml", "key", "problem"),
    [
        ("lifetime_seconds = 0", "sessions.lifetime_seconds", "positive number of seconds"),
        ("lifetime_seconds = 4e7", "sessions.lifetime_seconds", "400 days"),
        ("idle_timeout_seconds = 90000", "sessions.idle_timeout_seconds", "lifetime_seconds"),
        ("idle_timeout_seconds = 'long'", "sessions.idle_timeout_seconds", "must be a number"),
        ("forever = true", "sessions.forever", "unknown key"),
    ],
)
def test_bad_session_settings_name_file_key_and_problem(
    tmp_path: Path, toml: str, key: str, problem: str
) -> None:
    assert_config_error(tmp_path, f"[sessions]\n{toml}\n", key, problem)
