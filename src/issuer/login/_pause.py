"""A login waiting for the browser: sent elsewhere by an action, or asked for a code.

The state of the login (what its actions asked for so far, where they stopped) stays on
the server in a :class:`PendingLogin`; :class:`LoginPaused` carries it from the pipeline
to the endpoint that answers the browser, and the pipeline's ``resume`` takes it back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..actions._actionapi import FlowChanges
from ..actions._runtime import FlowContext
from ..core._activity import FlowPaused
from ..core._errors import OAuthError

if TYPE_CHECKING:
    from ._loginrequest import LoginRequest

__all__ = [
    "MFA_ACR",
    "LoginPaused",
    "PendingLogin",
    "auth_claims",
    "auth_time_of",
    "has_second_factor",
    "no_second_factor",
    "paused",
    "second_factor_needed",
]

#: OpenID Provider Authentication Policy Extension 1.0 §4: the multi-factor policy URI.
MFA_ACR = "http://schemas.openid.net/pape/policies/2007/06/multi-factor"
#: RFC 8176 §2: the method names a second factor by a one-time code adds.
SECOND_FACTORS = frozenset({"otp", "mfa"})


@dataclass
class PendingLogin:
    """A login part-way through its post-login actions or before its second factor.

    ``redirected_by`` names the action whose ``on_continue_post_login`` runs next;
    ``redirect_url`` is where that action sent the browser.
    """

    request: LoginRequest
    context: FlowContext
    requested: list[str]
    changes: FlowChanges = field(default_factory=FlowChanges)
    redirected_by: str | None = None
    redirect_url: str | None = None
    actions_done: bool = False

    @property
    def needs_second_factor(self) -> bool:
        """Whether the login waits for a one-time code (not for a redirect)."""
        return self.redirected_by is None


class LoginPaused(FlowPaused):
    """The login waits for the browser: a redirect (``pending.redirected_by``) or a code."""

    def __init__(self, pending: PendingLogin) -> None:
        if pending.needs_second_factor:
            super().__init__(action=None, waiting_for="a one-time code")
        else:
            super().__init__(
                action=pending.redirected_by, waiting_for="the browser to come back to /continue"
            )
        self.pending = pending


def paused(pending: PendingLogin) -> LoginPaused | OAuthError:
    """What stops ``pending`` to wait for the browser: :class:`LoginPaused`, or, when the
    client asked that nothing be shown (``prompt=none``), the refusal
    ``interaction_required`` (OpenID Connect Core §3.1.2.6): nothing waits for that login."""
    if "none" in (pending.request.prompt or "").split():
        return OAuthError("interaction_required", "this login needs the user (a code or a page)")
    return LoginPaused(pending)


def method_names(methods: Sequence[Mapping[str, Any]]) -> list[str]:
    return list(dict.fromkeys(str(m.get("name")) for m in methods))


def second_factor_needed(changes: FlowChanges, acr_values: Sequence[str]) -> bool:
    """An action enabled MFA, or the client asked for the multi-factor ACR.

    OpenID Connect Core §3.1.2.1 makes ``acr_values`` a voluntary request; this issuer
    honours the one class it can satisfy, multi-factor, by asking for the second factor.
    """
    return changes.mfa_required or MFA_ACR in acr_values


def auth_claims(methods: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """``amr`` (RFC 8176) for the methods used, and ``acr`` only after a second factor.

    OpenID Connect Core §2 makes ``acr`` optional; a password alone satisfies no class
    this issuer could name honestly (``"0"`` means "not even ISO/IEC 29115 level 1", which
    understates a password), so without a second factor there is no ``acr`` at all.
    """
    names = method_names(methods)
    claims: dict[str, Any] = {}
    if names:
        claims["amr"] = names
    if SECOND_FACTORS & set(names):
        claims["acr"] = MFA_ACR
    return claims


def auth_time_of(methods: Sequence[Mapping[str, Any]], *, default: float) -> float:
    """The ``auth_time`` of a token whose ``amr`` lists ``methods``: when the latest of them
    was used, which is when that authentication was complete (OpenID Connect Core §2).
    A method a token does not list (a second factor of an earlier authorization) never
    makes it look fresher, so a ``max_age`` check against it means what it says."""
    times = [float(m["timestamp"]) for m in methods if "timestamp" in m]
    return max(times, default=default)


def has_second_factor(methods: Sequence[Mapping[str, Any]]) -> bool:
    """Whether ``methods`` include a second factor."""
    return bool(SECOND_FACTORS & set(method_names(methods)))


def no_second_factor(protocol: str) -> OAuthError:
    """The refusal of a login without a browser that needs a second factor."""
    if protocol == "oauth2-refresh-token":
        return OAuthError(
            "invalid_grant",
            "a second factor is required and the login behind this refresh token had none;"
            " log in again through /authorize",
        )
    # Auth0 answers the password grant with 403 mfa_required when MFA is enabled.
    return OAuthError(
        "mfa_required",
        "a second factor (one-time code) is required; log in through /authorize",
        status_code=403,
    )
