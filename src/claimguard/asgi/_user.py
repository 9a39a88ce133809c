"""The authenticated user as an ASGI scope carries it, the way Starlette's own auth does.

:class:`~claimguard.ClaimGuardMiddleware` sets ``scope["auth"]`` (an
``AuthCredentials`` holding the token's scopes, sorted) and ``scope["user"]`` (a
:class:`ClaimsUser`, or an ``UnauthenticatedUser`` for anonymous requests), plus
``scope["claimguard.challenger"]`` so that endpoint guards answer with the same realm, and
``scope["claimguard.time"]`` so that they read time with the verifier's clock and leeway.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.authentication import AuthCredentials, BaseUser, UnauthenticatedUser

from .._clock import SYSTEM_TIME, TokenTime
from .._errors import ConfigurationError
from ..verification._claims import Claims
from ._challenge import Challenger

__all__ = [
    "CHALLENGER_KEY",
    "TIME_KEY",
    "ClaimsUser",
    "anonymous",
    "authenticated",
    "challenger_of",
    "claims_of",
    "token_time_of",
]

CHALLENGER_KEY = "claimguard.challenger"
TIME_KEY = "claimguard.time"
_DEFAULT_CHALLENGER = Challenger()


class ClaimsUser(BaseUser):
    """A user authenticated by a verified bearer token.

    ``claims`` are the verified :class:`Claims`; ``identity`` is the ``sub`` claim.
    """

    __slots__ = ("claims",)

    def __init__(self, claims: Claims) -> None:
        self.claims = claims

    def __repr__(self) -> str:
        return f"ClaimsUser(identity={self.identity!r})"

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        for name in ("name", "nickname", "email", "sub"):
            value = self.claims.get(name)
            if isinstance(value, str) and value:
                return value
        return ""

    @property
    def identity(self) -> str:
        return self.claims.subject or ""


def authenticated(claims: Claims) -> tuple[AuthCredentials, ClaimsUser]:
    """The ``scope["auth"]`` and ``scope["user"]`` values for verified ``claims``."""
    return AuthCredentials(sorted(claims.scopes)), ClaimsUser(claims)


def anonymous() -> tuple[AuthCredentials, UnauthenticatedUser]:
    """The ``scope["auth"]`` and ``scope["user"]`` values for an anonymous request."""
    return AuthCredentials(), UnauthenticatedUser()


def claims_of(scope: Mapping[str, Any]) -> Claims | None:
    """The verified claims of a request, or ``None`` when it is anonymous.

    Raises :class:`ConfigurationError` when :class:`ClaimGuardMiddleware` did not see the
    request: a guard without the middleware in front of it must fail loudly, never open.
    """
    if "user" not in scope or CHALLENGER_KEY not in scope:
        raise ConfigurationError(
            "ClaimGuardMiddleware is not installed in front of this endpoint; "
            "claim guards need it to verify the bearer token"
        )
    user = scope["user"]
    return user.claims if isinstance(user, ClaimsUser) else None


def challenger_of(scope: Mapping[str, Any]) -> Challenger:
    """The :class:`Challenger` the middleware configured for this request."""
    challenger = scope.get(CHALLENGER_KEY)
    return challenger if isinstance(challenger, Challenger) else _DEFAULT_CHALLENGER


def token_time_of(scope: Mapping[str, Any]) -> TokenTime:
    """The verifier's clock and leeway for this request (the system clock without leeway
    when the middleware did not say)."""
    time = scope.get(TIME_KEY)
    return time if isinstance(time, TokenTime) else SYSTEM_TIME
