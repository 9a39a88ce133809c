"""The serve console: request lines, action output lines and one line per login."""

import io
import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from issuer import Issuer
from issuer.cli._console import Console, RequestLog

from ..flows import password_grant
from ..mfaflows import SECRET, authorize_url, code_at, log_in, send_code

pytestmark = pytest.mark.anyio


def console_client(
    issuer: Issuer, *, json_lines: bool = False
) -> tuple[httpx.AsyncClient, io.StringIO]:
    out = io.StringIO()
    issuer.activity.subscribe(
        Console(
            json_lines=json_lines,
            stream=out,
            clock=lambda: 1.5,
            secret_values=issuer.secret_values,
        )
    )
    app = RequestLog(issuer.app, issuer.activity)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=issuer.url)
    return client, out


def premium(event: Any, api: Any) -> None:
    print(f"checking {event.user.email}")
    if "premium" not in event.user.app_metadata.get("roles", []):
        api.access.deny("premium only")


async def test_a_login_prints_its_request_its_action_output_and_its_outcome(
    bare_issuer: Issuer,
) -> None:
    bare_issuer.add_action(premium)
    client, out = console_client(bare_issuer)
    async with client:
        response = await password_grant(
            client, "alice@example.com", "alice-pw", auth=("app", "app-secret")
        )
    assert response.status_code == 200
    lines = out.getvalue().splitlines()
    assert lines[0] == "[premium] alice@example.com: checking alice@example.com"
    assert lines[1].startswith(
        "login alice@example.com via password for client app: ok (actions: premium) "
    )
    assert lines[1].endswith(" ms")
    assert lines[2].startswith("POST /oauth/token 200 ")


async def test_a_denied_login_names_the_action_and_its_reason(bare_issuer: Issuer) -> None:
    bare_issuer.add_action(premium)
    client, out = console_client(bare_issuer)
    async with client:
        await password_grant(client, "bob@example.com", "bob-pw", auth=("app", "app-secret"))
    assert (
        "login bob@example.com via password for client app: denied by premium: premium only"
        " (actions: premium)" in out.getvalue()
    )
    assert "POST /oauth/token 403 " in out.getvalue()


async def test_a_failed_login_names_the_exception_type_never_its_text(
    bare_issuer: Issuer,
) -> None:
    def leaky(event: Any, api: Any) -> None:
        raise RuntimeError(f"db password is {event.secrets['DB']}")

    bare_issuer.set_secret("DB", "hunter2")
    bare_issuer.add_action(leaky)
    client, out = console_client(bare_issuer)
    async with client:
        await password_grant(client, "alice@example.com", "alice-pw", auth=("app", "app-secret"))
    assert "for client app: failed in leaky (RuntimeError) (actions: leaky)" in out.getvalue()
    assert "hunter2" not in out.getvalue()
    assert "hunter2" in bare_issuer.action_logs()[0].error  # the action log keeps it all


async def test_request_lines_carry_no_query_string_form_body_or_credentials(
    bare_issuer: Issuer,
) -> None:
    client, out = console_client(bare_issuer)
    async with client:
        await client.get("authorize?client_id=app&state=s3cr3t-state&code_challenge=xyz")
        await password_grant(client, "alice@example.com", "alice-pw", auth=("app", "app-secret"))
    text = out.getvalue()
    assert "GET /authorize " in text
    for secret in ("s3cr3t-state", "alice-pw", "app-secret", "eyJ", "Basic"):
        assert secret not in text


async def test_control_characters_in_action_output_are_escaped(bare_issuer: Issuer) -> None:
    def noisy(event: Any, api: Any) -> None:
        print("\x1b[2Jcleared")

    bare_issuer.add_action(noisy)
    client, out = console_client(bare_issuer)
    async with client:
        await password_grant(client, "alice@example.com", "alice-pw", auth=("app", "app-secret"))
    assert "[noisy] alice@example.com: \\x1b[2Jcleared\n" in out.getvalue()
    assert "\x1b" not in out.getvalue()


async def test_json_lines_have_stable_keys(bare_issuer: Issuer) -> None:
    bare_issuer.add_action(premium)
    client, out = console_client(bare_issuer, json_lines=True)
    async with client:
        await password_grant(client, "alice@example.com", "alice-pw", auth=("app", "app-secret"))
    output, login, request = (json.loads(line) for line in out.getvalue().splitlines())
    assert output == {
        "event": "action_output",
        "action": "premium",
        "user": "alice@example.com",
        "client_id": "app",
        "line": "checking alice@example.com",
        "execution_id": login["execution_id"],
        "time": 1.5,
    }
    assert set(login) == {
        "event",
        "user",
        "client_id",
        "grant",
        "outcome",
        "actions",
        "duration_ms",
        "execution_id",
        "action",
        "reason",
        "error_type",
        "time",
    }
    assert (login["outcome"], login["grant"], login["actions"]) == ("ok", "password", ["premium"])
    assert set(request) == {"event", "method", "path", "status", "duration_ms", "time"}
    assert (request["method"], request["path"], request["status"]) == ("POST", "/oauth/token", 200)


async def test_client_credentials_print_a_token_line(bare_issuer: Issuer) -> None:
    client, out = console_client(bare_issuer)
    async with client:
        response = await client.post(
            "oauth/token",
            data={"grant_type": "client_credentials", "audience": "https://api.example.com"},
            auth=("app", "app-secret"),
        )
    assert response.status_code == 200, response.text
    assert "token via client_credentials for client app: ok (actions: none) " in out.getvalue()


@pytest.mark.parametrize("json_lines", [False, True])
async def test_secrets_an_action_prints_or_denies_with_are_masked(
    bare_issuer: Issuer, json_lines: bool
) -> None:
    def chatty(event: Any, api: Any) -> None:
        print(f"calling billing with {event.secrets.API_KEY}")
        api.access.deny(f"billing refused {event.secrets.API_KEY}")

    bare_issuer.set_secret("API_KEY", "sk-live-do-not-print")
    bare_issuer.add_action(chatty)
    client, out = console_client(bare_issuer, json_lines=json_lines)
    async with client:
        await password_grant(client, "alice@example.com", "alice-pw", auth=("app", "app-secret"))
    assert "sk-live-do-not-print" not in out.getvalue()
    assert "calling billing with ••••" in out.getvalue()


def test_bidi_and_line_separators_are_escaped() -> None:
    from issuer.cli._console import printable

    assert printable("a\u202eb\u2028c\x1bd") == "a\\u202eb\\u2028c\\x1bd"


async def test_a_login_waiting_for_a_code_is_paused_then_ok(bare_issuer: Issuer) -> None:
    bare_issuer.directory.user("alice@example.com").totp_secret = SECRET
    bare_issuer.add_action(lambda event, api: api.multifactor.enable("otp"))
    client, out = console_client(bare_issuer)
    async with client:
        page = await log_in(client, "alice@example.com", "alice-pw")
        await send_code(client, page, code_at(SECRET, bare_issuer.clock()))
    logins = [line for line in out.getvalue().splitlines() if line.startswith("login ")]
    assert logins[0].startswith(
        "login alice@example.com via authorization_code for client app:"
        " paused, waiting for a one-time code (actions: <lambda>) "
    )
    assert ": ok (actions: <lambda>) " in logins[1]
    assert "failed" not in out.getvalue()


async def test_a_silent_login_that_needs_a_code_is_refused_not_paused(
    bare_issuer: Issuer,
) -> None:
    bare_issuer.directory.user("alice@example.com").totp_secret = SECRET
    bare_issuer.add_action(lambda event, api: api.multifactor.enable("otp"))
    client, out = console_client(bare_issuer)
    async with client:
        page = await log_in(client, "alice@example.com", "alice-pw")
        await send_code(client, page, code_at(SECRET, bare_issuer.clock()))
        silent = await client.get(authorize_url(prompt="none"))
    assert "error=interaction_required" in silent.headers["location"]
    logins = [line for line in out.getvalue().splitlines() if line.startswith("login ")]
    # prompt=none shows nothing, so nothing waits: the third login is refused, not paused.
    assert len(logins) == 3
    assert ": refused: interaction_required (actions: <lambda>) " in logins[2]
    assert "paused" not in logins[2]


async def test_a_redirect_action_is_listed_once_when_the_login_carries_on(
    bare_issuer: Issuer,
) -> None:
    def terms(event: Any, api: Any) -> None:
        api.redirect.send_user_to("https://terms.example.com/")

    def tag(event: Any, api: Any) -> None:
        pass

    bare_issuer.add_action(terms, on_continue=lambda event, api: None)
    bare_issuer.add_action(tag)
    client, out = console_client(bare_issuer)
    async with client:
        page = await log_in(client, "bob@example.com", "bob-pw")
        state = parse_qs(urlsplit(page.headers["location"]).query)["state"][0]
        back = await client.get("/continue", params={"state": state})
    assert back.status_code in (302, 303), back.text
    logins = [line for line in out.getvalue().splitlines() if line.startswith("login ")]
    assert len(logins) == 2
    assert ": ok (actions: terms, tag) " in logins[1]


async def test_a_login_sent_away_by_an_action_is_paused_by_it(bare_issuer: Issuer) -> None:
    def send_away(event: Any, api: Any) -> None:
        api.redirect.send_user_to("https://verify.example.com/check")

    bare_issuer.add_action(send_away, on_continue=lambda event, api: None)
    client, out = console_client(bare_issuer, json_lines=True)
    async with client:
        await log_in(client, "bob@example.com", "bob-pw")
    (login,) = (e for e in map(json.loads, out.getvalue().splitlines()) if e["event"] == "login")
    assert (login["outcome"], login["action"], login["error_type"]) == ("paused", "send_away", None)
    assert login["reason"] == "the browser to come back to /continue"
