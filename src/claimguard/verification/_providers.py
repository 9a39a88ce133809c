"""The providers' profiles: Auth0, Okta, Keycloak and Amazon Cognito here, Microsoft Entra
ID in :mod:`claimguard.verification._entra` and Firebase in
:mod:`claimguard.verification._firebase`, each a :class:`ClaimProfile` with that provider's
claim places and checks, and the names they go by.

Roles become ``role:<name>`` scopes and groups ``group:<name>`` (Keycloak's roles of the
API's own client ``client-role:<name>``); see :mod:`claimguard.verification._profile` for why these
cannot be confused with scope words.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from .._errors import ConfigurationError, InvalidToken
from ._entra import EntraProfile
from ._firebase import FirebaseProfile
from ._profile import DEFAULT_PROFILE, ClaimProfile, Path

if TYPE_CHECKING:
    from ._claimchecks import ClaimChecks

__all__ = [
    "Auth0Profile",
    "CognitoProfile",
    "EntraProfile",
    "FirebaseProfile",
    "KeycloakProfile",
    "OktaProfile",
    "resolve_profile",
]


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

    def __post_init__(self) -> None:
        clients = (self.client,) if isinstance(self.client, str) else self.client
        if clients is not None and (
            not isinstance(clients, Sequence) or not all(isinstance(c, str) and c for c in clients)
        ):
            raise ConfigurationError(
                f"profile keycloak: client={self.client!r} must be a client id (or a sequence "
                "of them), each a non-empty string; leave it out to use the configured audiences."
            )
        super().__post_init__()

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
                "The token is not a Keycloak access token (its typ is not 'Bearer'): send the "
                "access token, not the ID or refresh token.",
            )
        aud = payload.get("aud")
        try:
            checks.check_audience(aud)
        except InvalidToken as exc:
            if exc.code == "wrong_audience" and aud in ("account", ["account"]):
                raise InvalidToken(
                    "wrong_audience",
                    "The token's only audience is Keycloak's 'account' client, not this API: "
                    "add an audience mapper for this API to the client's scopes in Keycloak.",
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
                f"The token's token_use must be 'access': this token is {what}; send the "
                "access token.",
            )
        # Cognito access tokens never carry `aud`: one that does was made for some other
        # API (an RFC 9068 token naming the same client, say) and is not Cognito's.
        if "aud" in payload:
            raise InvalidToken(
                "wrong_token_use",
                "The token carries 'aud', which Cognito access tokens never do: it was "
                "issued for another kind of API.",
            )
        client_id = payload.get("client_id")
        if client_id is None:
            raise InvalidToken("missing_claim", "The token has no 'client_id' claim.")
        if client_id.__class__ is not str or client_id not in checks.audiences:
            raise InvalidToken(
                "wrong_audience", "The token's client_id is not one this API accepts."
            )
        self.check_client(payload)


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
