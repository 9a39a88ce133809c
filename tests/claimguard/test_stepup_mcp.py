"""``tool_requires_step_up``: MCP tools that ask for a strong, recent login (RFC 9470).

The bundled issuer (in process) serves the keys; tokens carrying ``acr``/``amr``/
``auth_time`` are signed with its active key, as a login with multi-factor would produce them.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import jwt
import pytest

pytest.importorskip("mcp", reason="the mcp extra is not installed")

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.server.mcpserver import MCPServer
from mcp.shared.exceptions import MCPError

from claimguard import ConfigurationError, ProtectedResource, TokenVerifier
from claimguard.mcp import (
    INSUFFICIENT_USER_AUTHENTICATION,
    ProtectedMCPApp,
    protected_mcp_app,
    tool_requires_step_up,
)
from issuer import Issuer

from .conftest import FakeClock

pytestmark = pytest.mark.anyio

RESOURCE = "http://127.0.0.1:9000/mcp"
MFA = "http://schemas.openid.net/pape/policies/2007/06/multi-factor"


def build_server() -> MCPServer:
    server = MCPServer("claimguard-step-up")

    @server.tool()
    @tool_requires_step_up(acr_values=[MFA], max_age=300)
    async def send_payout(amount: int) -> str:
        """Only after a recent multi-factor login."""
        return f"paid {amount}"

    @server.tool()
    @tool_requires_step_up(amr=["otp"])
    def with_otp() -> str:
        return "otp"

    return server


@dataclass
class Setup:
    issuer: Issuer
    app: ProtectedMCPApp
    clock: FakeClock

    def token(self, *, age: float = 60, **claims: Any) -> str:
        now = int(self.clock.time())
        payload: dict[str, Any] = {
            "iss": self.issuer.url,
            "sub": "auth0|alice",
            "aud": RESOURCE,
            "iat": now,
            "exp": now + 3600,
            "scope": "tools:call",
            "acr": MFA,
            "amr": ["pwd", "otp"],
            "auth_time": now - age,
        }
        payload.update(claims)
        key = self.issuer.keys.active
        return jwt.encode(payload, key.private_key, algorithm=key.alg, headers={"kid": key.kid})

    async def call(self, token: str, tool: str, arguments: dict[str, Any]) -> Any:
        error: MCPError | None = None
        headers = {"Authorization": f"Bearer {token}"}
        async with (
            httpx2.AsyncClient(transport=httpx2.ASGITransport(self.app), headers=headers) as http,
            Client(streamable_http_client(RESOURCE, http_client=http), mode="legacy") as client,
        ):
            try:
                return await client.call_tool(tool, arguments)
            except MCPError as exc:
                error = exc
        raise error


@pytest.fixture
async def setup(clock: FakeClock) -> AsyncIterator[Setup]:
    issuer = Issuer(issuer_url="http://127.0.0.1:8765/", clock=clock.time)
    issuer.add_api(RESOURCE, scopes=["tools:call"])
    async with issuer.http_client() as keys_client:
        verifier = TokenVerifier(
            issuer=issuer.url, audience=RESOURCE, http_client=keys_client, clock=clock
        )
        app = protected_mcp_app(
            build_server(),
            verifier=verifier,
            protected_resource=ProtectedResource(
                resource=RESOURCE,
                authorization_servers=[issuer.url],
                acr_values_supported=[MFA],
            ),
            json_response=True,
        )
        async with app.lifespan():
            yield Setup(issuer, app, clock)


async def test_a_recent_multi_factor_login_runs_the_tool(setup: Setup) -> None:
    result = await setup.call(setup.token(), "send_payout", {"amount": 5})
    assert not result.is_error
    assert result.content[0].text == "paid 5"


@pytest.mark.parametrize(
    "claims",
    [
        {"acr": "urn:example:acr:password"},
        {"age": 331},
        {"age": -31},
        {"auth_time": None},
    ],
)
async def test_a_weak_or_old_login_gets_a_json_rpc_error_naming_what_to_ask_for(
    setup: Setup, claims: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="claimguard.middleware")
    with pytest.raises(MCPError) as refused:
        await setup.call(setup.token(**claims), "send_payout", {"amount": 5})
    assert refused.value.code == INSUFFICIENT_USER_AUTHENTICATION
    assert refused.value.data == {
        "error": "insufficient_user_authentication",
        "acr_values": MFA,
        "max_age": 300,
    }
    assert "insufficient_user_authentication" in caplog.text


async def test_max_age_is_measured_on_the_verifiers_clock(setup: Setup) -> None:
    token = setup.token(age=0)
    assert (await setup.call(token, "send_payout", {"amount": 1})).content[0].text == "paid 1"
    setup.clock.advance(331)
    with pytest.raises(MCPError) as refused:
        await setup.call(token, "send_payout", {"amount": 1})
    assert refused.value.code == INSUFFICIENT_USER_AUTHENTICATION


async def test_a_missing_amr_method_is_refused(setup: Setup) -> None:
    assert (await setup.call(setup.token(), "with_otp", {})).content[0].text == "otp"
    with pytest.raises(MCPError) as refused:
        await setup.call(setup.token(amr=["pwd"]), "with_otp", {})
    assert refused.value.code == INSUFFICIENT_USER_AUTHENTICATION
    assert refused.value.data == {"error": "insufficient_user_authentication"}
    assert "'otp'" in refused.value.message


async def test_the_metadata_lists_the_acr_values(setup: Setup) -> None:
    document = setup.app.protected_resource.document()
    assert document["acr_values_supported"] == [MFA]


def test_a_guard_outside_a_request_refuses() -> None:
    @tool_requires_step_up(max_age=60)
    def tool() -> str:
        return "ran"

    with pytest.raises(MCPError) as refused:
        tool()
    assert refused.value.data == {"error": "insufficient_scope", "scope": ""}


def test_bad_requirements_fail_at_declaration() -> None:
    with pytest.raises(ConfigurationError):
        tool_requires_step_up(acr_values=["a b"])
    with pytest.raises(ConfigurationError):
        tool_requires_step_up(max_age=-5)
