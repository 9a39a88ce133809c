"""Step-up requirements: how strong and how recent the user's login must be (RFC 9470).

A token says how its user logged in: ``acr`` names the authentication context class
(OpenID Connect Core §2, for example the PAPE multi-factor policy URI), ``amr`` lists the
methods used (RFC 8176: ``pwd``, ``otp``, ``mfa`` …) and ``auth_time`` says when the user
last actively authenticated. A :class:`StepUpRequirement` checks them; a token that falls
short is refused with :class:`InsufficientUserAuthentication`, whose challenge tells the
client which ``acr_values`` and ``max_age`` to ask the authorization server for (RFC 9470 §3).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import NoReturn

from .._clock import SYSTEM_TIME, TokenTime
from .._errors import ConfigurationError, InsufficientUserAuthentication
from ..verification._claims import Claims
from ._challenge import is_scope_token
from ._requirements import Requirement

__all__ = ["StepUpRequirement"]

_setup_logger = logging.getLogger("claimguard")


def _values(value: object, option: str) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise ConfigurationError(
            f"requires_step_up({option}=…) takes a sequence of strings, not {value!r}: "
            f'write {option}=("…",)'
        )
    for item in value:
        # Each value goes into a quoted-string, space-separated (RFC 9470 §3, RFC 6750 §3):
        # printable ASCII without spaces, double quotes or backslashes.
        if not isinstance(item, str) or not is_scope_token(item):
            raise ConfigurationError(
                f"requires_step_up({option}=…): {item!r} must be a non-empty string of "
                "printable ASCII without spaces, double quotes or backslashes"
            )
    return tuple(dict.fromkeys(value))


class StepUpRequirement(Requirement):
    """The token's login must be strong enough and recent enough.

    - ``acr_values``: the ``acr`` claim must be one of them (exact string match), listed in
      order of preference; the refusal names them all.
    - ``max_age``: ``auth_time`` must be at most this many seconds old (plus the
      verifier's leeway) on the verifier's clock; a token without ``auth_time``, or with one
      further in the future than the leeway, is refused.
    - ``amr``: every one of these methods must be in the ``amr`` claim (a JSON array of
      strings). The challenge cannot name them (RFC 9470 has no ``amr`` parameter), so
      pair them with ``acr_values`` naming the context whose login uses them; ``amr``
      alone logs a WARNING on ``claimguard`` when declared.

    At least one of them must be given. Each is validated when the requirement is built.
    """

    __slots__ = ("acr_values", "amr", "max_age")

    def __init__(
        self,
        *,
        acr_values: Sequence[str] = (),
        max_age: int | None = None,
        amr: Sequence[str] = (),
    ) -> None:
        self.acr_values = _values(acr_values, "acr_values")
        self.amr = _values(amr, "amr")
        if max_age is not None and (
            isinstance(max_age, bool) or not isinstance(max_age, int) or max_age < 0
        ):
            raise ConfigurationError(
                f"requires_step_up(max_age={max_age!r}): give a whole number of seconds, 0 or more"
            )
        self.max_age = max_age
        if not self.acr_values and max_age is None and not self.amr:
            raise ConfigurationError(
                "requires_step_up() needs acr_values=, max_age= or amr= (or several)"
            )
        if self.amr and not self.acr_values:
            # RFC 9470 §3 has no amr challenge parameter: a refused client has nothing to
            # ask the authorization server for, so the retry would come back just as weak.
            _setup_logger.warning(
                "requires_step_up(amr=%r) has no acr_values: a refused client cannot ask the "
                "authorization server for these methods (RFC 9470 has no amr parameter); "
                "pair amr with acr_values=[the ACR whose login uses them, such as the "
                "multi-factor policy URI]",
                list(self.amr),
            )
        # Nothing here can be granted by a scope: step-up is asked of the login, not the client.
        self.scopes = ()

    def __repr__(self) -> str:
        return (
            f"StepUpRequirement(acr_values={self.acr_values!r}, max_age={self.max_age!r}, "
            f"amr={self.amr!r})"
        )

    def check(self, claims: Claims, time: TokenTime = SYSTEM_TIME) -> None:
        # The descriptions say what is required, never what the token holds.
        if self.acr_values:
            acr = claims.get("acr")
            if acr is None:
                self._refuse("acr_missing", "The token does not say how the user logged in (acr).")
            if not isinstance(acr, str) or acr not in self.acr_values:
                self._refuse(
                    "acr_not_accepted",
                    "The user must log in with a stronger authentication context (acr).",
                )
        if self.max_age is not None:
            self._check_auth_time(claims.get("auth_time"), time)
        if self.amr:
            amr = claims.get("amr")
            if not isinstance(amr, list) or not all(isinstance(m, str) for m in amr):
                self._refuse(
                    "amr_missing", "The token does not list the authentication methods (amr)."
                )
            missing = [method for method in self.amr if method not in amr]
            if missing:
                self._refuse(
                    "amr_insufficient",
                    "The user must log in with the authentication methods "
                    f"{', '.join(map(repr, missing))}.",
                )

    def _check_auth_time(self, auth_time: object, time: TokenTime) -> None:
        if (
            not isinstance(auth_time, int | float)
            or isinstance(auth_time, bool)
            or not math.isfinite(auth_time)
        ):
            # OpenID Connect Core §2: a JSON number of seconds since the epoch.
            self._refuse(
                "auth_time_missing", "The token does not say when the user logged in (auth_time)."
            )
        max_age = self.max_age or 0
        now = time.now()
        if auth_time > now + time.leeway_seconds:
            self._refuse(
                "auth_time_in_future",
                "The token's login time (auth_time) is in the future; the user must log in again.",
            )
        if now - auth_time > max_age + time.leeway_seconds:
            self._refuse(
                "auth_time_too_old",
                f"The user must have logged in within the last {max_age} seconds.",
            )

    def _refuse(self, cause: str, description: str) -> NoReturn:
        raise InsufficientUserAuthentication(
            description, cause=cause, acr_values=self.acr_values, max_age=self.max_age
        )
