"""An official ``mcp`` SDK server behind claimguard (install ``claimguard-asgi[mcp]``).

An HTTP MCP server is an OAuth resource server (MCP authorization, RFC 9728, RFC 8707):
:func:`protected_mcp_app` serves an ``MCPServer``'s streamable-HTTP endpoint behind
:class:`~claimguard.ClaimGuardMiddleware`, publishes the protected-resource metadata, names
it in every 401 challenge and accepts only tokens whose audience is the resource URL.

Inside the SDK, a verified request looks exactly like one its own auth verified:
``scope["user"]`` is an :class:`MCPUser` (the SDK's ``AuthenticatedUser`` and claimguard's
:class:`~claimguard.ClaimsUser` at once), so ``get_access_token()`` works inside tools and a
session stays bound to the principal (client, issuer, subject) that opened it. The SDK's
session manager runs in the returned app's lifespan.

Per-tool requirements — :func:`tool_requires_claim`, :func:`tool_requires_scope`,
:func:`tool_claim_check` — sit under ``@server.tool()`` and answer a call that lacks them
with a JSON-RPC error (code :data:`INSUFFICIENT_CLAIMS`) naming what is missing;
:func:`tool_requires_step_up` answers a login too weak or too old with code
:data:`INSUFFICIENT_USER_AUTHENTICATION` naming ``acr_values``/``max_age`` (RFC 9470).

This module alone imports ``mcp``; ``import claimguard`` works without it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Protocol, cast
from urllib.parse import urlsplit

from starlette.types import Receive, Scope, Send

from ._errors import ConfigurationError
from .adapters._mcpsdk import AuthContextMiddleware
from .adapters._mcptools import (
    INSUFFICIENT_CLAIMS,
    INSUFFICIENT_USER_AUTHENTICATION,
    tool_claim_check,
    tool_requires_claim,
    tool_requires_scope,
    tool_requires_step_up,
)
from .adapters._mcptools import (
    ToolGuard as ToolGuard,
)
from .adapters._mcptools import (
    tool_guard as tool_guard,
)
from .adapters._mcpuser import MCPUser, SDKUserBridge, current_claims
from .asgi._middleware import ClaimGuardMiddleware, Verifier
from .asgi._resource import ProtectedResource

__all__ = [
    "INSUFFICIENT_CLAIMS",
    "INSUFFICIENT_USER_AUTHENTICATION",
    "MCPUser",
    "ProtectedMCPApp",
    "current_claims",
    "protected_mcp_app",
    "tool_claim_check",
    "tool_requires_claim",
    "tool_requires_scope",
    "tool_requires_step_up",
]


class _StreamableHTTPServer(Protocol):
    def streamable_http_app(self, **options: Any) -> Any: ...


class ProtectedMCPApp:
    """The ASGI app :func:`protected_mcp_app` returns.

    Run it as the whole app (its lifespan starts the SDK's session manager), or mount it in
    a larger app and enter :meth:`lifespan` from that app's lifespan: mounted apps get no
    lifespan events of their own. ``middleware`` is the :class:`ClaimGuardMiddleware` in
    front, ``sdk_app`` the SDK's Starlette app behind it.
    """

    def __init__(self, middleware: ClaimGuardMiddleware, sdk_app: Any) -> None:
        self.middleware = middleware
        self.sdk_app = sdk_app
        self.protected_resource = cast(ProtectedResource, middleware.protected_resource)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.middleware(scope, receive, send)

    def lifespan(self) -> AbstractAsyncContextManager[Any]:
        """The SDK session manager's run context (plus closing the verifier, if asked)."""
        context: Callable[[Any], AbstractAsyncContextManager[Any]] = (
            self.sdk_app.router.lifespan_context
        )
        return context(self.sdk_app)


def protected_mcp_app(
    server: _StreamableHTTPServer,
    *,
    verifier: Verifier,
    protected_resource: ProtectedResource,
    path: str | None = None,
    realm: str = "mcp",
    public_paths: Iterable[str] = (),
    report_only: bool = False,
    close_verifier: bool = False,
    **http_options: Any,
) -> ProtectedMCPApp:
    """Serve ``server`` (an ``mcp.server.mcpserver.MCPServer`` or low-level ``Server``) over
    streamable HTTP behind claimguard.

    - ``verifier``: a :class:`~claimguard.TokenVerifier` whose audience is
      ``protected_resource.resource``, exactly (RFC 8707).
    - ``protected_resource``: the RFC 9728 metadata; it is served at its well-known paths
      and named in every challenge.
    - ``path``: where the MCP endpoint listens; default the resource URL's path
      (``/mcp`` for ``https://host/mcp``).
    - ``report_only``: the middleware's report-only mode; tool guards then log and count
      a refusal and run the tool anyway.
    - ``close_verifier``: close the verifier when the app shuts down (when the app owns it).
    - ``http_options`` go to the SDK's ``streamable_http_app`` (``json_response``,
      ``stateless_http``, ``event_store``, ``transport_security`` …). Unless given, ``host``
      is the resource URL's host, from which the SDK derives its DNS-rebinding protection.

    The SDK's own ``auth=`` settings must stay unset: claimguard is the auth.
    """
    if not isinstance(protected_resource, ProtectedResource):
        raise ConfigurationError("protected_resource must be a ProtectedResource")
    if not callable(getattr(server, "streamable_http_app", None)):
        raise ConfigurationError(
            "server must be an mcp MCPServer or low-level Server (with streamable_http_app())"
        )
    settings = getattr(server, "settings", None)
    if getattr(settings, "auth", None) is not None:
        raise ConfigurationError(
            "the MCP server has its own auth settings; leave them unset behind claimguard"
        )
    resource = urlsplit(protected_resource.resource)
    if path is None:
        path = resource.path.rstrip("/") or "/"
    if not isinstance(path, str) or not path.startswith("/"):
        raise ConfigurationError(f"path {path!r} must start with '/'")
    http_options.setdefault("host", resource.hostname)
    sdk_app = server.streamable_http_app(streamable_http_path=path, **http_options)
    if close_verifier:
        sdk_app.router.lifespan_context = _closing(sdk_app.router.lifespan_context, verifier)
    bridged = SDKUserBridge(AuthContextMiddleware(sdk_app), resource=protected_resource.resource)
    middleware = ClaimGuardMiddleware(
        bridged,
        verifier=verifier,
        protected_resource=protected_resource,
        realm=realm,
        public_paths=public_paths,
        report_only=report_only,
    )
    return ProtectedMCPApp(middleware, sdk_app)


def _closing(
    lifespan: Callable[[Any], AbstractAsyncContextManager[Any]], verifier: Verifier
) -> Callable[[Any], AbstractAsyncContextManager[Any]]:
    @asynccontextmanager
    async def closing(app: Any) -> AsyncIterator[Any]:
        try:
            async with lifespan(app) as state:
                yield state
        finally:
            close = getattr(verifier, "aclose", None)
            if close is not None:
                await close()

    return closing
