"""claimguard.mcp: an official MCP SDK server behind the middleware, in process.

Tokens come from the bundled issuer (in process too); the MCP client is the SDK's own, on
an ``httpx2`` ASGI transport with JSON responses.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
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
from mcp.shared.exceptions import MCPError
from starlette.authentication import SimpleUser

from claimguard import ClaimsUser, ConfigurationError, ProtectedResource, TokenVerifier
from claimguard.mcp import (
    INSUFFICIENT_CLAIMS,
    MCPUser,
    ProtectedMCPApp,
    current_claims,
    protected_mcp_app,
    tool_claim_check,
    tool_requires_claim,
    tool_requires_scope,
)
from issuer import Issuer

from .dpop_proofs import bearer_part

pytestmark = pytest.mark.anyio

RESOURCE = "http://127.0.0.1:9000/mcp"
OTHER_API = "https://api.example.com"
NAMESPACE = "https://myapp.example.com/"
JSON_ACCEPT = {"accept": "application/json, text/event-stream"}


def premium_action(event: Any, api: Any) -> None:
    if "premium" in event.user.app_metadata.get("roles", []):
        api.access_token.add_claim({f"{NAMESPACE}premium": True, f"{NAMESPACE}tier": "gold"})


def build_server() -> MCPServer:
    server = MCPServer("claimguard-test")

    @server.tool()
    async def whoami() -> dict[str, Any]:
        """Who the SDK says is calling."""
        token = get_access_token()
        assert token is not None
        return {
            "subject": token.subject,
            "client_id": token.client_id,
            "resource": token.resource,
            "iss": (token.claims or {}).get("iss"),
            "scopes": token.scopes,
        }

    @server.tool()
    @tool_requires_claim("premium")
    async def premium_report(topic: str) -> str:
        """Only for premium users."""
        claims = current_claims()
        assert claims is not None
        return f"premium report on {topic} for {claims.subject}"

    @server.tool()
    @tool_requires_claim("tier", equals="gold")
    def gold_only() -> str:
        return "gold"

    @server.tool()
    @tool_requires_scope("tools:admin")
    def admin_only() -> str:
        return "admin"

    @server.tool()
    @tool_claim_check(lambda claims: claims.subject is not None, description="Needs a subject.")
    def with_subject() -> str:
        return "has subject"

    return server


@dataclass
class Setup:
    issuer: Issuer
    app: ProtectedMCPApp

    async def token(
        self, email: str, *, audience: str = RESOURCE, scope: str = "tools:call"
    ) -> str:
        tokens = await self.issuer.login(email, client_id="desk", audience=audience, scope=scope)
        return tokens.access_token

    def http2(self, token: str | None) -> httpx2.AsyncClient:
        headers = {} if token is None else {"Authorization": f"Bearer {token}"}
        return httpx2.AsyncClient(transport=httpx2.ASGITransport(self.app), headers=headers)

    def http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(self.app), base_url="http://127.0.0.1:9000"
        )


@pytest.fixture
async def setup() -> AsyncIterator[Setup]:
    async with make_setup() as made:
        yield made


@asynccontextmanager
async def make_setup(**options: Any) -> AsyncIterator[Setup]:
    issuer = Issuer(issuer_url="http://127.0.0.1:8765/")
    # "premium" is also a scope word of this API: any client may request it.
    issuer.add_api(RESOURCE, scopes=["tools:call", "premium"])
    issuer.add_api(OTHER_API, scopes=["tools:call"])
    issuer.add_client("desk", client_secret="desk-secret", grant_types=["password"])
    issuer.add_user("alice@example.com", password="a-pw", app_metadata={"roles": ["premium"]})
    issuer.add_user("bob@example.com", password="b-pw")
    issuer.add_action(premium_action)
    async with issuer.http_client() as keys_client:
        verifier = TokenVerifier(
            issuer=issuer.url, audience=RESOURCE, namespace=NAMESPACE, http_client=keys_client
        )
        app = protected_mcp_app(
            build_server(),
            verifier=verifier,
            protected_resource=ProtectedResource(
                resource=RESOURCE,
                authorization_servers=[issuer.url],
                scopes_supported=["tools:call"],
            ),
            json_response=True,
            **options,
        )
        async with app.lifespan():
            yield Setup(issuer, app)


async def call(setup: Setup, token: str, tool: str, arguments: dict[str, Any]) -> Any:
    """The tool's result; a JSON-RPC error is re-raised as the bare ``MCPError``."""
    error: MCPError | None = None
    async with (
        setup.http2(token) as http,
        Client(streamable_http_client(RESOURCE, http_client=http), mode="legacy") as client,
    ):
        try:
            return await client.call_tool(tool, arguments)
        except MCPError as exc:
            error = exc
    raise error


async def test_tools_see_the_verified_token_through_the_sdk(setup: Setup) -> None:
    token = await setup.token("alice@example.com")
    async with (
        setup.http2(token) as http,
        Client(streamable_http_client(RESOURCE, http_client=http), mode="legacy") as client,
    ):
        names = {tool.name for tool in (await client.list_tools()).tools}
        result = await client.call_tool("whoami", {})
    assert {"whoami", "premium_report", "gold_only", "admin_only"} <= names
    assert not result.is_error
    seen = result.structured_content
    assert seen is not None
    alice = setup.issuer.directory.user("alice@example.com")
    assert seen["subject"] == alice.user_id
    assert seen["client_id"] == "desk"
    assert seen["resource"] == RESOURCE
    assert seen["iss"] == setup.issuer.url
    assert "claim:premium" in seen["scopes"]
    assert "tools:call" in seen["scopes"]


async def test_premium_tool_runs_for_a_premium_user(setup: Setup) -> None:
    result = await call(
        setup, await setup.token("alice@example.com"), "premium_report", {"topic": "q3"}
    )
    assert not result.is_error
    assert "premium report on q3" in result.content[0].text


async def test_premium_tool_answers_a_json_rpc_error_naming_the_claim(setup: Setup) -> None:
    token = await setup.token("bob@example.com")
    with pytest.raises(MCPError) as refused:
        await call(setup, token, "premium_report", {"topic": "q3"})
    assert refused.value.code == INSUFFICIENT_CLAIMS
    assert "premium" in refused.value.message
    assert refused.value.data == {"error": "insufficient_scope", "scope": "claim:premium"}


async def test_a_requested_scope_named_like_the_claim_does_not_pass_the_claim_guard(
    setup: Setup,
) -> None:
    token = await setup.token("bob@example.com", scope="tools:call premium")
    with pytest.raises(MCPError) as refused:
        await call(setup, token, "premium_report", {"topic": "q3"})
    assert refused.value.data == {"error": "insufficient_scope", "scope": "claim:premium"}


@pytest.mark.parametrize(
    ("tool", "scope"), [("gold_only", "claim:tier:gold"), ("admin_only", "tools:admin")]
)
async def test_value_and_scope_requirements(setup: Setup, tool: str, scope: str) -> None:
    bob = await setup.token("bob@example.com")
    with pytest.raises(MCPError) as refused:
        await call(setup, bob, tool, {})
    assert refused.value.data == {"error": "insufficient_scope", "scope": scope}
    alice = await setup.token("alice@example.com")
    if tool == "gold_only":
        assert (await call(setup, alice, tool, {})).content[0].text == "gold"


async def test_predicate_requirement(setup: Setup) -> None:
    result = await call(setup, await setup.token("bob@example.com"), "with_subject", {})
    assert result.content[0].text == "has subject"


async def test_the_raw_json_rpc_error_on_the_wire(setup: Setup) -> None:
    token = await setup.token("bob@example.com")
    headers = {**JSON_ACCEPT, "Authorization": f"Bearer {token}"}
    async with setup.http() as http:
        init = await http.post(
            "/mcp",
            headers=headers,
            json={
                "jsonrpc": "2.0",
                "id": 1,
                "method": "initialize",
                "params": {
                    "protocolVersion": "2025-06-18",
                    "capabilities": {},
                    "clientInfo": {"name": "raw", "version": "1"},
                },
            },
        )
        assert init.status_code == 200, init.text
        session = {
            "mcp-session-id": init.headers["mcp-session-id"],
            "mcp-protocol-version": "2025-06-18",
        }
        await http.post(
            "/mcp",
            headers={**headers, **session},
            json={"jsonrpc": "2.0", "method": "notifications/initialized"},
        )
        answer = await http.post(
            "/mcp",
            headers={**headers, **session},
            json={
                "jsonrpc": "2.0",
                "id": 2,
                "method": "tools/call",
                "params": {"name": "premium_report", "arguments": {"topic": "x"}},
            },
        )
    body = answer.json()
    assert "result" not in body
    assert body["error"]["code"] == INSUFFICIENT_CLAIMS
    assert "'premium'" in body["error"]["message"]


async def test_no_token_is_401_naming_the_metadata(setup: Setup) -> None:
    async with setup.http() as http:
        response = await http.post(
            "/mcp", headers=JSON_ACCEPT, json={"jsonrpc": "2.0", "id": 1, "method": "ping"}
        )
    assert response.status_code == 401
    assert bearer_part(response.headers["www-authenticate"]) == (
        'Bearer realm="mcp", '
        'resource_metadata="http://127.0.0.1:9000/.well-known/oauth-protected-resource/mcp"'
    )


async def test_metadata_is_served(setup: Setup) -> None:
    async with setup.http() as http:
        response = await http.get("/.well-known/oauth-protected-resource/mcp")
    assert response.status_code == 200
    assert response.json()["resource"] == RESOURCE
    assert response.json()["authorization_servers"] == [setup.issuer.url]


async def test_token_for_another_resource_is_refused(setup: Setup) -> None:
    token = await setup.token("alice@example.com", audience=OTHER_API)
    async with setup.http() as http:
        response = await http.post(
            "/mcp",
            headers={**JSON_ACCEPT, "Authorization": f"Bearer {token}"},
            json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
        )
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


async def test_a_session_belongs_to_the_principal_that_opened_it(setup: Setup) -> None:
    alice = await setup.token("alice@example.com")
    bob = await setup.token("bob@example.com")
    init = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "raw", "version": "1"},
        },
    }
    ping = {"jsonrpc": "2.0", "id": 2, "method": "ping"}
    async with setup.http() as http:
        opened = await http.post(
            "/mcp", headers={**JSON_ACCEPT, "Authorization": f"Bearer {alice}"}, json=init
        )
        session = {
            "mcp-session-id": opened.headers["mcp-session-id"],
            "mcp-protocol-version": "2025-06-18",
        }
        as_bob = await http.post(
            "/mcp", headers={**JSON_ACCEPT, **session, "Authorization": f"Bearer {bob}"}, json=ping
        )
        as_alice_again = await http.post(
            "/mcp",
            headers={
                **JSON_ACCEPT,
                **session,
                "Authorization": f"Bearer {await setup.token('alice@example.com')}",
            },
            json=ping,
        )
    assert as_bob.status_code == 404
    assert as_alice_again.status_code == 200


def test_mcp_user_is_both_the_sdk_user_and_a_claims_user() -> None:
    from claimguard import Claims

    claims = Claims(
        {"sub": "auth0|x", "azp": "desk", "iss": "https://i/", "exp": 10, "scope": "a b"}
    )
    user = MCPUser(claims, token="tok", resource=RESOURCE)
    assert isinstance(user, ClaimsUser)
    assert isinstance(user, SimpleUser)
    assert user.identity == "auth0|x"
    assert user.access_token.token == "tok"
    assert user.access_token.client_id == "desk"
    assert user.access_token.expires_at == 10
    assert user.access_token.scopes == ["a", "b"]


def test_current_claims_is_none_outside_a_request() -> None:
    assert current_claims() is None


def test_guard_refuses_when_nobody_is_authenticated() -> None:
    @tool_requires_claim("premium")
    def tool() -> str:
        return "ran"

    with pytest.raises(MCPError) as refused:
        tool()
    assert refused.value.code == INSUFFICIENT_CLAIMS
    assert refused.value.data == {"error": "insufficient_scope", "scope": "claim:premium"}


async def test_configuration_errors(setup: Setup) -> None:
    verifier = setup.app.middleware.verifier
    resource = setup.app.protected_resource
    with pytest.raises(ConfigurationError, match="MCPServer"):
        protected_mcp_app(object(), verifier=verifier, protected_resource=resource)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="ProtectedResource"):
        protected_mcp_app(MCPServer("x"), verifier=verifier, protected_resource=RESOURCE)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="path"):
        protected_mcp_app(
            MCPServer("x"), verifier=verifier, protected_resource=resource, path="mcp"
        )
    with pytest.raises(ConfigurationError, match="only decorate a function"):
        tool_requires_claim("premium")("not a function")  # type: ignore[arg-type]


class RecordingVerifier(TokenVerifier):
    closed = False

    async def aclose(self) -> None:
        self.closed = True
        await super().aclose()


async def test_close_verifier_closes_it_at_shutdown() -> None:
    issuer_url = "http://127.0.0.1:8765/"
    verifier = RecordingVerifier(issuer=issuer_url, audience=RESOURCE)
    app = protected_mcp_app(
        MCPServer("x"),
        verifier=verifier,
        protected_resource=ProtectedResource(resource=RESOURCE, authorization_servers=[issuer_url]),
        close_verifier=True,
    )
    async with app.lifespan():
        assert not verifier.closed
    assert verifier.closed


def test_claimguard_imports_without_the_mcp_package() -> None:
    code = (
        "import sys; sys.modules['mcp'] = None\n"
        "import claimguard\n"
        "assert 'mcp' not in [m for m in sys.modules if sys.modules[m] is not None]\n"
        "try:\n"
        "    import claimguard.mcp\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert "pip install 'claimguard-asgi[mcp]'" in result.stdout


async def test_report_only_runs_the_tool_and_logs_the_would_be_refusal(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with make_setup(report_only=True) as reporting:
        token = await reporting.token("bob@example.com")
        with caplog.at_level(logging.WARNING, logger="claimguard.middleware"):
            result = await call(reporting, token, "premium_report", {"topic": "q3"})
    assert not result.is_error
    assert "premium report on q3" in result.content[0].text
    reports = [r.getMessage() for r in caplog.records if "would refuse" in r.getMessage()]
    assert reports == ["report-only: would refuse POST '/mcp' with 403 insufficient_scope"]
