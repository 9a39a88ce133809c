"""Several issuers: the trust each :class:`IssuerConfig` gets (the resolver's cache is
:mod:`claimguard.verification._resolvedissuers`).

A token's ``iss`` is read before its signature is checked, and only to choose which
configuration to try: the signature is then checked against that issuer's own key set
(one :class:`KeySet` per issuer, never shared, even when two issuers publish the same
``kid``) and the configuration's issuer must equal ``iss`` exactly (RFC 7519 §4.1.1).
An ``iss`` no configuration accepts is refused before any network access, so a token
can never make the API fetch a URL of its sender's choosing (RFC 8725 §3.10).
"""

from __future__ import annotations

from .._clock import Clock
from .._errors import ConfigurationError, InvalidToken
from ..jose._fetch import JSONFetcher, url_problem
from ..jose._jwks import KeySet
from ._claimchecks import ClaimChecks
from ._claims import Namespaces
from ._issuerconfig import IssuerConfig
from ._jwksrules import JWKSRules
from ._options import check_algorithms, check_audience
from ._profile import ClaimProfile
from ._providers import resolve_profile

__all__ = [
    "TrustedIssuer",
    "iss_for_log",
    "trusted_issuer",
    "wrong_issuer",
]

# An unverified iss is shown in logs up to this length; a longer one is cut.
ISS_LOG_CHARS = 64


class TrustedIssuer:
    """What verifying one issuer's tokens needs: its checks, claim namespaces and keys."""

    __slots__ = (
        "algorithms",
        "audiences",
        "claim_checks",
        "issuer",
        "key_set",
        "namespaces",
        "profile",
        "resolved",
        "rules",
    )

    def __init__(
        self,
        *,
        issuer: str,
        audiences: frozenset[str],
        namespaces: Namespaces,
        algorithms: frozenset[str],
        claim_checks: ClaimChecks,
        key_set: KeySet,
        rules: JWKSRules,
    ) -> None:
        self.profile: ClaimProfile = claim_checks.profile
        self.issuer = issuer
        self.audiences = audiences
        self.namespaces = namespaces
        self.algorithms = algorithms
        self.claim_checks = claim_checks
        self.key_set = key_set
        #: The caching rules its key set follows.
        self.rules = rules
        #: Named by a resolver (held while recently used), not configured.
        self.resolved = False


def trusted_issuer(
    config: IssuerConfig,
    *,
    leeway_seconds: float,
    max_token_age_seconds: float | None,
    fetcher: JSONFetcher,
    clock: Clock,
    rules: JWKSRules,
) -> TrustedIssuer:
    """Check ``config`` and build its issuer's trust, with a key set of its own."""
    issuer = config.issuer
    if not isinstance(issuer, str) or not issuer:
        raise ConfigurationError("issuer must be a non-empty string")
    audiences = check_audience(config.audience)
    profile = resolve_profile(config.profile).bind(issuer=issuer, audiences=audiences)
    jwks_uri = config.jwks_uri
    if jwks_uri is None:
        jwks_uri = profile.default_jwks_uri(issuer)
    problem = url_problem(jwks_uri if jwks_uri is not None else issuer)
    if problem is not None:
        option = "issuer" if jwks_uri is None else "jwks_uri"
        raise ConfigurationError(f"{option}: cannot fetch keys: {problem}")
    if not isinstance(config.fallback_to_plain_claims, bool):
        raise ConfigurationError("fallback_to_plain_claims must be True or False")
    algorithms = check_algorithms(config.algorithms)
    rules = rules.overridden_by(config)
    return TrustedIssuer(
        issuer=issuer,
        audiences=audiences,
        namespaces=Namespaces(
            config.namespace, fallback_to_plain_claims=config.fallback_to_plain_claims
        ),
        algorithms=algorithms,
        claim_checks=ClaimChecks(
            issuer=issuer,
            audiences=audiences,
            leeway_seconds=leeway_seconds,
            max_token_age_seconds=max_token_age_seconds,
            profile=profile,
        ),
        key_set=KeySet(
            issuer=issuer,
            jwks_uri=jwks_uri,
            fetcher=fetcher.with_limits(
                timeout_seconds=rules.timeout_seconds, max_bytes=rules.max_bytes
            ),
            clock=clock,
            allowed_algorithms=algorithms,
            max_age_seconds=rules.max_age_seconds,
            refresh_ahead_seconds=rules.refresh_ahead_seconds,
            cooldown_seconds=rules.cooldown_seconds,
            stale_seconds=rules.stale_seconds,
        ),
        rules=rules,
    )


def wrong_issuer(iss: object) -> InvalidToken:
    """The refusal of a token whose ``iss`` no configuration accepts; its ``detail`` says
    so for the server log, with ``iss`` shortened (see :func:`iss_for_log`)."""
    return InvalidToken(
        "wrong_issuer",
        "The token was issued by another issuer.",
        detail=f"no configured issuer accepts iss {iss_for_log(iss)}",
    )


def iss_for_log(iss: object) -> str:
    """An unverified ``iss`` as a log may show it: quoted with escapes (a token must not be
    able to write log lines), and cut to :data:`ISS_LOG_CHARS` characters when longer."""
    if iss.__class__ is not str:
        return "(none)" if iss is None else f"(a {type(iss).__name__}, not a string)"
    text = str(iss)
    if len(text) <= ISS_LOG_CHARS:
        return repr(text)
    return f"{text[:ISS_LOG_CHARS]!r}… ({len(text)} characters)"
