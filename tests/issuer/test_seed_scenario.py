"""The premium scenario end to end, checked by independent JWT libraries over real HTTP."""

from typing import Any

import anyio.to_thread
import httpx
import jwt
import pytest
from joserfc import jwt as jose_jwt
from joserfc.jwk import KeySet

from issuer import Issuer, serve_in_thread
from issuer.core._serve import bind_socket, socket_url

from .conftest import PREMIUM, SEED_CONFIG
from .flows import password_grant

pytestmark = pytest.mark.anyio
AUDIENCE = "https://api.example.com"


async def password_login(client: httpx.AsyncClient, email: str, password: str) -> dict[str, Any]:
    response = await password_grant(
        client,
        email,
        password,
        auth=("demo-app", "demo-secret"),
        audience=AUDIENCE,
        scope="openid profile email",
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def verify_with_pyjwt(url: str, token: str, audience: str) -> dict[str, Any]:
    jwks = jwt.PyJWKClient(f"{url}.well-known/jwks.json")
    key = jwks.get_signing_key_from_jwt(token)
    return dict(jwt.decode(token, key.key, algorithms=["RS256"], audience=audience, issuer=url))


def verify_with_joserfc(
    jwks: dict[str, Any], url: str, token: str, audience: str
) -> dict[str, Any]:
    decoded = jose_jwt.decode(token, KeySet.import_key_set(jwks), algorithms=["RS256"])
    registry = jose_jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": url}, aud={"essential": True, "value": audience}
    )
    registry.validate(decoded.claims)
    return dict(decoded.claims)


async def test_premium_claim_only_for_alice_and_verifiable_by_independent_code() -> None:
    with bind_socket() as sock:
        url = socket_url(sock) + "/"
        issuer = Issuer.from_config(SEED_CONFIG, issuer_url=url)
        with serve_in_thread(issuer.app, sock=sock):
            async with httpx.AsyncClient(base_url=url) as client:
                discovery = (await client.get(".well-known/openid-configuration")).json()
                assert discovery["issuer"] == url
                jwks = (await client.get(discovery["jwks_uri"])).json()
                alice = await password_login(client, "alice@example.com", "alice-password")
                bob = await password_login(client, "bob@example.com", "bob-password")
            results = {}
            for name, tokens in (("alice", alice), ("bob", bob)):
                access_a = await anyio.to_thread.run_sync(
                    verify_with_pyjwt, url, tokens["access_token"], AUDIENCE
                )
                id_a = await anyio.to_thread.run_sync(
                    verify_with_pyjwt, url, tokens["id_token"], "demo-app"
                )
                access_b = verify_with_joserfc(jwks, url, tokens["access_token"], AUDIENCE)
                id_b = verify_with_joserfc(jwks, url, tokens["id_token"], "demo-app")
                assert access_a == access_b
                assert id_a == id_b
                results[name] = (access_a, id_a)
    assert results["alice"][0][PREMIUM] is True
    assert results["alice"][1][PREMIUM] is True
    assert PREMIUM not in results["bob"][0]
    assert PREMIUM not in results["bob"][1]
    assert results["alice"][0]["iss"] == url
    assert results["alice"][1]["email"] == "alice@example.com"


async def test_action_logs_show_what_the_premium_action_did(seed_issuer: Issuer) -> None:
    await seed_issuer.login("alice@example.com")
    await seed_issuer.login("bob@example.com")
    bob_record, alice_record = seed_issuer.action_logs()[:2]
    assert alice_record.claims_added["access_token"] == {PREMIUM: True}
    assert any("premium claim added for alice@example.com" in line for line in alice_record.logs)
    assert bob_record.claims_added["access_token"] == {}
    assert bob_record.logs == ["bob@example.com is not premium (roles: [])"]
    async with seed_issuer.http_client() as client:
        body = (await client.get("actions/logs")).json()
    assert [e["execution_id"] for e in body["executions"][:2]] == [
        bob_record.execution_id,
        alice_record.execution_id,
    ]
