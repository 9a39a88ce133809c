"""Per-tool requirements of an MCP server: a tool runs only for a caller whose token
meets them; a refusal is a JSON-RPC error naming what is missing."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from typing import Any, ParamSpec, Protocol, TypeVar, cast

from .._clock import SYSTEM_TIME
from .._errors import (
    ClaimGuardError,
    ConfigurationError,
    InsufficientClaims,
    InsufficientUserAuthentication,
)
from ..asgi._challenge import scheme_of, step_up_parameters
from ..asgi._decisions import logger, refusal_stands
from ..asgi._requirements import (
    UNSET,
    ClaimRequirement,
    PredicateRequirement,
    Requirement,
    Scalar,
    ScopeRequirement,
)
from ..asgi._stepup import StepUpRequirement
from ..asgi._user import challenger_of
from ..verification._claims import Claims
from ._mcpsdk import MCPError
from ._mcpuser import current_user, decisions_scope

__all__ = [
    "INSUFFICIENT_CLAIMS",
    "INSUFFICIENT_USER_AUTHENTICATION",
    "ToolGuard",
    "tool_claim_check",
    "tool_guard",
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


class ToolGuard(Protocol):
    """A decorator that keeps the decorated tool's signature (so its schema is unchanged)."""

    def __call__(self, func: Callable[P, R], /) -> Callable[P, R]: ...


def tool_requires_claim(
    name: str, *, equals: Scalar = UNSET, includes: Scalar = UNSET
) -> ToolGuard:
    """Let a tool run only if the caller's token has the claim ``name`` (same rules as
    :func:`claimguard.requires_claim`); place it below ``@server.tool()``."""
    return tool_guard(ClaimRequirement(name, equals=equals, includes=includes))


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
    user = current_user()
    claims = None if user is None else user.claims
    try:
        if claims is None:
            raise InsufficientClaims(
                "A verified bearer token is required for this tool.",
                required=requirement.scopes,
            )
        requirement.check(claims, SYSTEM_TIME if user is None else user.time)
    except ClaimGuardError as error:
        cause = error.cause if isinstance(error, InsufficientUserAuthentication) else None
        scope = decisions_scope.get()
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
                "refused an MCP tool call: %s%s (%s): %s",
                error.error,
                "" if cause is None else f" ({cause})",
                "no issuer selected" if claims is None else f"issuer {claims.issuer!r}",
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
