"""``examples/fastapi_app.py`` behind real uvicorn, trusting the example issuer."""

from __future__ import annotations

import httpx
import pytest
from examples.fastapi_app import create_app

from issuer import IssuerServer

from .conftest import Serve, bearer

pytestmark = pytest.mark.anyio


async def test_premium_route_lets_alice_in_and_keeps_bob_out(
    example_issuer: IssuerServer, serve: Serve
) -> None:
    alice = await example_issuer.issuer.login("alice@example.com")
    bob = await example_issuer.issuer.login("bob@example.com")
    with serve(create_app(issuer_url=example_issuer.url)) as url:
        async with httpx.AsyncClient(base_url=url) as client:
            public = await client.get("/public")
            anonymous = await client.get("/me")
            me = await client.get("/me", headers=bearer(alice.access_token))
            premium = await client.get("/premium", headers=bearer(alice.access_token))
            refused = await client.get("/premium", headers=bearer(bob.access_token))
    assert public.status_code == 200
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"].startswith('Bearer realm="api", DPoP algs=')
    assert me.json()["custom"] == {"premium": True}
    assert "claim:premium" in me.json()["scopes"]
    assert premium.status_code == 200
    assert premium.json()["content"] == "Premium content."
    assert refused.status_code == 403
    assert 'error="insufficient_scope"' in refused.headers["www-authenticate"]
    assert refused.json()["detail"]["error"] == "insufficient_scope"


async def test_docs_are_public_and_show_the_bearer_scheme(
    example_issuer: IssuerServer, serve: Serve
) -> None:
    with serve(create_app(issuer_url=example_issuer.url)) as url:
        async with httpx.AsyncClient(base_url=url) as client:
            docs = await client.get("/docs")
            schema = (await client.get("/openapi.json")).json()
    assert docs.status_code == 200
    assert "bearerAuth" in schema["components"]["securitySchemes"]
    assert schema["paths"]["/premium"]["get"]["security"] == [{"bearerAuth": ["claim:premium"]}]
