"""The token endpoint and the authorization endpoint over the in-process transport."""

import base64
import hashlib
from typing import Any

import httpx
import pytest

from issuer import Issuer

from ..conftest import PREMIUM
from ..flows import password_grant, redirect_params, submit_login

pytestmark = pytest.mark.anyio
CALLBACK = "http://127.0.0.1:3000/callback"
APP_AUTH = ("app", "app-secret")


def premium_action(event: Any, api: Any) -> None:
    if "premium" in event.user.app_metadata.get("roles", []):
        api.access_token.add_claim({PREMIUM: True})


def deny_bob(event: Any, api: Any) -> None:
    if event.user.email == "bob@example.com":
        api.access.deny("bob is suspended")


async def app_login(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await password_grant(
        client, email, password, auth=APP_AUTH, scope="openid offline_access"
    )


async def refresh(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post(
        "oauth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": token,
            "client_id": "app",
            "client_secret": "app-secret",
        },
    )


def claims(issuer: Issuer, token: str) -> dict[str, Any]:
    verified = issuer.verify_access_token(token, audience="https://api.example.com")
    assert verified is not None
    return verified


async def test_deny_is_access_denied_with_the_reason_at_the_token_endpoint(
    bare_issuer: Issuer,
) -> None:
    bare_issuer.add_action(deny_bob)
    async with bare_issuer.http_client() as client:
        response = await app_login(client, "bob@example.com", "bob-pw")
    assert response.status_code == 403
    assert response.json() == {"error": "access_denied", "error_description": "bob is suspended"}
    assert response.headers["cache-control"] == "no-store"


async def test_deny_is_access_denied_with_the_reason_on_the_redirect(bare_issuer: Issuer) -> None:
    bare_issuer.add_action(deny_bob)
    query = {
        "client_id": "app",
        "response_type": "code",
        "redirect_uri": CALLBACK,
        "state": "xyz",
        "scope": "openid",
    }
    async with bare_issuer.http_client() as client:
        posted = await submit_login(
            client, f"authorize?{httpx.QueryParams(query)}", "bob@example.com", "bob-pw"
        )
    assert redirect_params(posted) == {
        "error": "access_denied",
        "error_description": "bob is suspended",
        "state": "xyz",
        "iss": bare_issuer.url,
    }


async def test_removing_premium_then_refreshing_drops_the_claim(bare_issuer: Issuer) -> None:
    bare_issuer.add_action(premium_action)
    async with bare_issuer.http_client() as client:
        first = (await app_login(client, "alice@example.com", "alice-pw")).json()
        assert claims(bare_issuer, first["access_token"])[PREMIUM] is True
        bare_issuer.update_user("alice@example.com", app_metadata={"roles": []})
        second = await refresh(client, first["refresh_token"])
    assert second.status_code == 200
    assert PREMIUM not in claims(bare_issuer, second.json()["access_token"])
    assert bare_issuer.action_logs()[0].trigger == "post_login"


async def test_refresh_runs_actions_with_the_refresh_protocol(bare_issuer: Issuer) -> None:
    protocols: list[str] = []
    bare_issuer.add_action(lambda event, api: protocols.append(event.transaction.protocol))
    async with bare_issuer.http_client() as client:
        first = (await app_login(client, "alice@example.com", "alice-pw")).json()
        await refresh(client, first["refresh_token"])
    assert protocols == ["oauth2-password", "oauth2-refresh-token"]


async def test_reusing_a_rotated_refresh_token_revokes_the_family(bare_issuer: Issuer) -> None:
    async with bare_issuer.http_client() as client:
        first = (await app_login(client, "alice@example.com", "alice-pw")).json()
        second = (await refresh(client, first["refresh_token"])).json()
        reused = await refresh(client, first["refresh_token"])
        newest = await refresh(client, second["refresh_token"])
    assert reused.status_code == 400
    assert reused.json()["error"] == "invalid_grant"
    assert newest.status_code == 400
    assert newest.json()["error"] == "invalid_grant"


async def test_revoking_a_refresh_token_stops_it(bare_issuer: Issuer) -> None:
    async with bare_issuer.http_client() as client:
        first = (await app_login(client, "alice@example.com", "alice-pw")).json()
        revoked = await client.post(
            "oauth/revoke", data={"token": first["refresh_token"]}, auth=APP_AUTH
        )
        after = await refresh(client, first["refresh_token"])
    assert revoked.status_code == 200
    assert after.json()["error"] == "invalid_grant"


async def test_wrong_password_and_wrong_client_secret(bare_issuer: Issuer) -> None:
    async with bare_issuer.http_client() as client:
        wrong_password = await app_login(client, "alice@example.com", "nope")
        wrong_secret = await password_grant(
            client, "alice@example.com", "alice-pw", auth=("app", "nope")
        )
    assert wrong_password.json()["error"] == "invalid_grant"
    assert wrong_secret.status_code == 401
    assert wrong_secret.json()["error"] == "invalid_client"
    assert wrong_secret.headers["www-authenticate"].startswith("Basic")


async def test_password_grant_only_for_clients_that_list_it(bare_issuer: Issuer) -> None:
    bare_issuer.add_client("web", client_secret="web-secret", redirect_uris=[CALLBACK])
    async with bare_issuer.http_client() as client:
        response = await password_grant(
            client, "alice@example.com", "alice-pw", auth=("web", "web-secret")
        )
    assert response.json()["error"] == "unauthorized_client"


async def test_repeated_parameters_and_unknown_grants_are_rejected(bare_issuer: Issuer) -> None:
    async with bare_issuer.http_client() as client:
        repeated = await client.post(
            "oauth/token",
            content="grant_type=password&grant_type=password",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        unknown = await client.post("oauth/token", data={"grant_type": "magic"}, auth=APP_AUTH)
        json_body = await client.post("oauth/token", json={"grant_type": "password"})
    assert repeated.json()["error"] == "invalid_request"
    assert unknown.json()["error"] == "unsupported_grant_type"
    assert json_body.json()["error"] == "invalid_request"


async def test_client_credentials_runs_credentials_exchange_actions(bare_issuer: Issuer) -> None:
    def tag(event: Any, api: Any) -> None:
        api.access_token.set_custom_claim("https://myapp.example.com/tier", event.client.client_id)

    bare_issuer.add_action(tag, trigger="credentials_exchange")
    async with bare_issuer.http_client() as client:
        response = await client.post(
            "oauth/token",
            data={"grant_type": "client_credentials", "audience": "https://api.example.com"},
            auth=APP_AUTH,
        )
    token = claims(bare_issuer, response.json()["access_token"])
    assert token["https://myapp.example.com/tier"] == "app"
    assert token["sub"] == "app@clients"
    assert token["gty"] == "client-credentials"


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")


async def test_authorization_code_needs_the_right_verifier_and_is_single_use(
    bare_issuer: Issuer,
) -> None:
    bare_issuer.add_client("spa", redirect_uris=[CALLBACK])
    verifier = "v" * 50
    query = {
        "client_id": "spa",
        "response_type": "code",
        "redirect_uri": CALLBACK,
        "scope": "openid offline_access",
        "code_challenge": s256(verifier),
        "code_challenge_method": "S256",
        "nonce": "n-1",
    }
    async with bare_issuer.http_client() as client:
        posted = await submit_login(
            client, f"authorize?{httpx.QueryParams(query)}", "alice@example.com", "alice-pw"
        )
        code = redirect_params(posted)["code"]
        exchange = {
            "grant_type": "authorization_code",
            "code": code,
            "client_id": "spa",
            "redirect_uri": CALLBACK,
        }
        wrong = await client.post("oauth/token", data={**exchange, "code_verifier": "w" * 50})
        right = await client.post("oauth/token", data={**exchange, "code_verifier": verifier})
        again = await client.post("oauth/token", data={**exchange, "code_verifier": verifier})
        refreshed = await client.post(
            "oauth/token",
            data={
                "grant_type": "refresh_token",
                "client_id": "spa",
                "refresh_token": right.json()["refresh_token"],
            },
        )
    assert wrong.json()["error"] == "invalid_grant"
    assert right.status_code == 200
    assert again.json()["error"] == "invalid_grant"
    # RFC 6749 §4.1.2: the reused code revokes what it issued.
    assert refreshed.json()["error"] == "invalid_grant"


async def test_an_unregistered_redirect_uri_gets_an_error_page_not_a_redirect(
    bare_issuer: Issuer,
) -> None:
    query = {"client_id": "app", "response_type": "code", "redirect_uri": "https://evil.example/cb"}
    async with bare_issuer.http_client() as client:
        response = await client.get("authorize", params=query)
    assert response.status_code == 400
    assert "location" not in response.headers
    assert "redirect_uri" in response.text


async def test_public_clients_must_send_a_pkce_challenge(bare_issuer: Issuer) -> None:
    bare_issuer.add_client("spa", redirect_uris=[CALLBACK])
    query = {"client_id": "spa", "response_type": "code", "redirect_uri": CALLBACK, "state": "s"}
    async with bare_issuer.http_client() as client:
        response = await client.get("authorize", params=query)
    assert redirect_params(response)["error"] == "invalid_request"


async def test_a_stale_csrf_token_is_refused(bare_issuer: Issuer) -> None:
    query = {"client_id": "app", "response_type": "code", "redirect_uri": CALLBACK}
    async with bare_issuer.http_client() as client:
        page = await client.get("authorize", params=query)
        client.cookies.clear()
        response = await client.post(
            "login",
            data={
                "transaction": "x",
                "csrf_token": "y",
                "email": "alice@example.com",
                "password": "alice-pw",
            },
        )
    assert page.status_code == 200
    assert response.status_code == 400


async def test_userinfo_returns_the_profile_for_the_access_token(bare_issuer: Issuer) -> None:
    tokens = await bare_issuer.login("alice@example.com", scope="openid email")
    async with bare_issuer.http_client() as client:
        ok = await client.get(
            "userinfo", headers={"Authorization": f"Bearer {tokens.access_token}"}
        )
        bad = await client.get("userinfo", headers={"Authorization": "Bearer not-a-token"})
    assert ok.json()["email"] == "alice@example.com"
    assert bad.status_code == 401
    assert 'error="invalid_token"' in bad.headers["www-authenticate"]


async def test_discovery_lists_every_endpoint(bare_issuer: Issuer) -> None:
    async with bare_issuer.http_client() as client:
        document = (await client.get(".well-known/openid-configuration")).json()
        for endpoint in (
            "jwks_uri",
            "authorization_endpoint",
            "userinfo_endpoint",
            "end_session_endpoint",
        ):
            assert document[endpoint].startswith(bare_issuer.url)
            assert (await client.get(document[endpoint])).status_code != 404
    assert document["issuer"] == bare_issuer.url
    assert document["code_challenge_methods_supported"] == ["S256"]
    assert document["id_token_signing_alg_values_supported"] == ["ES256"]


async def test_prompt_none_answers_login_required(bare_issuer: Issuer) -> None:
    query = {
        "client_id": "app",
        "response_type": "code",
        "redirect_uri": CALLBACK,
        "prompt": "none",
    }
    async with bare_issuer.http_client() as client:
        response = await client.get("authorize", params=query)
    assert redirect_params(response)["error"] == "login_required"
