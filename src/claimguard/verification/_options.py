"""Checking :class:`~claimguard.TokenVerifier`'s options when it is built, not on the first
request: each bad value is a :class:`ConfigurationError` naming the option."""

from __future__ import annotations

from collections.abc import Sequence

from .._errors import ConfigurationError
from ..jose._jwk import SUPPORTED_ALGORITHMS

__all__ = [
    "DEFAULT_ALGORITHMS",
    "MAX_LEEWAY_SECONDS",
    "check_algorithms",
    "check_audience",
    "check_jwks_options",
]

DEFAULT_ALGORITHMS = ("RS256", "PS256", "ES256", "EdDSA", "Ed25519")
MAX_LEEWAY_SECONDS = 300


def check_audience(audience: str | Sequence[str]) -> frozenset[str]:
    """The accepted audiences: one non-empty string, or several."""
    audiences = (audience,) if isinstance(audience, str) else tuple(audience)
    if not audiences or not all(isinstance(a, str) and a for a in audiences):
        raise ConfigurationError("audience must be a non-empty string or strings")
    return frozenset(audiences)


def check_algorithms(algorithms: Sequence[str]) -> frozenset[str]:
    """The algorithm allowlist; ``none`` and HMAC can never be on it."""
    if isinstance(algorithms, str):
        raise ConfigurationError("algorithms must be a sequence of names, not one string")
    chosen = frozenset(algorithms)
    if not chosen:
        raise ConfigurationError("algorithms must name at least one algorithm")
    for alg in chosen:
        if alg.lower() == "none" or alg.upper().startswith("HS"):
            raise ConfigurationError(
                f"algorithm {alg!r} cannot be used: tokens are checked against public keys "
                "from a JWKS (RFC 8725 §2.1, §3.1)"
            )
        if alg not in SUPPORTED_ALGORITHMS:
            raise ConfigurationError(f"unsupported algorithm {alg!r}")
    return chosen


def check_jwks_options(
    *,
    max_age_seconds: float,
    refresh_ahead_seconds: float,
    cooldown_seconds: float,
    stale_seconds: float,
    timeout_seconds: float,
    max_bytes: int,
) -> None:
    """The JWKS cache's rules (see :class:`~claimguard.jose._jwks.KeySet`), named as the
    verifier's ``jwks_*`` options."""
    for name, value in (
        ("jwks_max_age_seconds", max_age_seconds),
        ("jwks_cooldown_seconds", cooldown_seconds),
        ("jwks_timeout_seconds", timeout_seconds),
        ("jwks_max_bytes", max_bytes),
    ):
        if value <= 0:
            raise ConfigurationError(f"{name} must be positive")
    if not 0 <= refresh_ahead_seconds < max_age_seconds:
        raise ConfigurationError("jwks_refresh_ahead_seconds must be below jwks_max_age_seconds")
    if stale_seconds < 0:
        raise ConfigurationError("jwks_stale_seconds must not be negative")
