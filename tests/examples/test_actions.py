"""The example actions under ``examples/actions/`` in the issuer's real login pipeline."""

from __future__ import annotations

import httpx
import pytest

from claimguard import TokenVerifier
from issuer import Issuer, IssuerServer, LoginDenied

from .conftest import AUDIENCE, CONFIG, EXAMPLES, NAMESPACE

pytestmark = pytest.mark.anyio
ACTIONS = EXAMPLES / "actions"


async def test_unverified_email_is_denied_over_http(example_issuer: IssuerServer) -> None:
    issuer = example_issuer.issuer
    issuer.add_action(ACTIONS / "verified_email.py")
    issuer.add_user("dave@example.com", password="dave-password", email_verified=False)
    async with httpx.AsyncClient(base_url=example_issuer.url) as client:
        response = await client.post(
            "oauth/token",
            data={
                "grant_type": "password",
                "username": "dave@example.com",
                "password": "dave-password",
                "audience": AUDIENCE,
            },
            auth=("demo-app", "demo-secret"),
        )
    assert response.status_code == 403
    assert response.json() == {
        "error": "access_denied",
        "error_description": "Please verify your email address before logging in.",
    }


async def test_verified_users_pass_unverified_ones_are_denied_in_process() -> None:
    issuer = Issuer.from_config(CONFIG)
    issuer.add_action(ACTIONS / "verified_email.py")
    issuer.add_user("erin@example.com", password="erin-password", email_verified=False)
    tokens = await issuer.login("alice@example.com")
    claims = issuer.verify_access_token(tokens.access_token, audience=AUDIENCE)
    assert claims is not None
    assert claims[NAMESPACE + "premium"] is True
    with pytest.raises(LoginDenied) as denied:
        await issuer.login("erin@example.com")
    assert denied.value.action == "verified_email"


async def test_roles_become_a_namespaced_claim_and_scopes() -> None:
    issuer = Issuer.from_config(CONFIG)
    issuer.add_action(ACTIONS / "roles.py")
    issuer.add_user("carol@example.com", password="carol-password", roles=["admin", "editor"])
    tokens = await issuer.login("carol@example.com")
    async with issuer.http_client() as client:
        verifier = TokenVerifier(
            issuer=issuer.url, audience=AUDIENCE, namespace=NAMESPACE, http_client=client
        )
        claims = await verifier.verify(tokens.access_token)
    assert claims.custom["roles"] == ["admin", "editor"]
    assert {"claim:roles:admin", "claim:roles:editor"} <= claims.scopes
