"""The official MCP SDK's names that :mod:`claimguard.mcp` uses, or a clear error naming
the extra to install."""

from __future__ import annotations

try:
    from mcp.server.auth.middleware.auth_context import AuthContextMiddleware, auth_context_var
    from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
    from mcp.server.auth.provider import AccessToken
    from mcp.shared.exceptions import MCPError
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "claimguard.mcp needs the official MCP SDK: pip install 'claimguard-asgi[mcp]'"
    ) from exc

__all__ = [
    "AccessToken",
    "AuthContextMiddleware",
    "AuthenticatedUser",
    "MCPError",
    "auth_context_var",
]
