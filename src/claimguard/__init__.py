"""claimguard: trust the claims inside access tokens, in any ASGI app.

Mount :class:`ClaimGuardMiddleware` with a :class:`TokenVerifier`, then guard endpoints
with :func:`requires_claim`, :func:`requires_scope`, :func:`claim_check` or
:func:`requires_step_up`.
"""

from ._claims import Claims, Namespaces
from ._clock import Clock, SystemClock
from ._decorators import claim_check, requires_claim, requires_scope, requires_step_up
from ._errors import (
    ClaimGuardError,
    ConfigurationError,
    InsufficientClaims,
    InsufficientUserAuthentication,
    InvalidDPoPProof,
    InvalidRequest,
    InvalidToken,
    KeySetUnavailable,
    ReplayStoreUnavailable,
    UnavailableCause,
    UseDPoPNonce,
)
from ._health import VerifierHealth
from ._issuerconfig import IssuerConfig, IssuerResolver
from ._jwks import KeySetState
from ._middleware import ClaimGuardMiddleware
from ._profile import ClaimProfile
from ._resource import ProtectedResource
from ._user import ClaimsUser
from ._verifier import TokenVerifier
from ._version import __version__

__all__ = [
    "ClaimGuardError",
    "ClaimGuardMiddleware",
    "ClaimProfile",
    "Claims",
    "ClaimsUser",
    "Clock",
    "ConfigurationError",
    "InsufficientClaims",
    "InsufficientUserAuthentication",
    "InvalidDPoPProof",
    "InvalidRequest",
    "InvalidToken",
    "IssuerConfig",
    "IssuerResolver",
    "KeySetState",
    "KeySetUnavailable",
    "Namespaces",
    "ProtectedResource",
    "ReplayStoreUnavailable",
    "SystemClock",
    "TokenVerifier",
    "UnavailableCause",
    "UseDPoPNonce",
    "VerifierHealth",
    "__version__",
    "claim_check",
    "requires_claim",
    "requires_scope",
    "requires_step_up",
]
