"""``IssuerConfig``: one trusted issuer's rules, and the verifier's options that name them.

``TokenVerifier(issuer=..., audience=...)`` is the one-issuer shorthand for
``TokenVerifier(issuers=[IssuerConfig(issuer=..., audience=...)])``; the two spellings
cannot be mixed, so no option is silently ignored.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from .._errors import ConfigurationError
from ._options import DEFAULT_ALGORITHMS
from ._profile import ClaimProfile

__all__ = ["IssuerConfig", "IssuerResolver", "issuer_configs"]


@dataclass(frozen=True, slots=True, kw_only=True)
class IssuerConfig:
    """One issuer a :class:`~claimguard.TokenVerifier` trusts, with its own rules.

    ``issuer`` is the exact ``iss`` string; ``audience``, ``namespace``,
    ``fallback_to_plain_claims``, ``jwks_uri``, ``algorithms`` and ``profile`` mean what
    the verifier's options of the same names mean, for this issuer's tokens only.
    ``profile`` is ``"auth0"``, ``"okta"``, ``"entra"``, ``"keycloak"``, ``"cognito"``,
    ``"firebase"``, a :class:`~claimguard.ClaimProfile`, or ``None`` (``scope``,
    ``permissions`` and namespaced claims, as without profiles).

    The ``jwks_*`` caching rules, when given, replace the verifier's options of the same
    names for this issuer's key set only; ``None`` keeps the verifier's value.
    """

    issuer: str
    audience: str | Sequence[str]
    namespace: str | Sequence[str] | None = None
    fallback_to_plain_claims: bool = False
    jwks_uri: str | None = None
    algorithms: Sequence[str] = DEFAULT_ALGORITHMS
    profile: str | ClaimProfile | None = None
    jwks_max_age_seconds: float | None = None
    jwks_refresh_ahead_seconds: float | None = None
    jwks_cooldown_seconds: float | None = None
    jwks_stale_seconds: float | None = None
    jwks_timeout_seconds: float | None = None
    jwks_max_bytes: int | None = None


IssuerResolver = Callable[[str], Awaitable[IssuerConfig | None]]
"""An async callable from a token's (unverified) ``iss`` to its issuer's configuration,
or ``None`` to refuse the token."""


def issuer_configs(
    *,
    issuer: str | None,
    audience: str | Sequence[str] | None,
    namespace: str | Sequence[str] | None,
    fallback_to_plain_claims: bool,
    algorithms: Sequence[str] | None,
    jwks_uri: str | None,
    profile: str | ClaimProfile | None,
    issuers: Sequence[IssuerConfig] | None,
    issuer_resolver: IssuerResolver | None,
) -> list[IssuerConfig]:
    """The fixed issuers: ``issuer=`` and its options are the one-issuer shorthand."""
    if issuers is None and issuer_resolver is None:
        if issuer is None:
            raise ConfigurationError(
                "no issuer to trust: give issuer= (and audience=), issuers=[IssuerConfig(...)]"
                " or issuer_resolver="
            )
        if audience is None:
            raise ConfigurationError("audience must be a non-empty string or strings")
        return [
            IssuerConfig(
                issuer=issuer,
                audience=audience,
                namespace=namespace,
                fallback_to_plain_claims=fallback_to_plain_claims,
                jwks_uri=jwks_uri,
                algorithms=DEFAULT_ALGORITHMS if algorithms is None else algorithms,
                profile=profile,
            )
        ]
    shorthand = {
        "issuer": issuer,
        "audience": audience,
        "namespace": namespace,
        "algorithms": algorithms,
        "jwks_uri": jwks_uri,
        "profile": profile,
        "fallback_to_plain_claims": fallback_to_plain_claims or None,
    }
    for name, value in shorthand.items():
        if value is not None:
            raise ConfigurationError(
                f"{name} belongs in each IssuerConfig when issuers or issuer_resolver is given"
            )
    if issuers is None:
        return []
    if isinstance(issuers, IssuerConfig) or not all(
        isinstance(config, IssuerConfig) for config in issuers
    ):
        raise ConfigurationError("issuers must be a sequence of IssuerConfig")
    if not issuers:
        raise ConfigurationError("issuers must name at least one IssuerConfig")
    return list(issuers)
