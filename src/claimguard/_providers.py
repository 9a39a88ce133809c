"""The providers' profiles: Auth0, Okta, Microsoft Entra ID, Keycloak, Amazon Cognito and
Firebase, each a :class:`ClaimProfile` with that provider's claim places and checks.

Roles become ``role:<name>`` scopes and groups ``group:<name>`` (Keycloak's roles of the
API's own client ``client-role:<name>``); see :mod:`claimguard._profile` for why these
cannot be confused with scope words.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ._errors import ConfigurationError, InvalidToken
from ._profile import DEFAULT_PROFILE, ClaimProfile, Path

if TYPE_CHECKING:
    from ._claimchecks import ClaimChecks
    from ._claims import Namespaces

__all__ = [
    "Auth0Profile",
    "CognitoProfile",
    "EntraProfile",
    "FirebaseProfile",
    "KeycloakProfile",
    "OktaProfile",
    "resolve_profile",
]

_NUMBER_TYPES = (int, float)


@dataclass(frozen=True, kw_only=True)
class Auth0Profile(ClaimProfile):
    """Auth0: ``scope``, RBAC ``permissions``, namespaced custom claims; ``azp`` is the
    client. Auth0's ``iss`` ends with ``/``, so the configured issuer must too."""

    name: str = "auth0"
    client_claim: str | None = "azp"

    def bind(self, *, issuer: str, audiences: frozenset[str]) -> ClaimProfile:
        if not issuer.endswith("/"):
            raise ConfigurationError(
                f"profile auth0: issuer {issuer!r} must end with '/', as Auth0's iss does"
            )
        return self


@dataclass(frozen=True, kw_only=True)
class OktaProfile(ClaimProfile):
    """Okta: ``scp`` (a JSON list) as scopes, ``groups`` as ``group:<name>``; ``cid`` is
    the client and ``uid`` the user's id (both stay readable in the claims)."""

    name: str = "okta"
    scope_strings: Sequence[str] = ()
    scope_lists: Sequence[str] = ("scp",)
    prefixed: Mapping[str, str] = field(default_factory=lambda: {"groups": "group:"})
    client_claim: str | None = "cid"


_ENTRA_V1_HOST = "sts.windows.net"


@dataclass(frozen=True, kw_only=True)
class EntraProfile(ClaimProfile):
    """Microsoft Entra ID v2: ``scp`` (space-separated delegated permissions) as scopes,
    ``roles`` (app roles) as ``role:<name>``, ``azp`` the client; ``tid`` must be the
    issuer's tenant. v1 tokens (``ver`` 1.0, issuer ``https://sts.windows.net/{tid}/``)
    are refused (``entra_v1_token``) unless ``allow_v1=True``."""

    name: str = "entra"
    scope_strings: Sequence[str] = ("scp",)
    scope_lists: Sequence[str] = ()
    prefixed: Mapping[str, str] = field(default_factory=lambda: {"roles": "role:"})
    client_claim: str | None = "azp"
    allow_v1: bool = False
    tenant: str | None = None

    def bind(self, *, issuer: str, audiences: frozenset[str]) -> ClaimProfile:
        if not isinstance(self.allow_v1, bool):
            raise ConfigurationError("profile entra: allow_v1 must be True or False")
        return replace(self, tenant=_entra_tenant(issuer))

    def sibling_issuers(self, issuer: str) -> dict[str, InvalidToken | None]:
        tenant = _entra_tenant(issuer)
        if tenant is None or urlsplit(issuer).hostname != "login.microsoftonline.com":
            return {}
        v1 = f"https://{_ENTRA_V1_HOST}/{tenant}/"
        return {v1: None if self.allow_v1 else _v1_refusal()}

    def sibling_jwks_uri(self, issuer: str, sibling: str) -> str | None:
        # The v1 issuer's keys, published beside the v2 ones by the same host.
        parts = urlsplit(issuer)
        return f"{parts.scheme}://{parts.netloc}/{_entra_tenant(issuer)}/discovery/keys"

    def check_claims(self, payload: dict[str, Any], now: float, checks: ClaimChecks) -> None:
        if payload.get("ver") == "1.0" and not self.allow_v1:
            raise _v1_refusal()
        checks.check_audience(payload.get("aud"))
        tid = payload.get("tid")
        if self.tenant is not None and tid != self.tenant:
            if tid is None:
                raise InvalidToken("missing_claim", "token has no 'tid' claim")
            raise InvalidToken("wrong_tenant", "token's tid is not its issuer's tenant")
        self.check_client(payload)

    def wrong_issuer(self, iss: Any) -> InvalidToken:
        if isinstance(iss, str) and urlsplit(iss).hostname == _ENTRA_V1_HOST:
            return _v1_refusal()
        return super().wrong_issuer(iss)


def _entra_tenant(issuer: str) -> str | None:
    """The tenant id of ``https://login.microsoftonline.com/{tid}/v2.0`` (or of a v1
    issuer ``https://sts.windows.net/{tid}/``)."""
    segments = urlsplit(issuer).path.strip("/").split("/")
    if len(segments) == 2 and segments[1] == "v2.0" and segments[0]:
        return segments[0]
    if len(segments) == 1 and urlsplit(issuer).hostname == _ENTRA_V1_HOST and segments[0]:
        return segments[0]
    return None


def _v1_refusal() -> InvalidToken:
    return InvalidToken(
        "entra_v1_token",
        "token is a Microsoft Entra ID v1 token (ver 1.0, issuer sts.windows.net): set "
        "accessTokenAcceptedVersion to 2 in the API's app manifest, or accept v1 tokens "
        "with EntraProfile(allow_v1=True)",
    )


@dataclass(frozen=True, kw_only=True)
class KeycloakProfile(ClaimProfile):
    """Keycloak: ``scope``, realm roles (``realm_access.roles``) as ``role:<name>`` and
    the roles of ``client`` (``resource_access.<client>.roles``) as
    ``client-role:<name>``; ``client`` defaults to the configured audiences. Access tokens
    carry ``typ`` ``Bearer``; a token with another ``typ`` (an ID token's ``ID``) or none
    is refused."""

    name: str = "keycloak"
    scope_lists: Sequence[str] = ()
    prefixed: Mapping[str, str] = field(default_factory=lambda: {"realm_access.roles": "role:"})
    client_claim: str | None = "azp"
    client: str | Sequence[str] | None = None

    def _more_prefixed(self) -> tuple[tuple[Path, str], ...]:
        clients = (self.client,) if isinstance(self.client, str) else tuple(self.client or ())
        # Client ids may hold dots, so the path is built by segments, not from a dotted string.
        return tuple((("resource_access", c, "roles"), "client-role:") for c in clients)

    def bind(self, *, issuer: str, audiences: frozenset[str]) -> ClaimProfile:
        if self.client is not None:
            return self
        return replace(self, client=tuple(sorted(audiences - {"account"})))

    def check_claims(self, payload: dict[str, Any], now: float, checks: ClaimChecks) -> None:
        # Keycloak puts typ "Bearer" in every access token (lightweight ones too); "ID",
        # "Refresh", "Logout" name its other tokens, so a token without it is not one.
        if payload.get("typ") != "Bearer":
            raise InvalidToken(
                "wrong_token_use",
                "token is not a Keycloak access token (its typ is not 'Bearer'): send the "
                "access token, not the ID or refresh token",
            )
        aud = payload.get("aud")
        try:
            checks.check_audience(aud)
        except InvalidToken as exc:
            if exc.code == "wrong_audience" and aud in ("account", ["account"]):
                raise InvalidToken(
                    "wrong_audience",
                    "token's only audience is Keycloak's 'account' client, not this API: "
                    "add an audience mapper for this API to the client's scopes in Keycloak",
                ) from None
            raise
        self.check_client(payload)


@dataclass(frozen=True, kw_only=True)
class CognitoProfile(ClaimProfile):
    """Amazon Cognito: access tokens have no ``aud``; their ``client_id`` must be one of
    the configured audiences (the app client ids); ``token_use`` must be ``access``;
    ``scope`` gives scopes and ``cognito:groups`` ``role:<name>``."""

    name: str = "cognito"
    scope_lists: Sequence[str] = ()
    prefixed: Mapping[str, str] = field(default_factory=lambda: {"cognito:groups": "role:"})
    client_claim: str | None = "client_id"

    def check_claims(self, payload: dict[str, Any], now: float, checks: ClaimChecks) -> None:
        token_use = payload.get("token_use")
        if token_use != "access":
            what = "an ID token" if token_use == "id" else "not an access token"
            raise InvalidToken(
                "wrong_token_use",
                f"token_use must be 'access': this token is {what}; send the access token",
            )
        client_id = payload.get("client_id")
        if client_id is None:
            raise InvalidToken("missing_claim", "token has no 'client_id' claim")
        if client_id.__class__ is not str or client_id not in checks.audiences:
            raise InvalidToken("wrong_audience", "token's client_id is not one this API accepts")
        self.check_client(payload)


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
            raise InvalidToken("wrong_audience", "token is for another Firebase project")
        checks.check_audience(aud)
        sub = payload.get("sub")
        if sub.__class__ is not str or not sub:
            raise InvalidToken("invalid_claim", "'sub' claim is missing or empty")
        auth_time = payload.get("auth_time")
        if auth_time is None:
            raise InvalidToken("missing_claim", "token has no 'auth_time' claim")
        if auth_time.__class__ not in _NUMBER_TYPES:
            raise InvalidToken("invalid_claim", "'auth_time' claim is not a number")
        if auth_time > now + checks.leeway_seconds:
            raise InvalidToken("not_yet_valid", "token's auth_time is in the future")
        self.check_client(payload)

    def wrong_issuer(self, iss: Any) -> InvalidToken:
        if isinstance(iss, str) and iss.startswith(FIREBASE_ISSUER_PREFIX):
            return InvalidToken("wrong_issuer", "token was issued for another Firebase project")
        return super().wrong_issuer(iss)

    def custom(self, payload: Mapping[str, Any], namespaces: Namespaces) -> dict[str, Any]:
        if namespaces:
            return namespaces.split(payload)
        return {name: value for name, value in payload.items() if name not in _FIREBASE_OWN}


PROFILES: dict[str, ClaimProfile] = {
    profile.name: profile
    for profile in (
        Auth0Profile(),
        OktaProfile(),
        EntraProfile(),
        KeycloakProfile(),
        CognitoProfile(),
        FirebaseProfile(),
    )
}


def resolve_profile(profile: str | ClaimProfile | None) -> ClaimProfile:
    """The profile named by ``profile`` (``None``: claimguard's rule without a profile)."""
    if profile is None:
        return DEFAULT_PROFILE
    if isinstance(profile, ClaimProfile):
        return profile
    if isinstance(profile, str) and profile in PROFILES:
        return PROFILES[profile]
    names = ", ".join(map(repr, PROFILES))
    raise ConfigurationError(f"profile must be one of {names} or a ClaimProfile, not {profile!r}")
