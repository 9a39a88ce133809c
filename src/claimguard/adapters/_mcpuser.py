"""``MCPUser``: the verified user as the MCP SDK reads it, set on each request by the
bridge in front of the SDK, and the claims of the request being handled."""

from __future__ import annotations

import contextvars
from collections.abc import MutableMapping
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from .._clock import SYSTEM_TIME, TokenTime
from ..asgi._credentials import access_token
from ..asgi._decisions import DECISIONS_KEY
from ..asgi._user import ClaimsUser, token_time_of
from ..verification._claims import Claims
from ._mcpsdk import AccessToken, AuthenticatedUser, auth_context_var

__all__ = ["MCPUser", "SDKUserBridge", "current_claims", "current_user", "decisions_scope"]

# The request's scope, for tool guards to count and report refusals like the other guards;
# set only when the middleware records decisions (report-only mode or metrics).
decisions_scope = contextvars.ContextVar[MutableMapping[str, Any] | None](
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


class SDKUserBridge:
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
            reset = decisions_scope.set(scope)
            try:
                await self.app(scope, receive, send)
            finally:
                decisions_scope.reset(reset)
            return
        await self.app(scope, receive, send)


def current_claims() -> Claims | None:
    """The verified claims of the MCP request being handled, or ``None`` outside one.

    Works wherever the SDK's ``get_access_token()`` works: in tools, resources, prompts.
    """
    user = current_user()
    return None if user is None else user.claims


def current_user() -> MCPUser | None:
    """The verified user of the MCP request being handled, or ``None`` outside one."""
    user = auth_context_var.get()
    return user if isinstance(user, MCPUser) else None
