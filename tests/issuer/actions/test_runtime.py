"""Running post-login actions: order, deny, failures, the budget, captured output."""

import logging
import threading
import time
from pathlib import Path
from typing import Any

import anyio
import pytest

from issuer import ActionFailed, Issuer, LoginDenied, OAuthError

from ..conftest import PREMIUM
from ..flows import password_grant

pytestmark = pytest.mark.anyio


async def test_deny_finishes_the_action_and_skips_the_rest(bare_issuer: Issuer) -> None:
    ran: list[str] = []

    def gate(event: Any, api: Any) -> None:
        api.access.deny("no premium, no entry")
        ran.append("gate finished")

    def later(event: Any, api: Any) -> None:
        ran.append("later")

    bare_issuer.add_action(gate)
    bare_issuer.add_action(later)
    with pytest.raises(LoginDenied) as denied:
        await bare_issuer.login("bob@example.com")
    assert denied.value.error == "access_denied"
    assert denied.value.reason == "no premium, no entry"
    assert denied.value.action == "gate"
    assert ran == ["gate finished"]
    assert bare_issuer.action_logs()[0].deny_reason == "no premium, no entry"


async def test_an_action_that_raises_fails_the_login_naming_it(bare_issuer: Issuer) -> None:
    def broken(event: Any, api: Any) -> None:
        raise KeyError("plan")

    bare_issuer.add_action(broken)
    with pytest.raises(ActionFailed, match=r"'broken'.*KeyError") as failed:
        await bare_issuer.login("alice@example.com")
    assert failed.value.action == "broken"
    assert bare_issuer.action_logs()[0].error == "KeyError: 'plan'"


class Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no text")


def exits(event: Any, api: Any) -> None:
    raise SystemExit(3)


async def leaves_early(event: Any, api: Any) -> None:
    raise SystemExit("bye")


def unprintable(event: Any, api: Any) -> None:
    raise Unprintable


@pytest.mark.parametrize(
    ("action", "error"),
    [
        (exits, "SystemExit: 3"),
        (leaves_early, "SystemExit: bye"),
        (unprintable, "Unprintable: (the exception's text could not be read)"),
    ],
)
async def test_sys_exit_or_an_unprintable_exception_fails_only_that_login(
    bare_issuer: Issuer, action: Any, error: str
) -> None:
    bare_issuer.add_action(action)
    with pytest.raises(ActionFailed) as failed:
        await bare_issuer.login("alice@example.com")
    assert failed.value.action == action.__name__
    assert bare_issuer.action_logs()[0].error == error
    async with bare_issuer.http_client() as client:
        response = await password_grant(
            client, "alice@example.com", "alice-pw", auth=("app", "app-secret")
        )
    assert response.status_code == 403
    assert response.json()["error_description"] == f"action {action.__name__!r} failed"


async def test_a_hanging_action_fails_within_budget_while_other_logins_proceed(
    bare_issuer: Issuer,
) -> None:
    release = threading.Event()

    def hang(event: Any, api: Any) -> None:
        if event.user.email == "bob@example.com":
            release.wait()

    bare_issuer.add_action(hang)  # the fixture's budget is 0.5 s
    results: dict[str, Any] = {}

    async def login(email: str) -> None:
        try:
            results[email] = await bare_issuer.login(email)
        except ActionFailed as exc:
            results[email] = exc

    try:
        with anyio.fail_after(1.5):
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(login, "bob@example.com")
                tasks.start_soon(login, "alice@example.com")
    finally:
        release.set()
    assert isinstance(results["bob@example.com"], ActionFailed)
    assert "hang" in str(results["bob@example.com"])
    assert "0.5 s flow budget" in str(results["bob@example.com"])
    assert results["alice@example.com"].access_token


async def test_a_hanging_async_action_is_cancelled_at_the_budget(bare_issuer: Issuer) -> None:
    async def stall(event: Any, api: Any) -> None:
        await anyio.sleep_forever()

    bare_issuer.add_action(stall)
    with anyio.fail_after(1.5), pytest.raises(ActionFailed, match="stall"):
        await bare_issuer.login("alice@example.com")


async def test_concurrent_logins_capture_their_own_output(bare_issuer: Issuer) -> None:
    async def chatty(event: Any, api: Any) -> None:
        print(f"hello {event.user.email}")
        await anyio.sleep(0.01)
        logging.getLogger("issuer.actions.chatty").info("bye %s", event.user.email)

    def sync_chatty(event: Any, api: Any) -> None:
        time.sleep(0.005)
        print("from a thread", event.user.email)

    bare_issuer.add_action(chatty)
    bare_issuer.add_action(sync_chatty)
    async with anyio.create_task_group() as tasks:
        for email in ("alice@example.com", "bob@example.com"):
            tasks.start_soon(bare_issuer.login, email)
    for record in bare_issuer.action_logs():
        email = (
            "alice@example.com"
            if any("alice" in line for line in record.logs)
            else "bob@example.com"
        )
        expected = (
            [f"hello {email}", f"INFO issuer.actions.chatty: bye {email}"]
            if record.action == "chatty"
            else [f"from a thread {email}"]
        )
        assert record.logs == expected


async def test_metadata_changes_are_visible_to_later_actions_and_applied_at_the_end(
    bare_issuer: Issuer,
) -> None:
    seen: list[Any] = []

    def first(event: Any, api: Any) -> None:
        api.user.set_app_metadata("plan", "gold")
        seen.append(event.user.app_metadata.get("plan"))

    def second(event: Any, api: Any) -> None:
        seen.append(event.user.app_metadata.get("plan"))

    bare_issuer.add_action(first)
    bare_issuer.add_action(second)
    user = bare_issuer.directory.user("alice@example.com")
    await bare_issuer.login("alice@example.com")
    assert seen == [None, "gold"]
    assert user.app_metadata == {"roles": ["premium"], "plan": "gold"}


async def test_refused_claims_are_logged_and_left_out(
    bare_issuer: Issuer, caplog: pytest.LogCaptureFixture
) -> None:
    def greedy(event: Any, api: Any) -> None:
        api.access_token.set_custom_claim("sub", "someone-else")
        api.access_token.set_custom_claim("https://auth0.com/role", "admin")
        api.access_token.set_custom_claim("https://tenant.webtask.run/x", 1)
        api.access_token.add_claim({PREMIUM: True})

    bare_issuer.add_action(greedy)
    tokens = await bare_issuer.login("alice@example.com")
    claims = bare_issuer.verify_access_token(
        tokens.access_token, audience="https://api.example.com"
    )
    assert claims is not None
    assert claims[PREMIUM] is True
    assert claims["sub"] != "someone-else"
    assert "https://auth0.com/role" not in claims
    warnings = bare_issuer.action_logs()[0].warnings
    assert len(warnings) == 3
    assert "reserved claim" in warnings[0]
    assert "auth0.com" in warnings[1]
    assert any("webtask.run" in r.getMessage() for r in caplog.records)


async def test_a_non_json_claim_value_fails_the_action(bare_issuer: Issuer) -> None:
    def nan(event: Any, api: Any) -> None:
        api.id_token.set_custom_claim("https://myapp.example.com/score", float("nan"))

    bare_issuer.add_action(nan)
    with pytest.raises(ActionFailed, match="not a JSON number"):
        await bare_issuer.login("alice@example.com")


async def test_a_token_over_the_size_budget_fails_the_login(clock: Any) -> None:
    issuer = Issuer(clock=clock, max_token_bytes=2048)
    issuer.add_client("app", client_secret="s", grant_types=["password"])
    issuer.add_user("alice@example.com", password="pw")

    def bloat(event: Any, api: Any) -> None:
        api.access_token.set_custom_claim("https://myapp.example.com/blob", "x" * 4096)

    issuer.add_action(bloat)
    with pytest.raises(OAuthError, match="over the 2048-byte budget") as info:
        await issuer.login("alice@example.com")
    assert (info.value.error, info.value.status_code) == ("access_denied", 403)

    async with issuer.http_client() as client:
        answer = await password_grant(
            client, "alice@example.com", "pw", client_id="app", client_secret="s"
        )
    assert answer.status_code == 403
    assert answer.json()["error"] == "access_denied"
    assert "2048-byte budget" in answer.json()["error_description"]


async def test_actions_see_the_event_and_secrets(bare_issuer: Issuer) -> None:
    seen: dict[str, Any] = {}

    async def inspect(event: Any, api: Any) -> None:
        seen.update(
            user_id=event.user.user_id,
            client=event.client.client_id,
            protocol=event.transaction.protocol,
            audience=event.resource_server.identifier,
            secret=event.secrets.PLAN_KEY,
            logins=event.stats.logins_count,
        )
        api.cache.set("count", api.cache.get("count", 0) + 1)
        seen["cached"] = api.cache.get("count")

    bare_issuer.set_secret("PLAN_KEY", "k-123")
    bare_issuer.add_action(inspect)
    await bare_issuer.login("alice@example.com")
    await bare_issuer.login("alice@example.com")
    assert seen == {
        "user_id": bare_issuer.directory.user("alice@example.com").user_id,
        "client": "app",
        "protocol": "oidc-basic-profile",
        "audience": "https://api.example.com",
        "secret": "k-123",
        "logins": 2,
        "cached": 2,
    }


async def test_output_without_a_final_newline_is_kept(bare_issuer: Issuer) -> None:
    def terse(event: Any, api: Any) -> None:
        print("checking", end="")
        print(" done", end="")

    bare_issuer.add_action(terse)
    await bare_issuer.login("alice@example.com")
    assert bare_issuer.action_logs()[0].logs == ["checking done"]


async def test_a_blocking_async_action_fails_at_the_budget_while_the_server_answers(
    bare_issuer: Issuer,
) -> None:
    started, release = threading.Event(), threading.Event()

    async def blocks(event: Any, api: Any) -> None:
        started.set()
        release.wait(3)  # a blocking call inside async def, like time.sleep

    bare_issuer.add_action(blocks)  # the fixture's budget is 0.5 s
    order: list[str] = []

    async def login() -> None:
        with pytest.raises(ActionFailed, match=r"blocks.*0\.5 s flow budget"):
            await bare_issuer.login("alice@example.com")
        order.append("login failed")

    try:
        with anyio.fail_after(2.5):
            async with anyio.create_task_group() as tasks, bare_issuer.http_client() as client:
                tasks.start_soon(login)
                await anyio.to_thread.run_sync(started.wait)
                response = await client.get("/.well-known/jwks.json")
                order.append("jwks answered")
    finally:
        release.set()
    assert response.json()["keys"]
    assert order == ["jwks answered", "login failed"]


async def test_records_tell_who_logged_in_where_how_and_with_what_outcome(
    bare_issuer: Issuer, clock: Any
) -> None:
    def tag(event: Any, api: Any) -> None:
        api.access_token.add_claim({"https://x.example/tag": 1})

    def gate(event: Any, api: Any) -> None:
        api.access.deny("closed")

    bare_issuer.add_action(tag)
    bare_issuer.add_action(gate)
    async with bare_issuer.http_client() as client:
        response = await password_grant(
            client, "alice@example.com", "alice-pw", auth=("app", "app-secret")
        )
    assert response.status_code == 403
    denied, tagged = (record.to_dict() for record in bare_issuer.action_logs())
    user = bare_issuer.directory.user("alice@example.com")
    assert tagged["user_id"] == denied["user_id"] == user.user_id
    assert tagged["user_email"] == "alice@example.com"
    assert tagged["client_id"] == "app"
    assert tagged["protocol"] == "oauth2-password"
    assert tagged["timestamp"] == "2027-01-15T08:00:00.000Z"
    assert (tagged["outcome"], tagged["actions"]) == ("ok", ["tag"])
    assert tagged["claims_added"]["access_token"] == {"https://x.example/tag": 1}
    assert (denied["outcome"], denied["actions"], denied["deny_reason"]) == (
        "denied",
        ["tag", "gate"],
        "closed",
    )
    assert denied["error_file"] is None
    assert denied["error_line"] is None


async def test_a_failed_record_locates_the_raise_in_the_action_file(
    bare_issuer: Issuer, tmp_path: Path
) -> None:
    source = tmp_path / "fragile.py"
    source.write_text(
        "import json\n\ndef on_execute_post_login(event, api):\n    json.loads('{not json')\n"
    )
    bare_issuer.add_action(source)
    with pytest.raises(ActionFailed):
        await bare_issuer.login("alice@example.com")
    record = bare_issuer.action_logs()[0].to_dict()
    assert record["outcome"] == "failed"
    assert record["error"].startswith("JSONDecodeError: ")
    # The call in the action's own file, not the line deep inside json that raised.
    assert (record["error_file"], record["error_line"]) == (str(source), 4)
    assert record["protocol"] == "oidc-basic-profile"
