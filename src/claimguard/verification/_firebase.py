"""``FirebaseProfile``: Firebase / Google Identity Platform ID tokens used as bearer
tokens."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._errors import ConfigurationError, InvalidToken
from ._profile import ClaimProfile

if TYPE_CHECKING:
    from ._claimchecks import ClaimChecks
    from ._claims import Namespaces

__all__ = ["FIREBASE_ISSUER_PREFIX", "FIREBASE_JWKS_URI", "FirebaseProfile"]

_NUMBER_TYPES = (int, float)

FIREBASE_ISSUER_PREFIX = "https://securetoken.google.com/"
FIREBASE_JWKS_URI = (
    "https://www.googleapis.com/service_accounts/v1/jwk/securetoken@system.gserviceaccount.com"
)
# Claims Firebase itself sets (its reserved names) and the OpenID Connect profile claims;
# every other top-level claim is a custom claim.
_FIREBASE_OWN = frozenset(
    {
        "acr",
        "amr",
        "at_hash",
        "aud",
        "auth_time",
        "azp",
        "cnf",
        "c_hash",
        "exp",
        "firebase",
        "iat",
        "iss",
        "jti",
        "nbf",
        "nonce",
        "sub",
        "user_id",
        "name",
        "given_name",
        "family_name",
        "middle_name",
        "nickname",
        "preferred_username",
        "profile",
        "picture",
        "website",
        "email",
        "email_verified",
        "gender",
        "birthdate",
        "zoneinfo",
        "locale",
        "phone_number",
        "phone_number_verified",
        "address",
        "updated_at",
    }
)


@dataclass(frozen=True, kw_only=True)
class FirebaseProfile(ClaimProfile):
    """Firebase / Google Identity Platform: ID tokens as bearer tokens. The audience is the
    project id and the issuer ``https://securetoken.google.com/<project>``; keys come from
    Google's JWKS; custom claims are at top level (no namespace needed); ``sub`` must not
    be empty and ``auth_time`` must be in the past."""

    name: str = "firebase"
    scope_lists: Sequence[str] = ()

    def bind(self, *, issuer: str, audiences: frozenset[str]) -> ClaimProfile:
        if len(audiences) != 1 or issuer != FIREBASE_ISSUER_PREFIX + next(iter(audiences)):
            raise ConfigurationError(
                "profile firebase: audience must be the project id and issuer "
                f"{FIREBASE_ISSUER_PREFIX}<project id>"
            )
        return self

    def default_jwks_uri(self, issuer: str) -> str | None:
        return FIREBASE_JWKS_URI

    def check_claims(self, payload: dict[str, Any], now: float, checks: ClaimChecks) -> None:
        aud = payload.get("aud")
        if aud.__class__ is str and aud not in checks.audiences:
            raise InvalidToken("wrong_audience", "The token is for another Firebase project.")
        checks.check_audience(aud)
        sub = payload.get("sub")
        if sub.__class__ is not str or not sub:
            raise InvalidToken("invalid_claim", "The token's 'sub' claim is missing or empty.")
        auth_time = payload.get("auth_time")
        if auth_time is None:
            raise InvalidToken("missing_claim", "The token has no 'auth_time' claim.")
        if auth_time.__class__ not in _NUMBER_TYPES:
            raise InvalidToken("invalid_claim", "The token's 'auth_time' claim is not a number.")
        if auth_time > now + checks.leeway_seconds:
            raise InvalidToken("not_yet_valid", "The token's auth_time is in the future.")
        self.check_client(payload)

    def wrong_issuer(self, iss: Any) -> InvalidToken:
        if isinstance(iss, str) and iss.startswith(FIREBASE_ISSUER_PREFIX):
            return InvalidToken(
                "wrong_issuer", "The token was issued for another Firebase project."
            )
        return super().wrong_issuer(iss)

    def custom(self, payload: Mapping[str, Any], namespaces: Namespaces) -> dict[str, Any]:
        if namespaces:
            return namespaces.split(payload)
        return {name: value for name, value in payload.items() if name not in _FIREBASE_OWN}
