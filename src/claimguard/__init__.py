"""claimguard: trust the claims inside access tokens, in any ASGI app.

Mount :class:`ClaimGuardMiddleware` with a :class:`TokenVerifier`, then guard endpoints
with :func:`requires_claim`, :func:`requires_scope`, :func:`claim_check` or
:func:`requires_step_up`.
"""

from ._clock import Clock, SystemClock
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
from ._version import __version__
from .asgi._decorators import claim_check, requires_claim, requires_scope, requires_step_up
from .asgi._middleware import ClaimGuardMiddleware
from .asgi._resource import ProtectedResource
from .asgi._user import ClaimsUser
from .jose._jwks import KeySetState
from .verification._claims import Claims, Namespaces
from .verification._health import VerifierHealth
from .verification._issuerconfig import IssuerConfig, IssuerResolver
from .verification._profile import ClaimProfile
from .verification._verifier import TokenVerifier

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
