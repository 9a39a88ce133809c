"""Dynamic client registration (RFC 7591) for public loopback clients."""

import base64
import hashlib
from typing import Any

import httpx
import pytest

from issuer import Issuer
from issuer.oauth._registration import MAX_REGISTERED_CLIENTS

from ..flows import open_consent, password_grant, redirect_params, submit_consent, submit_login

pytestmark = pytest.mark.anyio
REDIRECT = "http://127.0.0.1:53682/callback"


def pkce_s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


async def register(client: httpx.AsyncClient, body: Any) -> httpx.Response:
    return await client.post("oidc/register", json=body)


async def test_registers_a_public_loopback_client(bare_issuer: Issuer) -> None:
    async with bare_issuer.http_client() as client:
        response = await register(
            client,
            {
                "redirect_uris": [REDIRECT],
                "client_name": "Desk MCP",
                "grant_types": ["authorization_code", "refresh_token"],
                "token_endpoint_auth_method": "none",
                "scope": "read:messages",
            },
        )
    assert response.status_code == 201
    assert response.headers["cache-control"] == "no-store"
    information = response.json()
    assert information["redirect_uris"] == [REDIRECT]
    assert information["token_endpoint_auth_method"] == "none"
    assert information["grant_types"] == ["authorization_code", "refresh_token"]
    assert information["client_name"] == "Desk MCP"
    assert information["client_id_issued_at"] == int(bare_issuer.clock())
    assert "client_secret" not in information
    client_record = bare_issuer.directory.clients[information["client_id"]]
    assert client_record.is_public
    assert client_record.redirect_uris == (REDIRECT,)


async def test_minimal_registration_gets_defaults(bare_issuer: Issuer) -> None:
    async with bare_issuer.http_client() as client:
        response = await register(client, {"redirect_uris": ["http://localhost:9999/cb"]})
    assert response.status_code == 201
    assert response.json()["grant_types"] == ["authorization_code"]
    assert response.json()["response_types"] == ["code"]


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({}, "invalid_redirect_uri"),
        ({"redirect_uris": []}, "invalid_redirect_uri"),
        ({"redirect_uris": "http://127.0.0.1/cb"}, "invalid_redirect_uri"),
        ({"redirect_uris": ["https://evil.example.com/cb"]}, "invalid_redirect_uri"),
        ({"redirect_uris": ["https://127.0.0.1/cb"]}, "invalid_redirect_uri"),
        ({"redirect_uris": ["http://127.0.0.1/cb#x"]}, "invalid_redirect_uri"),
        ({"redirect_uris": ["http://user@127.0.0.1/cb"]}, "invalid_redirect_uri"),
        ({"redirect_uris": [7]}, "invalid_redirect_uri"),
        # Loopback is localhost, 127.0.0.0/8 as four decimal numbers, or [::1]; nothing else.
        ({"redirect_uris": ["http://127.1/cb"]}, "invalid_redirect_uri"),
        ({"redirect_uris": ["http://localhost.example/cb"]}, "invalid_redirect_uri"),
        ({"redirect_uris": ["http://0.0.0.0/cb"]}, "invalid_redirect_uri"),
        ({"redirect_uris": ["http://[::2]/cb"]}, "invalid_redirect_uri"),
        (
            {"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "client_secret_basic"},
            "invalid_client_metadata",
        ),
        ({"redirect_uris": [REDIRECT], "grant_types": ["password"]}, "invalid_client_metadata"),
        (
            {"redirect_uris": [REDIRECT], "grant_types": ["client_credentials"]},
            "invalid_client_metadata",
        ),
        ({"redirect_uris": [REDIRECT], "response_types": ["token"]}, "invalid_client_metadata"),
        ({"redirect_uris": [REDIRECT], "client_name": ["x"]}, "invalid_client_metadata"),
        # Control and bidi-format characters could disguise a name on the login page.
        ({"redirect_uris": [REDIRECT], "client_name": "Demo\u202e"}, "invalid_client_metadata"),
        ({"redirect_uris": [REDIRECT], "client_name": "Demo\nApp"}, "invalid_client_metadata"),
        ({"redirect_uris": [REDIRECT], "client_name": "Demo\u2003App"}, "invalid_client_metadata"),
        ({"redirect_uris": [REDIRECT], "client_name": "Demo\u2028"}, "invalid_client_metadata"),
        ({"redirect_uris": [REDIRECT], "client_name": "D" * 101}, "invalid_client_metadata"),
        ([REDIRECT], "invalid_client_metadata"),
    ],
)
async def test_bad_metadata_is_refused_with_rfc_7591_codes(
    bare_issuer: Issuer, body: Any, error: str
) -> None:
    before = set(bare_issuer.directory.clients)
    async with bare_issuer.http_client() as client:
        response = await register(client, body)
    assert response.status_code == 400
    assert response.json()["error"] == error
    assert response.json()["error_description"]
    assert set(bare_issuer.directory.clients) == before


@pytest.mark.parametrize(
    "uri",
    [
        "http://127.0.0.1:53682/cb",
        "http://127.42.0.9/cb",
        "http://localhost:1/cb",
        "http://LocalHost/cb",
        "http://[::1]:53682/cb",
        "http://[0:0:0:0:0:0:0:1]/cb",
    ],
)
async def test_every_loopback_host_is_accepted(bare_issuer: Issuer, uri: str) -> None:
    async with bare_issuer.http_client() as client:
        response = await register(client, {"redirect_uris": [uri]})
    assert response.status_code == 201, response.text
    assert response.json()["redirect_uris"] == [uri]


async def test_registration_holds_at_most_1000_clients(
    bare_issuer: Issuer, caplog: pytest.LogCaptureFixture
) -> None:
    for index in range(MAX_REGISTERED_CLIENTS - 1):
        bare_issuer.directory.add_client(f"dyn_{index}", redirect_uris=[REDIRECT], registered=True)
    async with bare_issuer.http_client() as client:
        last = await register(client, {"redirect_uris": [REDIRECT]})
        refused = await register(client, {"redirect_uris": [REDIRECT]})
    assert MAX_REGISTERED_CLIENTS == 1000
    assert last.status_code == 201
    assert refused.status_code == 429
    assert refused.json() == {
        "error": "invalid_client_metadata",
        "error_description": "this issuer accepts at most 1000 registered clients",
    }
    assert len(bare_issuer.directory.clients) == 1001  # the configured client does not count
    assert "client registration refused" in caplog.text


@pytest.mark.parametrize(
    ("content", "content_type"),
    [(b"{not json", "application/json"), (b"redirect_uris=x", "application/x-www-form-urlencoded")],
)
async def test_body_must_be_a_json_object(
    bare_issuer: Issuer, content: bytes, content_type: str
) -> None:
    async with bare_issuer.http_client() as client:
        response = await client.post(
            "oidc/register", content=content, headers={"content-type": content_type}
        )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_client_metadata"


async def test_huge_body_is_refused(bare_issuer: Issuer) -> None:
    async with bare_issuer.http_client() as client:
        response = await register(client, {"redirect_uris": [REDIRECT], "pad": "x" * 20_000})
    assert response.status_code == 413


async def test_registered_client_logs_in_with_pkce_only(bare_issuer: Issuer) -> None:
    async with bare_issuer.http_client() as client:
        client_id = (
            await register(
                client,
                {"redirect_uris": [REDIRECT], "grant_types": ["authorization_code"]},
            )
        ).json()["client_id"]
        query = {
            "client_id": client_id,
            "response_type": "code",
            "redirect_uri": REDIRECT,
            "state": "s1",
        }
        without_pkce = await client.get("authorize", params=query)
        assert without_pkce.status_code == 303
        assert redirect_params(without_pkce)["error"] == "invalid_request"
        verifier = "v" * 64
        pkce = {"code_challenge": pkce_s256(verifier), "code_challenge_method": "S256"}
        logged_in = await submit_login(
            client,
            f"authorize?{httpx.QueryParams({**query, **pkce})}",
            "alice@example.com",
            "alice-pw",
        )
        # A registered client gets its code only after the user allows it.
        allowed = await submit_consent(client, await open_consent(client, logged_in), "allow")
        code = redirect_params(allowed)["code"]
        token = await client.post(
            "oauth/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "client_id": client_id,
                "redirect_uri": REDIRECT,
                "code_verifier": verifier,
            },
        )
        assert token.status_code == 200, token.text
        claims = bare_issuer.verify_access_token(
            token.json()["access_token"], audience="https://api.example.com"
        )
        assert claims is not None
        assert claims["azp"] == client_id
        password = await password_grant(
            client, "alice@example.com", "alice-pw", client_id=client_id
        )
        assert password.status_code == 400
        assert password.json()["error"] == "unauthorized_client"


async def test_registered_client_cannot_use_an_unregistered_redirect(bare_issuer: Issuer) -> None:
    async with bare_issuer.http_client() as client:
        client_id = (await register(client, {"redirect_uris": [REDIRECT]})).json()["client_id"]
        response = await client.get(
            "authorize",
            params={
                "client_id": client_id,
                "response_type": "code",
                "redirect_uri": "http://127.0.0.1:1/elsewhere",
                "code_challenge": pkce_s256("v" * 64),
                "code_challenge_method": "S256",
            },
        )
    assert response.status_code == 400
    assert "location" not in response.headers
