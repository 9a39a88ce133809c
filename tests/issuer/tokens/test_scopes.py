"""Which scopes a token gets: client grants for client_credentials, RBAC for users."""

import base64
import hashlib
import logging
from typing import Any

import httpx
import jwt
import pytest

from issuer import Issuer

from ..conftest import FakeClock
from ..flows import password_grant, redirect_params, submit_login

pytestmark = pytest.mark.anyio
API = "https://api.example.com"
OTHER = "https://other.example.com"
CALLBACK = "http://127.0.0.1:3000/callback"
BOT_AUTH = ("bot", "bot-secret")
APP_AUTH = ("app", "app-secret")
VERIFIER = "v" * 50


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")


def claims(issuer: Issuer, token: str, audience: str = API) -> dict[str, Any]:
    decoded = issuer.verify_access_token(token, audience=audience)
    assert decoded is not None
    return decoded


# -- client grants (client_credentials, RFC 6749 §4.4) -------------------------------


@pytest.fixture
def machine_issuer(clock: FakeClock) -> Issuer:
    issuer = Issuer(clock=clock, signing_alg="ES256")
    issuer.add_api(API, scopes=["read:messages", "write:messages", "delete:messages"])
    issuer.add_api(OTHER, scopes=["read:other"])
    issuer.add_client(
        "bot",
        client_secret="bot-secret",
        grant_types=["client_credentials"],
        grants={API: ["read:messages", "write:messages"]},
    )
    issuer.add_client("idle-bot", client_secret="idle-secret", grant_types=["client_credentials"])
    return issuer


async def client_credentials(
    issuer: Issuer, auth: tuple[str, str], **params: str
) -> httpx.Response:
    async with issuer.http_client() as client:
        return await client.post(
            "oauth/token", data={"grant_type": "client_credentials", **params}, auth=auth
        )


async def test_client_credentials_for_an_api_without_a_grant_is_access_denied(
    machine_issuer: Issuer, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="issuer"):
        other = await client_credentials(machine_issuer, BOT_AUTH, audience=OTHER)
        idle = await client_credentials(machine_issuer, ("idle-bot", "idle-secret"), audience=API)
    for response, client_id, api in ((other, "bot", OTHER), (idle, "idle-bot", API)):
        assert response.status_code == 403, response.text
        assert response.headers["cache-control"] == "no-store"
        body = response.json()
        assert body["error"] == "access_denied"
        assert client_id in body["error_description"]
        assert api in body["error_description"]
    refusals = [r for r in caplog.records if r.name == "issuer.scopes"]
    assert [r.levelno for r in refusals] == [logging.WARNING, logging.WARNING]
    assert "idle-secret" not in caplog.text
    assert "bot-secret" not in caplog.text


async def test_a_client_with_no_grant_gets_no_token_for_any_api(clock: FakeClock) -> None:
    issuer = Issuer(clock=clock, signing_alg="ES256")
    issuer.add_api(API, scopes=["read:messages", "delete:messages"])
    issuer.add_client("app", client_secret="app-secret", grant_types=["client_credentials"])
    with_scope = await client_credentials(issuer, APP_AUTH, audience=API, scope="delete:messages")
    without = await client_credentials(issuer, APP_AUTH, audience=API)
    assert with_scope.status_code == without.status_code == 403
    assert with_scope.json()["error"] == without.json()["error"] == "access_denied"


async def test_client_credentials_scopes_are_narrowed_to_the_grant(machine_issuer: Issuer) -> None:
    wider = await client_credentials(
        machine_issuer, BOT_AUTH, audience=API, scope="read:messages delete:messages"
    )
    unasked = await client_credentials(machine_issuer, BOT_AUTH, audience=API)
    assert wider.status_code == unasked.status_code == 200
    # RFC 6749 §3.3: fewer scopes than requested, and the response's scope says which.
    assert wider.json()["scope"] == "read:messages"
    assert claims(machine_issuer, wider.json()["access_token"])["scope"] == "read:messages"
    assert unasked.json()["scope"] == "read:messages write:messages"
    assert (
        claims(machine_issuer, unasked.json()["access_token"])["scope"]
        == "read:messages write:messages"
    )


async def test_client_credentials_narrowing_is_logged(
    machine_issuer: Issuer, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="issuer.scopes"):
        response = await client_credentials(
            machine_issuer, BOT_AUTH, audience=API, scope="read:messages delete:messages"
        )
    assert response.status_code == 200
    (record,) = [r for r in caplog.records if r.name == "issuer.scopes"]
    assert "delete:messages" in record.getMessage()
    assert response.json()["access_token"] not in caplog.text


async def test_client_credentials_with_a_scope_the_api_does_not_define_is_invalid_scope(
    machine_issuer: Issuer,
) -> None:
    response = await client_credentials(
        machine_issuer, BOT_AUTH, audience=API, scope="read:messages launch:rockets"
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"


async def test_a_grant_added_later_opens_the_api(machine_issuer: Issuer) -> None:
    machine_issuer.add_client_grant("idle-bot", OTHER, scopes=["read:other"])
    response = await client_credentials(machine_issuer, ("idle-bot", "idle-secret"), audience=OTHER)
    assert response.status_code == 200, response.text
    assert response.json()["scope"] == "read:other"


# -- RBAC for the user-facing grants ----------------------------------------------------


def rbac_issuer(clock: FakeClock, **switches: bool) -> Issuer:
    issuer = Issuer(clock=clock, signing_alg="ES256")
    issuer.add_api(
        API,
        scopes=["read:messages", "delete:messages"],
        permissions={"reader": ["read:messages"], "admin": ["read:messages", "delete:messages"]},
        **switches,
    )
    issuer.add_client(
        "app",
        client_secret="app-secret",
        redirect_uris=[CALLBACK],
        grant_types=["authorization_code", "refresh_token", "password"],
    )
    issuer.add_user("alice@example.com", password="alice-pw", roles=["admin"])
    issuer.add_user("bob@example.com", password="bob-pw", roles=["reader"])
    issuer.add_user("carol@example.com", password="carol-pw")
    return issuer


ASKED = "openid profile offline_access read:messages delete:messages"


async def test_enforce_rbac_narrows_the_password_grant_to_the_users_permissions(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    issuer = rbac_issuer(clock, enforce_rbac=True)
    granted = {}
    with caplog.at_level(logging.INFO, logger="issuer.scopes"):
        async with issuer.http_client() as client:
            for user in ("alice", "bob", "carol"):
                response = await password_grant(
                    client,
                    f"{user}@example.com",
                    f"{user}-pw",
                    auth=APP_AUTH,
                    scope=ASKED,
                    audience=API,
                )
                assert response.status_code == 200, response.text
                token = claims(issuer, response.json()["access_token"])
                assert token["scope"] == response.json()["scope"]
                granted[user] = response.json()["scope"]
    assert granted == {
        "alice": ASKED,
        "bob": "openid profile offline_access read:messages",
        "carol": "openid profile offline_access",
    }
    withheld = [r.getMessage() for r in caplog.records if r.name == "issuer.scopes"]
    assert len(withheld) == 2
    assert all("delete:messages" in message for message in withheld)


async def test_without_enforce_rbac_every_defined_scope_is_granted(clock: FakeClock) -> None:
    issuer = rbac_issuer(clock)
    async with issuer.http_client() as client:
        response = await password_grant(
            client, "carol@example.com", "carol-pw", auth=APP_AUTH, scope=ASKED, audience=API
        )
    assert response.json()["scope"] == ASKED
    assert claims(issuer, response.json()["access_token"])["permissions"] == []


async def test_enforce_rbac_narrows_the_authorization_code_grant(clock: FakeClock) -> None:
    issuer = rbac_issuer(clock, enforce_rbac=True)
    query = {
        "client_id": "app",
        "response_type": "code",
        "redirect_uri": CALLBACK,
        "scope": ASKED,
        "audience": API,
        "code_challenge": s256(VERIFIER),
        "code_challenge_method": "S256",
    }
    async with issuer.http_client() as client:
        posted = await submit_login(
            client, f"authorize?{httpx.QueryParams(query)}", "bob@example.com", "bob-pw"
        )
        response = await client.post(
            "oauth/token",
            data={
                "grant_type": "authorization_code",
                "code": redirect_params(posted)["code"],
                "redirect_uri": CALLBACK,
                "code_verifier": VERIFIER,
            },
            auth=APP_AUTH,
        )
    assert response.status_code == 200, response.text
    assert response.json()["scope"] == "openid profile offline_access read:messages"
    assert claims(issuer, response.json()["access_token"])["permissions"] == ["read:messages"]


async def test_enforce_rbac_narrows_a_refresh_to_the_users_current_permissions(
    clock: FakeClock,
) -> None:
    issuer = rbac_issuer(clock, enforce_rbac=True)
    async with issuer.http_client() as client:
        first = await password_grant(
            client, "alice@example.com", "alice-pw", auth=APP_AUTH, scope=ASKED, audience=API
        )
        assert first.json()["scope"] == ASKED
        issuer.update_user("alice@example.com", roles=["reader"])
        refreshed = await client.post(
            "oauth/token",
            data={"grant_type": "refresh_token", "refresh_token": first.json()["refresh_token"]},
            auth=APP_AUTH,
        )
    assert refreshed.status_code == 200, refreshed.text
    assert refreshed.json()["scope"] == "openid profile offline_access read:messages"
    token = claims(issuer, refreshed.json()["access_token"])
    assert token["scope"] == "openid profile offline_access read:messages"
    assert token["permissions"] == ["read:messages"]


async def test_add_permissions_in_token_switches_the_claim(clock: FakeClock) -> None:
    off = rbac_issuer(clock, enforce_rbac=True, add_permissions_in_token=False)
    on = Issuer(clock=clock, signing_alg="ES256")
    on.add_api(API, scopes=["read:messages"], add_permissions_in_token=True)
    on.add_client("app", client_secret="app-secret")
    on.add_user("alice@example.com", password="alice-pw", roles=["admin"])
    silent = await off.login("alice@example.com", client_id="app", scope="read:messages")
    empty = await on.login("alice@example.com", scope="read:messages")
    assert "permissions" not in jwt.decode(silent.access_token, options={"verify_signature": False})
    assert silent.scope == "read:messages"
    assert jwt.decode(empty.access_token, options={"verify_signature": False})["permissions"] == []
