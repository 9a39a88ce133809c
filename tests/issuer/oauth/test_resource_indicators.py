"""RFC 8707 ``resource`` on authorize, token and refresh; RFC 9207 ``iss``; Basic auth."""

import base64
import hashlib
from typing import Any

import httpx
import pytest

from issuer import Issuer

from ..flows import password_grant, redirect_params, submit_login

pytestmark = pytest.mark.anyio
CALLBACK = "http://127.0.0.1:3000/callback"
APP_AUTH = ("app", "app-secret")
MCP = "http://127.0.0.1:9000/mcp"
VERIFIER = "r" * 64


@pytest.fixture
def resource_issuer(bare_issuer: Issuer) -> Issuer:
    bare_issuer.add_api(MCP, scopes=["tools:call"])
    bare_issuer.add_client_grant("app", MCP, scopes=["tools:call"])
    return bare_issuer


def authorize_query(**extra: str) -> dict[str, str]:
    challenge = base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest())
    return {
        "client_id": "app",
        "response_type": "code",
        "redirect_uri": CALLBACK,
        "state": "st",
        "scope": "tools:call offline_access",
        "code_challenge": challenge.decode().rstrip("="),
        "code_challenge_method": "S256",
        **extra,
    }


async def login_code(client: httpx.AsyncClient, **extra: str) -> dict[str, str]:
    posted = await submit_login(
        client,
        f"authorize?{httpx.QueryParams(authorize_query(**extra))}",
        "alice@example.com",
        "alice-pw",
    )
    return redirect_params(posted)


async def exchange(client: httpx.AsyncClient, code: str, **extra: str) -> httpx.Response:
    return await client.post(
        "oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": CALLBACK,
            "code_verifier": VERIFIER,
            **extra,
        },
        auth=APP_AUTH,
    )


async def test_resource_becomes_the_audience(resource_issuer: Issuer) -> None:
    async with resource_issuer.http_client() as client:
        params = await login_code(client, resource=MCP)
        token = await exchange(client, params["code"], resource=MCP)
    assert token.status_code == 200, token.text
    claims = resource_issuer.verify_access_token(token.json()["access_token"], audience=MCP)
    assert claims is not None
    assert claims["aud"] == MCP
    assert claims["scope"] == "tools:call offline_access"


async def test_authorization_response_carries_iss(resource_issuer: Issuer) -> None:
    async with resource_issuer.http_client() as client:
        params = await login_code(client, resource=MCP)
        refused = await client.get(
            "authorize", params=authorize_query(resource="https://unknown.example.com")
        )
    assert params["iss"] == resource_issuer.url
    assert params["state"] == "st"
    assert redirect_params(refused)["iss"] == resource_issuer.url


async def test_unknown_resource_is_invalid_target_at_authorize(resource_issuer: Issuer) -> None:
    async with resource_issuer.http_client() as client:
        response = await client.get(
            "authorize", params=authorize_query(resource="https://unknown.example.com")
        )
    params = redirect_params(response)
    assert params["error"] == "invalid_target"
    assert params["state"] == "st"


async def test_resource_is_compared_exactly(resource_issuer: Issuer) -> None:
    async with resource_issuer.http_client() as client:
        for near_miss in (MCP + "/", MCP.upper(), "http://127.0.0.1:9000"):
            response = await client.get("authorize", params=authorize_query(resource=near_miss))
            assert redirect_params(response)["error"] == "invalid_target", near_miss


async def test_audience_and_resource_must_agree(resource_issuer: Issuer) -> None:
    async with resource_issuer.http_client() as client:
        same = await client.get("authorize", params=authorize_query(resource=MCP, audience=MCP))
        different = await client.get(
            "authorize",
            params=authorize_query(resource=MCP, audience="https://api.example.com"),
        )
    assert same.status_code == 200
    assert redirect_params(different)["error"] == "invalid_request"


async def test_token_request_for_another_resource_is_invalid_target(
    resource_issuer: Issuer,
) -> None:
    async with resource_issuer.http_client() as client:
        params = await login_code(client, resource=MCP)
        wrong = await exchange(client, params["code"], resource="https://api.example.com")
        assert wrong.status_code == 400
        assert wrong.json()["error"] == "invalid_target"
        # The refusal did not use the code up.
        right = await exchange(client, params["code"])
    assert right.status_code == 200, right.text


async def test_refresh_keeps_the_resource_and_refuses_another(resource_issuer: Issuer) -> None:
    async with resource_issuer.http_client() as client:
        params = await login_code(client, resource=MCP)
        first = (await exchange(client, params["code"], resource=MCP)).json()
        wrong = await client.post(
            "oauth/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": first["refresh_token"],
                "resource": "https://api.example.com",
            },
            auth=APP_AUTH,
        )
        assert wrong.status_code == 400
        assert wrong.json()["error"] == "invalid_target"
        refreshed = await client.post(
            "oauth/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": first["refresh_token"],
                "resource": MCP,
            },
            auth=APP_AUTH,
        )
    assert refreshed.status_code == 200, refreshed.text
    claims = resource_issuer.verify_access_token(refreshed.json()["access_token"], audience=MCP)
    assert claims is not None
    assert claims["aud"] == MCP


async def test_actions_see_the_resource_as_resource_server_identifier(
    resource_issuer: Issuer,
) -> None:
    seen: list[Any] = []

    def record(event: Any, api: Any) -> None:
        seen.append(event.resource_server.identifier)

    resource_issuer.add_action(record)
    async with resource_issuer.http_client() as client:
        await login_code(client, resource=MCP)
    assert seen == [MCP]


async def test_client_credentials_with_resource_and_basic_auth(resource_issuer: Issuer) -> None:
    seen: list[Any] = []

    def exchange_action(event: Any, api: Any) -> None:
        seen.append(event.resource_server.identifier)
        api.access_token.set_custom_claim("https://myapp.example.com/premium", True)

    resource_issuer.add_action(exchange_action, trigger="credentials_exchange")
    async with resource_issuer.http_client() as client:
        token = await client.post(
            "oauth/token",
            data={"grant_type": "client_credentials", "resource": MCP},
            auth=APP_AUTH,
        )
        unknown = await client.post(
            "oauth/token",
            data={"grant_type": "client_credentials", "resource": "https://nope.example.com"},
            auth=APP_AUTH,
        )
        bad_secret = await client.post(
            "oauth/token",
            data={"grant_type": "client_credentials", "resource": MCP},
            auth=("app", "wrong"),
        )
    assert token.status_code == 200, token.text
    claims = resource_issuer.verify_access_token(token.json()["access_token"], audience=MCP)
    assert claims is not None
    assert claims["https://myapp.example.com/premium"] is True
    assert seen == [MCP]
    assert unknown.json()["error"] == "invalid_target"
    assert bad_secret.status_code == 401
    assert bad_secret.headers["www-authenticate"].startswith("Basic")


async def test_password_grant_accepts_resource(resource_issuer: Issuer) -> None:
    async with resource_issuer.http_client() as client:
        token = await password_grant(
            client, "alice@example.com", "alice-pw", auth=APP_AUTH, resource=MCP
        )
    assert token.status_code == 200, token.text
    assert resource_issuer.verify_access_token(token.json()["access_token"], audience=MCP)
