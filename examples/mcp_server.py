"""An MCP server protected by claimguard: a public tool, a tool for premium users and one
that needs a recent multi-factor login.

``greet`` answers any caller with a valid token; ``premium_report`` needs the ``premium``
claim, which the issuer's post-login action (``examples/issuer/actions/premium.py``) adds
for premium users; ``schedule_payout`` needs a multi-factor login (``acr``) younger than
five minutes (``auth_time``), and refuses other callers with a JSON-RPC error naming the
``acr_values`` and ``max_age`` to log in with again (RFC 9470). Tokens must be issued
for this server's resource URL (RFC 8707); the server publishes its RFC 9728 metadata, so
an MCP client finds the issuer and registers itself; the user logs in and, as the client
registered itself, allows it on the issuer's consent page. Run it (the issuer needs an API
whose identifier is the resource URL; this script adds it when it starts the bundled
issuer itself)::

    .venv/bin/python examples/mcp_server.py            # issuer on 8765, MCP on 8000/mcp

or against an issuer of your own::

    CLAIMGUARD_ISSUER=https://tenant.example.com/ \\
    CLAIMGUARD_RESOURCE=https://mcp.example.com/mcp \\
        .venv/bin/uvicorn --factory examples.mcp_server:create_app --port 8000
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import httpx
import uvicorn
from mcp.server.mcpserver import MCPServer

from claimguard import ProtectedResource, TokenVerifier
from claimguard.mcp import (
    ProtectedMCPApp,
    current_claims,
    protected_mcp_app,
    tool_requires_claim,
    tool_requires_step_up,
)
from issuer import Issuer

NAMESPACE = "https://myapp.example.com/"
DEFAULT_ISSUER = "http://127.0.0.1:8765/"
DEFAULT_RESOURCE = "http://127.0.0.1:8000/mcp"
SCOPES = ["tools:call"]
MULTI_FACTOR = "http://schemas.openid.net/pape/policies/2007/06/multi-factor"
FIVE_MINUTES = 300
ISSUER_CONFIG = Path(__file__).parent / "issuer" / "issuer.toml"


def create_server() -> MCPServer:
    """The MCP server itself: plain SDK code, nothing about tokens but the guard."""
    server = MCPServer("claimguard-example")

    @server.tool()
    async def greet(name: str) -> str:
        """Greet someone; any signed-in caller may."""
        claims = current_claims()
        caller = claims.subject if claims is not None else None
        return f"Hello, {name}! (asked by {caller})"

    @server.tool()
    @tool_requires_claim("premium")
    async def premium_report(topic: str) -> str:
        """A report only premium users get."""
        return f"Premium report on {topic}: all signals are green."

    @server.tool()
    @tool_requires_step_up(acr_values=[MULTI_FACTOR], max_age=FIVE_MINUTES)
    async def schedule_payout(amount: int) -> str:
        """Schedule a payout; needs a multi-factor login younger than five minutes."""
        return f"Payout of {amount} scheduled."

    return server


def create_app(
    *,
    issuer_url: str | None = None,
    resource_url: str | None = None,
    http_client: httpx.AsyncClient | None = None,
) -> ProtectedMCPApp:
    """The server behind claimguard, for tokens from ``issuer_url`` issued for ``resource_url``."""
    issuer_url = issuer_url or os.environ.get("CLAIMGUARD_ISSUER", DEFAULT_ISSUER)
    resource_url = resource_url or os.environ.get("CLAIMGUARD_RESOURCE", DEFAULT_RESOURCE)
    verifier = TokenVerifier(
        issuer=issuer_url, audience=resource_url, namespace=NAMESPACE, http_client=http_client
    )
    return protected_mcp_app(
        create_server(),
        verifier=verifier,
        protected_resource=ProtectedResource(
            resource=resource_url,
            authorization_servers=[issuer_url],
            scopes_supported=SCOPES,
            resource_name="claimguard example MCP server",
            acr_values_supported=[MULTI_FACTOR],
        ),
        close_verifier=http_client is None,
    )


def add_mcp_resource(issuer: Issuer, resource_url: str) -> None:
    """Teach the bundled issuer the MCP server's resource URL (the audience of its tokens)."""
    issuer.add_api(resource_url, scopes=SCOPES, token_dialect="rfc9068")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--issuer-port", type=int, default=8765)
    args = parser.parse_args()
    resource_url = f"http://127.0.0.1:{args.port}/mcp"
    with Issuer.serving(config=ISSUER_CONFIG, port=args.issuer_port) as served:
        add_mcp_resource(served.issuer, resource_url)
        print(f"issuer {served.url}; MCP server {resource_url}", flush=True)
        app = create_app(issuer_url=served.url, resource_url=resource_url)
        uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
