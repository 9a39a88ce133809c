"""What an endpoint requires of verified claims, and the scopes a denial names.

Each requirement is validated when it is built (at import time of the endpoint) and
checked per request with :meth:`Requirement.check`, which raises
:class:`InsufficientClaims` naming the missing scope, in the vocabulary of the one
claims-to-scopes rule (:mod:`claimguard.verification._claims`): ``claim:premium`` for a true claim,
``claim:tier:gold`` for a value, ``claim:roles:admin`` for a list item.

A claim requirement reads the claim itself, never the request's scope words: a scope a
client requested is not a claim the issuer asserted.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from .._clock import SYSTEM_TIME, TokenTime
from .._errors import ConfigurationError, InsufficientClaims
from ..verification._claims import CLAIM_SCOPE_PREFIX, Claims
from ._challenge import is_scope_token

__all__ = ["UNSET", "ClaimRequirement", "PredicateRequirement", "Requirement", "ScopeRequirement"]

Scalar = str | int | float | bool
#: The default of ``equals``/``includes``: not given (``None`` is a value a claim may hold).
UNSET: Any = object()


class Requirement:
    """Base of all requirements: ``scopes`` are what a denial names in ``scope="…"``."""

    __slots__ = ("scopes",)

    scopes: tuple[str, ...]

    def check(self, claims: Claims, time: TokenTime = SYSTEM_TIME) -> None:
        """Return if ``claims`` satisfy the requirement, else raise :class:`InsufficientClaims`
        (or, for a step-up requirement, :class:`InsufficientUserAuthentication`). ``time`` is
        the verifier's clock and leeway, for requirements on the token's times."""
        raise NotImplementedError


class ClaimRequirement(Requirement):
    """A claim, looked up by :meth:`Claims.lookup` (short name under the namespaces, or
    full name; a plain name only where no namespace is configured or the verifier falls
    back to plain claims).

    Without options the claim must be JSON ``true`` — the same rule that turns it into
    the scope ``claim:<name>``; a string ``"false"``, an object or ``[false]`` is not
    true. ``equals`` requires that exact value (``true`` never equals ``1``); ``includes``
    requires a list claim holding the item, or a space-separated string claim holding the
    word.
    """

    __slots__ = ("equals", "includes", "name")

    def __init__(self, name: str, *, equals: Scalar = UNSET, includes: Scalar = UNSET) -> None:
        if not isinstance(name, str) or not is_scope_token(name):
            raise ConfigurationError(
                f"claim name {name!r} must be a non-empty string without spaces"
            )
        if name.startswith(CLAIM_SCOPE_PREFIX):
            raise ConfigurationError(
                f"requires_claim({name!r}): name the claim, not its scope: "
                f"requires_claim({name[len(CLAIM_SCOPE_PREFIX) :]!r})"
            )
        if equals is not UNSET and includes is not UNSET:
            raise ConfigurationError(
                f"requires_claim({name!r}): give equals= or includes=, not both"
            )
        expected = equals if equals is not UNSET else includes
        if expected is not UNSET:
            _check_scalar(name, expected)
        self.name = name
        self.equals = equals
        self.includes = includes
        scope = CLAIM_SCOPE_PREFIX + name
        if expected is UNSET or expected is True:
            self.scopes = (scope,)
        else:
            self.scopes = (f"{scope}:{_render(expected)}",)

    def __repr__(self) -> str:
        options = ""
        if self.equals is not UNSET:
            options = f", equals={self.equals!r}"
        elif self.includes is not UNSET:
            options = f", includes={self.includes!r}"
        return f"ClaimRequirement({self.name!r}{options})"

    def check(self, claims: Claims, time: TokenTime = SYSTEM_TIME) -> None:
        found, value = claims.lookup(self.name)
        if not found:
            raise InsufficientClaims(
                f"The token lacks the claim {self.name!r}.", required=self.scopes
            )
        if self.equals is not UNSET:
            ok = _same(value, self.equals)
        elif self.includes is not UNSET:
            ok = _includes(value, self.includes)
        else:
            ok = value is True
        if not ok:
            # Never echo the token's value: only what was required.
            raise InsufficientClaims(
                f"The token does not grant {self.scopes[0]!r}.", required=self.scopes
            )


class ScopeRequirement(Requirement):
    """Every one of ``scopes`` must be among the request's scopes (:attr:`Claims.scopes`)."""

    __slots__ = ()

    def __init__(self, *scopes: str) -> None:
        if not scopes:
            raise ConfigurationError("requires_scope() needs at least one scope")
        for scope in scopes:
            if not isinstance(scope, str) or not is_scope_token(scope):
                raise ConfigurationError(
                    f"scope {scope!r} must be a non-empty string without spaces"
                )
        self.scopes = tuple(dict.fromkeys(scopes))

    def __repr__(self) -> str:
        return f"ScopeRequirement({', '.join(map(repr, self.scopes))})"

    def check(self, claims: Claims, time: TokenTime = SYSTEM_TIME) -> None:
        missing = tuple(s for s in self.scopes if s not in claims.scopes)
        if missing:
            raise InsufficientClaims(
                f"The token lacks the scope{'s' if len(missing) > 1 else ''} "
                f"{', '.join(map(repr, missing))}.",
                required=missing,
            )


class PredicateRequirement(Requirement):
    """``predicate(claims)`` must return true.

    A predicate that raises ``LookupError``, ``TypeError``, ``ValueError`` or
    ``AttributeError`` (a claim missing or of an unexpected shape) denies the request
    rather than failing it with a server error.
    """

    __slots__ = ("description", "predicate")

    def __init__(
        self,
        predicate: Callable[[Claims], bool],
        *,
        description: str = "The token's claims do not allow this request.",
        scopes: tuple[str, ...] = (),
    ) -> None:
        if not callable(predicate):
            raise ConfigurationError("claim_check() needs a callable predicate")
        if not isinstance(description, str) or not description:
            raise ConfigurationError("claim_check() description must be a non-empty string")
        for scope in scopes:
            if not isinstance(scope, str) or not is_scope_token(scope):
                raise ConfigurationError(
                    f"scope {scope!r} must be a non-empty string without spaces"
                )
        self.predicate = predicate
        self.description = description
        self.scopes = tuple(scopes)

    def __repr__(self) -> str:
        return f"PredicateRequirement({self.predicate!r})"

    def check(self, claims: Claims, time: TokenTime = SYSTEM_TIME) -> None:
        try:
            ok = self.predicate(claims)
        except (LookupError, TypeError, ValueError, AttributeError):
            ok = False
        if ok is not True:
            raise InsufficientClaims(self.description, required=self.scopes)


def _check_scalar(name: str, value: object) -> None:
    if isinstance(value, str):
        if not is_scope_token(value):
            raise ConfigurationError(
                f"requires_claim({name!r}): the value {value!r} must be a non-empty string "
                "without spaces or quotes"
            )
    elif not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigurationError(
            f"requires_claim({name!r}): the value must be a string, finite number or boolean"
        )


def _render(value: Scalar) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _same(actual: object, expected: Scalar) -> bool:
    # JSON true and 1 are different values, though Python says True == 1.
    if isinstance(actual, bool) or isinstance(expected, bool):
        return type(actual) is type(expected) and actual == expected
    if isinstance(expected, str):
        return isinstance(actual, str) and actual == expected
    return isinstance(actual, (int, float)) and actual == expected


def _includes(actual: object, expected: Scalar) -> bool:
    if isinstance(actual, list):
        return any(_same(item, expected) for item in actual)
    if isinstance(actual, str) and isinstance(expected, str):
        return expected in actual.split()
    return False
