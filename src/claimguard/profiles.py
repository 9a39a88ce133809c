"""Provider profiles: where each provider's tokens carry scopes, roles and groups.

Name one with ``profile="auth0"`` (``"okta"``, ``"entra"``, ``"keycloak"``, ``"cognito"``,
``"firebase"``) on :class:`~claimguard.TokenVerifier` or :class:`~claimguard.IssuerConfig`,
or pass an instance of one of these classes to set its options (for example
``EntraProfile(allow_v1=True)`` or ``KeycloakProfile(client="shop-api")``).
:class:`~claimguard.ClaimProfile` maps any other provider's claims.
"""

from .verification._profile import ClaimProfile
from .verification._providers import (
    Auth0Profile,
    CognitoProfile,
    EntraProfile,
    FirebaseProfile,
    KeycloakProfile,
    OktaProfile,
)

__all__ = [
    "Auth0Profile",
    "ClaimProfile",
    "CognitoProfile",
    "EntraProfile",
    "FirebaseProfile",
    "KeycloakProfile",
    "OktaProfile",
]
