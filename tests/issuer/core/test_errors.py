"""What a client learns when an action fails: the action's name, never the action's error
text, which can carry ``event.secrets`` values (RFC 6749 §5.2, RFC 9700 §4). The full error
stays in the action log and the server log."""

from typing import Any

import anyio
import httpx
import pytest

from issuer import ActionFailed, Issuer

from ..flows import password_grant, redirect_params, submit_login

pytestmark = pytest.mark.anyio
CALLBACK = "http://127.0.0.1:3000/callback"
API = "https://api.example.com"
APP_AUTH = ("app", "app-secret")
SECRET = "sk_live_4f9a-do-not-leak"
GENERIC = {"error": "access_denied", "error_description": "action 'leaky' failed"}


class Switch:
    failing = True


def leaky_issuer(issuer: Issuer, switch: Switch) -> Issuer:
    """``issuer`` with a post-login and a credentials-exchange action named ``leaky`` that
    raise an error quoting ``event.secrets.API_KEY`` while ``switch.failing``."""

    def leaky(event: Any, api: Any) -> None:
        if switch.failing:
            raise RuntimeError(f"the billing API refused key {event.secrets.API_KEY}")

    issuer.set_secret("API_KEY", SECRET)
    issuer.add_action(leaky)
    issuer.add_action(leaky, trigger="credentials_exchange")
    return issuer


async def via_password(client: httpx.AsyncClient, switch: Switch) -> httpx.Response:
    return await password_grant(client, "alice@example.com", "alice-pw", auth=APP_AUTH)


async def via_refresh_token(client: httpx.AsyncClient, switch: Switch) -> httpx.Response:
    switch.failing = False
    first = await password_grant(
        client, "alice@example.com", "alice-pw", auth=APP_AUTH, scope="openid offline_access"
    )
    switch.failing = True
    return await client.post(
        "oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": first.json()["refresh_token"]},
        auth=APP_AUTH,
    )


async def via_client_credentials(client: httpx.AsyncClient, switch: Switch) -> httpx.Response:
    return await client.post(
        "oauth/token", data={"grant_type": "client_credentials", "audience": API}, auth=APP_AUTH
    )


@pytest.mark.parametrize("grant", [via_password, via_refresh_token, via_client_credentials])
async def test_a_failing_action_is_named_but_not_quoted_at_the_token_endpoint(
    bare_issuer: Issuer, grant: Any, caplog: pytest.LogCaptureFixture
) -> None:
    switch = Switch()
    issuer = leaky_issuer(bare_issuer, switch)
    async with issuer.http_client() as client:
        response = await grant(client, switch)
        logs = await client.get("actions/logs")
    assert response.status_code == 403
    assert response.json() == GENERIC
    assert SECRET not in response.text
    # The developer still sees everything in the action log (Python and HTTP); the server
    # log names the action and the execution to look up there, never the text that quotes
    # the secret.
    record = issuer.action_logs()[0]
    assert record.error == f"RuntimeError: the billing API refused key {SECRET}"
    assert SECRET in logs.text
    warnings = [r.getMessage() for r in caplog.records if r.name == "issuer.actions"]
    assert any("'leaky'" in m and record.execution_id in m for m in warnings)
    assert not any(SECRET in m for m in warnings)


async def test_a_failing_action_is_named_but_not_quoted_on_the_login_redirect(
    bare_issuer: Issuer, caplog: pytest.LogCaptureFixture
) -> None:
    issuer = leaky_issuer(bare_issuer, Switch())
    query = {
        "client_id": "app",
        "response_type": "code",
        "redirect_uri": CALLBACK,
        "state": "xyz",
        "scope": "openid",
    }
    async with issuer.http_client() as client:
        posted = await submit_login(
            client, f"authorize?{httpx.QueryParams(query)}", "alice@example.com", "alice-pw"
        )
    assert redirect_params(posted) == {**GENERIC, "state": "xyz", "iss": issuer.url}
    assert caplog.records
    assert not any(SECRET in record.getMessage() for record in caplog.records)
    assert SECRET not in posted.headers["location"]
    assert SECRET not in posted.text


async def test_an_action_out_of_time_is_named_without_the_details(bare_issuer: Issuer) -> None:
    async def stall(event: Any, api: Any) -> None:
        await anyio.sleep_forever()

    bare_issuer.add_action(stall)  # the fixture's budget is 0.5 s
    async with bare_issuer.http_client() as client:
        with anyio.fail_after(5):
            response = await password_grant(client, "alice@example.com", "alice-pw", auth=APP_AUTH)
    assert response.json() == {
        "error": "access_denied",
        "error_description": "action 'stall' failed",
    }
    assert "0.5 s flow budget" in str(bare_issuer.action_logs()[0].error)


async def test_python_callers_get_the_whole_error(bare_issuer: Issuer) -> None:
    issuer = leaky_issuer(bare_issuer, Switch())
    with pytest.raises(ActionFailed) as failed:
        await issuer.login("alice@example.com")
    assert failed.value.description == "action 'leaky' failed"
    assert failed.value.to_dict() == GENERIC
    assert SECRET in failed.value.problem
    assert SECRET in str(failed.value)


async def test_a_deny_reason_still_reaches_the_client(bare_issuer: Issuer) -> None:
    def gate(event: Any, api: Any) -> None:
        api.access.deny("upgrade to premium first")

    bare_issuer.add_action(gate)
    async with bare_issuer.http_client() as client:
        response = await password_grant(client, "bob@example.com", "bob-pw", auth=APP_AUTH)
    assert response.json() == {
        "error": "access_denied",
        "error_description": "upgrade to premium first",
    }
