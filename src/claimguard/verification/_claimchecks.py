"""The payload's registered claims, checked once the signature holds (RFC 7519 §4.1).

``iss`` by exact string, ``aud`` containing a configured audience, ``exp`` required,
``nbf`` and ``iat`` honoured, every date an exact JSON number, with one leeway and an
optional maximum token age; the issuer's :class:`~claimguard.ClaimProfile` checks the
audience and adds its provider's rules. One small method per rule, as the verifier's hot path calls
them; the verified-token cache re-applies the time rules on every hit.
"""

from __future__ import annotations

from itertools import repeat
from typing import Any, NoReturn, cast

from .._errors import InvalidToken
from ._profile import DEFAULT_PROFILE, ClaimProfile

__all__ = ["ClaimChecks"]

_NUMBER_TYPES = frozenset({int, float})


def _refuse_numeric_date(name: str) -> NoReturn:
    # RFC 7519 §2 NumericDate is a JSON number: bools, strings and null are refused.
    # Non-finite numbers never get this far: the JSON decoder refuses them.
    raise InvalidToken("invalid_claim", f"The token's '{name}' claim is not a number.")


class ClaimChecks:
    """The rules for ``iss``, ``aud``, ``exp``, ``nbf``, ``iat`` and ``sub`` of one issuer."""

    __slots__ = (
        "audiences",
        "issuer",
        "leeway_seconds",
        "max_token_age_seconds",
        "profile",
        "profile_checks",
    )

    def __init__(
        self,
        *,
        issuer: str,
        audiences: frozenset[str],
        leeway_seconds: float,
        max_token_age_seconds: float | None,
        profile: ClaimProfile = DEFAULT_PROFILE,
    ) -> None:
        self.issuer = issuer
        self.audiences = audiences
        self.leeway_seconds = leeway_seconds
        self.max_token_age_seconds = max_token_age_seconds
        self.profile = profile
        # Without checks of its own, a profile costs the hot path nothing.
        plain = type(profile).check_claims is ClaimProfile.check_claims and not profile.client_ids
        self.profile_checks = None if plain else profile.check_claims

    def check(
        self, payload: dict[str, Any], now: float
    ) -> tuple[float, float | None, float | None]:
        # Exact string comparison (RFC 7519 §4.1.1, OpenID Connect Core §3.1.3.7).
        iss = payload.get("iss")
        if iss != self.issuer:
            raise self.profile.wrong_issuer(iss)
        profile_checks = self.profile_checks
        if profile_checks is None:
            self.check_audience(payload.get("aud"))
        else:
            profile_checks(payload, now, self)
        # Exact types: bool is not a number here, and null is not "absent".
        exp: Any = payload.get("exp")
        if exp.__class__ not in _NUMBER_TYPES:
            if exp is None and "exp" not in payload:
                raise InvalidToken("missing_claim", "The token has no 'exp' claim.")
            _refuse_numeric_date("exp")
        nbf: Any = payload.get("nbf")
        if nbf.__class__ not in _NUMBER_TYPES and (nbf is not None or "nbf" in payload):
            _refuse_numeric_date("nbf")
        iat: Any = payload.get("iat")
        if iat.__class__ not in _NUMBER_TYPES:
            if iat is not None or "iat" in payload:
                _refuse_numeric_date("iat")
            if self.max_token_age_seconds is not None:
                raise InvalidToken("missing_claim", "The token has no 'iat' claim.")
        sub = payload.get("sub")
        if sub is not None and sub.__class__ is not str:
            raise InvalidToken("invalid_claim", "The token's 'sub' claim is not a string.")
        dates = cast(tuple[float, float | None, float | None], (exp, nbf, iat))
        self.check_times(*dates, now)
        return dates

    def check_audience(self, aud: Any) -> None:
        if aud.__class__ is str:
            if aud in self.audiences:
                return
        elif isinstance(aud, list) and aud and all(map(isinstance, aud, repeat(str))):
            if not self.audiences.isdisjoint(aud):
                return
        elif aud is None:
            raise InvalidToken("missing_claim", "The token has no 'aud' claim.")
        else:
            raise InvalidToken(
                "invalid_claim", "The token's 'aud' claim is not a string or list of strings."
            )
        raise InvalidToken("wrong_audience", "The token is not meant for this API.")

    def check_times(self, exp: float, nbf: float | None, iat: float | None, now: float) -> None:
        leeway = self.leeway_seconds
        if now >= exp + leeway:
            raise InvalidToken("expired", "The token has expired.")
        if nbf is not None and now + leeway < nbf:
            raise InvalidToken("not_yet_valid", "The token is not valid yet.")
        if iat is not None:
            if now + leeway < iat:
                raise InvalidToken("not_yet_valid", "The token was issued in the future.")
            max_age = self.max_token_age_seconds
            if max_age is not None and now - iat >= max_age + leeway:
                raise InvalidToken("too_old", "The token is older than this API accepts.")
