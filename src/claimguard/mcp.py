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

import contextvars
import functools
import inspect
from collections.abc import AsyncIterator, Callable, Iterable, MutableMapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, ParamSpec, Protocol, TypeVar, cast
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from ._challenge import scheme_of, step_up_parameters
from ._claims import Claims
from ._clock import SYSTEM_TIME, TokenTime
from ._credentials import access_token
from ._decisions import DECISIONS_KEY, logger, refusal_stands
from ._errors import (
    ClaimGuardError,
    ConfigurationError,
    InsufficientClaims,
    InsufficientUserAuthentication,
)
from ._middleware import ClaimGuardMiddleware, Verifier
from ._requirements import (
    ClaimRequirement,
    PredicateRequirement,
    Requirement,
    Scalar,
    ScopeRequirement,
)
from ._resource import ProtectedResource
from ._stepup import StepUpRequirement
from ._user import ClaimsUser, challenger_of, token_time_of

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

P = ParamSpec("P")
R = TypeVar("R")

INSUFFICIENT_CLAIMS = -32003
"""JSON-RPC error code of a tool call refused for missing claims (implementation-defined
server-error range, JSON-RPC 2.0 §5.1)."""

INSUFFICIENT_USER_AUTHENTICATION = -32004
"""JSON-RPC error code of a tool call refused because the user's login is too weak or too
old (RFC 9470); ``data`` carries ``acr_values`` and/or ``max_age`` like the HTTP challenge."""

_UNSET: Any = object()
# The request's scope, for tool guards to count and report refusals like the other guards;
# set only when the middleware records decisions (report-only mode or metrics).
_decisions_scope = contextvars.ContextVar[MutableMapping[str, Any] | None](
    "claimguard_decisions_scope", default=None
)


class MCPUser(ClaimsUser, AuthenticatedUser):
    """The verified user as both the MCP SDK and claimguard read it.

    ``access_token`` is the SDK's ``AccessToken``: ``token`` is the access token (sent
    with the ``Bearer`` or the ``DPoP`` scheme),
    ``client_id`` the ``client_id``/``azp`` claim, ``subject`` the ``sub`` claim,
    ``scopes`` the request's scopes (the claims-to-scopes rule, as ``request.auth.scopes``),
    ``resource`` the protected resource and ``claims`` the whole verified payload, ``iss``
    included, which is what binds an SDK session to its principal. ``claims`` is the
    :class:`~claimguard.Claims` object. ``time`` is the verifier's clock and leeway, which
    step-up tool guards measure ``auth_time`` with.
    """

    def __init__(
        self, claims: Claims, *, token: str, resource: str, time: TokenTime = SYSTEM_TIME
    ) -> None:
        client_id = claims.get("client_id", claims.get("azp"))
        expires_at = claims.get("exp")
        AuthenticatedUser.__init__(
            self,
            AccessToken(
                token=token,
                client_id=client_id if isinstance(client_id, str) else "",
                scopes=sorted(claims.scopes),
                expires_at=int(expires_at) if isinstance(expires_at, int | float) else None,
                resource=resource,
                subject=claims.subject,
                claims=dict(claims),
            ),
        )
        self.claims = claims
        self.time = time

    def __repr__(self) -> str:
        return f"MCPUser(identity={self.identity!r})"


class _SDKUserBridge:
    """Turns claimguard's :class:`ClaimsUser` into an :class:`MCPUser` for the SDK."""

    def __init__(self, app: ASGIApp, *, resource: str) -> None:
        self.app = app
        self.resource = resource

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        user = scope.get("user")
        if scope["type"] == "http" and isinstance(user, ClaimsUser):
            # The middleware verified this very header; reading it again cannot fail.
            token = access_token(scope) or ""
            mcp_user = MCPUser(
                user.claims, token=token, resource=self.resource, time=token_time_of(scope)
            )
            scope = {**scope, "user": mcp_user}
        if DECISIONS_KEY in scope:
            reset = _decisions_scope.set(scope)
            try:
                await self.app(scope, receive, send)
            finally:
                _decisions_scope.reset(reset)
            return
        await self.app(scope, receive, send)


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
    bridged = _SDKUserBridge(AuthContextMiddleware(sdk_app), resource=protected_resource.resource)
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


# -- per-tool requirements ------------------------------------------------------------


def current_claims() -> Claims | None:
    """The verified claims of the MCP request being handled, or ``None`` outside one.

    Works wherever the SDK's ``get_access_token()`` works: in tools, resources, prompts.
    """
    user = auth_context_var.get()
    return user.claims if isinstance(user, MCPUser) else None


class ToolGuard(Protocol):
    """A decorator that keeps the decorated tool's signature (so its schema is unchanged)."""

    def __call__(self, func: Callable[P, R], /) -> Callable[P, R]: ...


def tool_requires_claim(
    name: str, *, equals: Scalar = _UNSET, includes: Scalar = _UNSET
) -> ToolGuard:
    """Let a tool run only if the caller's token has the claim ``name`` (same rules as
    :func:`claimguard.requires_claim`); place it below ``@server.tool()``."""
    options: dict[str, Any] = {}
    if equals is not _UNSET:
        options["equals"] = equals
    if includes is not _UNSET:
        options["includes"] = includes
    return tool_guard(ClaimRequirement(name, **options))


def tool_requires_scope(*scopes: str) -> ToolGuard:
    """Let a tool run only if the request has every one of ``scopes``."""
    return tool_guard(ScopeRequirement(*scopes))


def tool_claim_check(
    predicate: Callable[[Claims], bool],
    *,
    description: str = "The token's claims do not allow this tool.",
    scopes: tuple[str, ...] = (),
) -> ToolGuard:
    """Let a tool run only if ``predicate(claims)`` returns ``True``."""
    return tool_guard(PredicateRequirement(predicate, description=description, scopes=scopes))


def tool_requires_step_up(
    *, acr_values: Sequence[str] = (), max_age: int | None = None, amr: Sequence[str] = ()
) -> ToolGuard:
    """Let a tool run only if the caller logged in strongly and recently enough (same rules
    as :func:`claimguard.requires_step_up`); a refusal is a JSON-RPC error with code
    :data:`INSUFFICIENT_USER_AUTHENTICATION` whose ``data`` names ``error``
    (``insufficient_user_authentication``), ``acr_values`` and/or ``max_age``."""
    return tool_guard(StepUpRequirement(acr_values=acr_values, max_age=max_age, amr=amr))


def tool_guard(requirement: Requirement) -> ToolGuard:
    """The decorator enforcing ``requirement`` before a tool runs; a refusal is an
    ``MCPError`` (a JSON-RPC error, not a tool result) with code :data:`INSUFFICIENT_CLAIMS`,
    the requirement's description as message, and ``data`` naming ``error`` and ``scope``."""

    def decorate(func: Callable[P, R]) -> Callable[P, R]:
        if not callable(func):
            raise ConfigurationError(f"{requirement!r} can only decorate a function")
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def async_guarded(*args: Any, **kwargs: Any) -> Any:
                _enforce(requirement)
                return await func(*args, **kwargs)

            return cast(Callable[P, R], async_guarded)

        @functools.wraps(func)
        def sync_guarded(*args: Any, **kwargs: Any) -> Any:
            _enforce(requirement)
            return func(*args, **kwargs)

        return cast(Callable[P, R], sync_guarded)

    return decorate


def _enforce(requirement: Requirement) -> None:
    user = auth_context_var.get()
    claims = user.claims if isinstance(user, MCPUser) else None
    try:
        if claims is None:
            raise InsufficientClaims(
                "A verified bearer token is required for this tool.",
                required=requirement.scopes,
            )
        requirement.check(claims, user.time if isinstance(user, MCPUser) else SYSTEM_TIME)
    except ClaimGuardError as error:
        cause = error.cause if isinstance(error, InsufficientUserAuthentication) else None
        scope = _decisions_scope.get()
        if scope is not None:
            challenger = challenger_of(scope)
            answer = (
                challenger.missing_token()
                if claims is None
                else challenger.for_error(error, scheme=scheme_of(claims))
            )
            if not refusal_stands(scope, answer, cause):
                return
        else:
            # Not recorded by the middleware's decisions: logged here, with its precise cause.
            logger.debug(
                "refused an MCP tool call: %s%s: %s",
                error.error,
                "" if cause is None else f" ({cause})",
                error.description,
            )
        raise _tool_error(error) from error


def _tool_error(error: ClaimGuardError) -> MCPError:
    if isinstance(error, InsufficientUserAuthentication):
        return MCPError(
            code=INSUFFICIENT_USER_AUTHENTICATION,
            message=error.description,
            data={"error": error.error, **dict(step_up_parameters(error))},
        )
    required = error.required if isinstance(error, InsufficientClaims) else ()
    return MCPError(
        code=INSUFFICIENT_CLAIMS,
        message=error.description,
        data={"error": "insufficient_scope", "scope": " ".join(required)},
    )
