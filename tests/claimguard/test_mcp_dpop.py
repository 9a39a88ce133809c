"""claimguard.mcp with DPoP (RFC 9449): the official MCP SDK client calls a tool with a
DPoP-bound token from the bundled issuer and a fresh proof on every request; without a
proof the token is refused, and the protected-resource metadata says DPoP is required."""

from __future__ import annotations

from collections.abc import AsyncIterator, Generator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

pytest.importorskip("mcp", reason="the mcp extra is not installed")

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.mcpserver import MCPServer

from claimguard import ProtectedResource, TokenVerifier
from claimguard.mcp import ProtectedMCPApp, current_claims, protected_mcp_app, tool_requires_claim
from issuer import Issuer
from issuer.dpop import DPoPKey

pytestmark = pytest.mark.anyio

RESOURCE = "http://127.0.0.1:9000/mcp"
NAMESPACE = "https://myapp.example.com/"
JSON_ACCEPT = {"accept": "application/json, text/event-stream"}
PING = {"jsonrpc": "2.0", "id": 1, "method": "ping"}


class DPoPAuth2(httpx2.Auth):
    """The MCP SDK's HTTP client (httpx2) signing each request with a proof by ``key``."""

    def __init__(self, key: DPoPKey, token: str) -> None:
        self.key = key
        self.token = token

    def auth_flow(self, request: httpx2.Request) -> Generator[httpx2.Request, Any, None]:
        request.headers["Authorization"] = f"DPoP {self.token}"
        request.headers["DPoP"] = self.key.proof(
            request.method, str(request.url), access_token=self.token
        )
        yield request


def build_server() -> MCPServer:
    server = MCPServer("claimguard-dpop-test")

    @server.tool()
    async def whoami() -> dict[str, Any]:
        """The caller's subject and the key its token is bound to."""
        token = get_access_token()
        claims = current_claims()
        assert token is not None
        assert claims is not None
        return {"subject": token.subject, "jkt": claims.dpop_jkt}

    @server.tool()
    @tool_requires_claim("premium")
    async def premium_report() -> str:
        return "premium"

    return server


def premium_action(event: Any, api: Any) -> None:
    if "premium" in event.user.app_metadata.get("roles", []):
        api.access_token.add_claim({f"{NAMESPACE}premium": True})


@dataclass
class Setup:
    issuer: Issuer
    app: ProtectedMCPApp

    def http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(self.app), base_url="http://127.0.0.1:9000"
        )


@pytest.fixture
async def setup() -> AsyncIterator[Setup]:
    issuer = Issuer(issuer_url="http://127.0.0.1:8765/")
    issuer.add_api(RESOURCE, scopes=["tools:call"])
    issuer.add_client("desk", client_secret="desk-secret", grant_types=["password"])
    issuer.add_user("alice@example.com", password="a-pw", app_metadata={"roles": ["premium"]})
    issuer.add_action(premium_action)
    async with issuer.http_client() as keys_client:
        verifier = TokenVerifier(
            issuer=issuer.url,
            audience=RESOURCE,
            namespace=NAMESPACE,
            http_client=keys_client,
            dpop="required",
        )
        app = protected_mcp_app(
            build_server(),
            verifier=verifier,
            protected_resource=ProtectedResource(
                resource=RESOURCE, authorization_servers=[issuer.url]
            ),
            json_response=True,
        )
        async with app.lifespan():
            yield Setup(issuer, app)


async def test_a_dpop_bound_token_with_proofs_reaches_the_tools(setup: Setup) -> None:
    key = DPoPKey()
    tokens = await setup.issuer.login(
        "alice@example.com", client_id="desk", audience=RESOURCE, dpop_key=key
    )
    auth = DPoPAuth2(key, tokens.access_token)
    async with (
        httpx2.AsyncClient(transport=httpx2.ASGITransport(setup.app), auth=auth) as http,
        Client(streamable_http_client(RESOURCE, http_client=http), mode="legacy") as client,
    ):
        seen = await client.call_tool("whoami", {})
        premium = await client.call_tool("premium_report", {})
    assert not seen.is_error
    assert seen.structured_content is not None
    assert seen.structured_content["jkt"] == key.jkt
    alice = setup.issuer.directory.user("alice@example.com")
    assert seen.structured_content["subject"] == alice.user_id
    assert premium.content[0].text == "premium"


async def test_without_a_proof_the_bound_token_is_refused(setup: Setup) -> None:
    tokens = await setup.issuer.login(
        "alice@example.com", client_id="desk", audience=RESOURCE, dpop_key=DPoPKey()
    )
    async with setup.http() as http:
        no_proof = await http.post(
            "/mcp",
            headers={**JSON_ACCEPT, "Authorization": f"DPoP {tokens.access_token}"},
            json=PING,
        )
        as_bearer = await http.post(
            "/mcp",
            headers={**JSON_ACCEPT, "Authorization": f"Bearer {tokens.access_token}"},
            json=PING,
        )
    for refused in (no_proof, as_bearer):
        assert refused.status_code == 401
        challenge = refused.headers["www-authenticate"]
        assert challenge.startswith("DPoP ")
        assert (
            'resource_metadata="http://127.0.0.1:9000/.well-known/oauth-protected-resource/mcp"'
            in challenge
        )
    assert 'error="invalid_dpop_proof"' in no_proof.headers["www-authenticate"]


async def test_the_metadata_says_dpop_is_required(setup: Setup) -> None:
    async with setup.http() as http:
        document = (await http.get("/.well-known/oauth-protected-resource/mcp")).json()
    assert document["resource"] == RESOURCE
    assert document["dpop_bound_access_tokens_required"] is True
    assert document["dpop_signing_alg_values_supported"] == [
        "ES256",
        "EdDSA",
        "Ed25519",
        "RS256",
        "PS256",
    ]
