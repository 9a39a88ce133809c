"""The claimguard exception tree.

Every error claimguard raises derives from one root and carries the data a caller
needs to answer the request: the HTTP status and the RFC 6750 §3.1 error code.

    ClaimGuardError
     ├── InvalidToken          401  invalid_token       (bad, expired, tampered token)
     ├── InvalidDPoPProof      401  invalid_dpop_proof  (DPoP proof missing or wrong, RFC 9449 §7.1)
     │    └── UseDPoPNonce     401  use_dpop_nonce      (proof lacks the current nonce; DPoP-Nonce)
     ├── InvalidRequest        400  invalid_request     (malformed Authorization or DPoP header)
     ├── InsufficientClaims    403  insufficient_scope  (valid token, missing claim/scope)
     ├── InsufficientUserAuthentication
     │                         401  insufficient_user_authentication
     │                                                  (login too weak or too old, RFC 9470)
     ├── KeySetUnavailable     503  (none)              (no key can be had; Retry-After)
     ├── ReplayStoreUnavailable 503 (none)              (DPoP replay store down; Retry-After)
     └── ConfigurationError    -    (none)              (at construction, or preflight())

Foreign exceptions (PyJWT, json, cryptography, httpx) are translated in exactly one
place each and chained with ``from exc``; they never escape the public API.
"""

from __future__ import annotations

from typing import Literal

__all__ = [
    "ClaimGuardError",
    "ConfigurationError",
    "InsufficientClaims",
    "InsufficientUserAuthentication",
    "InvalidDPoPProof",
    "InvalidRequest",
    "InvalidToken",
    "KeySetUnavailable",
    "ReplayStoreUnavailable",
    "UnavailableCause",
    "UseDPoPNonce",
]

UnavailableCause = Literal["unreachable", "bad_discovery", "no_usable_keys"]
"""Why no signing key can be had: the issuer does not answer (a network error, a timeout,
an HTTP 5xx), its discovery document is wrong (another issuer, no ``jwks_uri``, a 404 …),
or its JWKS holds no key claimguard can use (not JSON, no ``keys``, every key skipped)."""

_UNAVAILABLE: dict[str, str] = {
    "unreachable": "The issuer's signing keys cannot be fetched: the issuer does not answer.",
    "bad_discovery": (
        "The issuer's signing keys cannot be fetched: its discovery document is not usable."
    ),
    "no_usable_keys": "The issuer's signing keys cannot be fetched: it publishes no usable key.",
}


class ClaimGuardError(Exception):
    """Root of every claimguard error.

    ``status`` is the HTTP status a resource server answers with, ``error`` the
    RFC 6750 error code (``None`` where the RFC defines none) and ``description`` a
    human-readable sentence that never echoes unverified token content.
    """

    status: int = 500
    error: str | None = None
    #: The configured issuer whose keys and rules the token was checked against, set by
    #: :class:`~claimguard.TokenVerifier` once one was selected; ``None`` before that.
    issuer: str | None = None

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


class InvalidToken(ClaimGuardError):
    """The token could not be trusted: malformed, badly signed, expired, wrong audience …

    ``code`` is a stable machine-readable reason (for example ``"expired"``,
    ``"bad_signature"``, ``"alg_not_allowed"``) suitable for logs and metrics.
    """

    status = 401
    error = "invalid_token"

    def __init__(
        self, code: str, description: str, *, kid: str | None = None, detail: str | None = None
    ) -> None:
        super().__init__(description)
        self.code = code
        self.kid = kid
        #: More for the server log than ``description`` may say, or ``None``.
        self.detail = detail

    def __repr__(self) -> str:
        return f"InvalidToken(code={self.code!r}, description={self.description!r})"


class InvalidDPoPProof(ClaimGuardError):
    """The request's DPoP proof is missing or fails a check of RFC 9449 §4.3.

    ``code`` is the stable reason for logs and metrics (``"bad_typ"``, ``"htu_mismatch"``,
    ``"replayed"`` …); ``description`` never echoes the proof's content.
    """

    status = 401
    error = "invalid_dpop_proof"

    def __init__(self, code: str, description: str) -> None:
        super().__init__(description)
        self.code = code

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, description={self.description!r})"


class UseDPoPNonce(InvalidDPoPProof):
    """The proof does not carry a nonce this server issued recently (RFC 9449 §9).

    ``nonce`` is the one to use: it goes into the ``DPoP-Nonce`` response header, and the
    client retries with a new proof that carries it.
    """

    error = "use_dpop_nonce"

    def __init__(self, code: str, description: str, *, nonce: str) -> None:
        super().__init__(code, description)
        self.nonce = nonce


class InvalidRequest(ClaimGuardError):
    """The request itself is malformed (RFC 6750 §3.1 ``invalid_request``).

    ``code`` is the stable reason for logs (``"two_dpop_headers"`` …).
    """

    status = 400
    error = "invalid_request"

    def __init__(self, description: str, *, code: str = "invalid_request") -> None:
        super().__init__(description)
        self.code = code


class InsufficientClaims(ClaimGuardError):
    """A verified token lacks a claim or scope the endpoint requires.

    ``required`` lists the scopes (space-free tokens) the client would need; they go
    into the ``scope`` attribute of the ``WWW-Authenticate`` challenge.
    """

    status = 403
    error = "insufficient_scope"

    def __init__(self, description: str, *, required: tuple[str, ...] = ()) -> None:
        super().__init__(description)
        self.required = required


class InsufficientUserAuthentication(ClaimGuardError):
    """A verified token's login is not strong enough or not recent enough (RFC 9470 §3).

    ``acr_values`` (in order of preference) and ``max_age`` (seconds) are what the client
    must ask the authorization server for; they go into the ``WWW-Authenticate`` challenge
    and the JSON body, so the client can send the user back to log in again. ``cause`` is the
    stable reason for logs and metrics (for example ``"acr_not_accepted"``,
    ``"auth_time_too_old"``), never a value the token holds.
    """

    status = 401
    error = "insufficient_user_authentication"

    def __init__(
        self,
        description: str,
        *,
        cause: str,
        acr_values: tuple[str, ...] = (),
        max_age: int | None = None,
    ) -> None:
        super().__init__(description)
        self.cause = cause
        self.acr_values = acr_values
        self.max_age = max_age

    def __repr__(self) -> str:
        return (
            f"InsufficientUserAuthentication(cause={self.cause!r}, "
            f"acr_values={self.acr_values!r}, max_age={self.max_age!r})"
        )


class KeySetUnavailable(ClaimGuardError):
    """No signing key can be had right now (issuer unreachable, nothing cached).

    The token may be perfectly fine; the answer is 503 with ``Retry-After``. ``cause`` is
    the stable kind of failure (:data:`UnavailableCause`); ``description`` says it in words
    without any URL, fit for a response body; ``detail`` is the precise cause for logs
    (it names the issuer's URLs), or ``None``.
    """

    status = 503
    error = None

    def __init__(
        self,
        description: str,
        *,
        retry_after_seconds: int = 30,
        cause: UnavailableCause = "unreachable",
        detail: str | None = None,
    ) -> None:
        super().__init__(description)
        self.retry_after_seconds = retry_after_seconds
        self.cause: UnavailableCause = cause
        self.detail = detail

    @classmethod
    def because(
        cls, cause: UnavailableCause, *, retry_after_seconds: int, detail: str | None
    ) -> KeySetUnavailable:
        """The error for ``cause``, with its standard public description."""
        return cls(
            _UNAVAILABLE[cause],
            retry_after_seconds=retry_after_seconds,
            cause=cause,
            detail=detail,
        )


class ReplayStoreUnavailable(ClaimGuardError):
    """The DPoP replay store cannot answer (unreachable, or full of live entries).

    A proof whose ``jti`` cannot be recorded might be a replay, so the request fails
    closed: 503 with ``Retry-After`` (RFC 9449 §11.1). ``detail`` is the precise cause for
    logs (it may name the store's host), or ``None``.
    """

    status = 503
    error = None

    def __init__(
        self, description: str, *, retry_after_seconds: int = 5, detail: str | None = None
    ) -> None:
        super().__init__(description)
        self.retry_after_seconds = retry_after_seconds
        self.detail = detail


class ConfigurationError(ClaimGuardError):
    """An option is invalid; raised when the object is built, not on a request, and by
    :meth:`~claimguard.TokenVerifier.preflight` when the issuer's keys cannot be had."""
