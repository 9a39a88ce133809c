"""Looking at a verifier's issuers from outside: the startup check, readiness, JWKS state.

With one issuer these answer for it alone, as they always have; with several, for every
configured issuer (and every resolved one held now), by issuer.
"""

from __future__ import annotations

from .._clock import Clock
from .._errors import ConfigurationError
from ..jose._jwks import KeySetState
from ._health import VerifierHealth, combined_health, health_of
from ._issuers import TrustedIssuer
from ._issuerset import IssuerSet

__all__ = ["IssuerInspection"]


class IssuerInspection:
    """The inspection methods of :class:`~claimguard.TokenVerifier`."""

    clock: Clock
    _issuers: IssuerSet
    _single: TrustedIssuer | None

    async def preflight(self) -> None:
        """Fetch discovery and the JWKS of every configured issuer now; raise
        :class:`ConfigurationError` with the precise causes if one gives no usable key.

        Call it at startup so a wrong issuer URL stops the app there, with the reason,
        instead of answering every request with 503 later. The fetch ignores the cooldown;
        a good one fills the cache the first requests use. Issuers a resolver has yet to
        name are not fetched.
        """
        problems: list[str] = []
        for trusted in self._issuers.fixed.values():
            await trusted.key_set.fetch_now()
            state = trusted.key_set.state()
            if state.last_error is not None or state.fetched_at is None:
                problems.append(
                    f"the signing keys of issuer {trusted.issuer!r} cannot be fetched: "
                    f"{state.last_error or 'no fetch has succeeded'}"
                )
        if problems:
            raise ConfigurationError("; ".join(problems))

    def health(self) -> VerifierHealth:
        """Whether tokens can be verified now, for a readiness probe (no network).

        With several issuers: ready only when every issuer held is (see
        :meth:`health_by_issuer` for each one).
        """
        healths = list(self.health_by_issuer().values())
        return healths[0] if self._single is not None else combined_health(healths)

    def health_by_issuer(self) -> dict[str, VerifierHealth]:
        """Each configured (or resolved and held) issuer's readiness, by issuer."""
        now = self.clock.time()
        return {
            trusted.issuer: health_of(
                trusted.issuer,
                trusted.key_set.state(),
                now=now,
                max_age_seconds=trusted.rules.max_age_seconds,
                stale_seconds=trusted.rules.stale_seconds,
            )
            for trusted in self._issuers.all()
        }

    def jwks_state(self, issuer: str | None = None) -> KeySetState:
        """The JWKS cache's state: kids, last fetch, last error and its cause, fetch count.

        With several issuers, name the ``issuer`` (see :meth:`jwks_states`).
        """
        if issuer is None and self._single is not None:
            return self._single.key_set.state()
        state = self.jwks_states().get(issuer) if issuer is not None else None
        if state is None:
            raise ConfigurationError(f"no key set is held for issuer {issuer!r}")
        return state

    def jwks_states(self) -> dict[str, KeySetState]:
        """Each configured (or resolved and held) issuer's JWKS cache state, by issuer."""
        return {trusted.issuer: trusted.key_set.state() for trusted in self._issuers.all()}
