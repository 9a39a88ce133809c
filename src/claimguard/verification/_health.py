"""``VerifierHealth``: whether a verifier can check tokens now, for readiness probes."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from .._errors import UnavailableCause
from ..jose._jwks import KeySetState

__all__ = ["HealthCause", "VerifierHealth", "health_of"]

HealthCause = UnavailableCause | Literal["not_fetched"]
"""Why a verifier is not ready: a fetch failure (:data:`~claimguard.UnavailableCause`), or
``"not_fetched"`` when no fetch has been tried yet (keys are fetched on the first token,
or at startup by ``preflight()``)."""


@dataclass(frozen=True, slots=True)
class VerifierHealth:
    """A snapshot of a :class:`~claimguard.TokenVerifier`'s readiness.

    - ``ready``: keys are held and young enough to be used (within max age plus the stale
      period), so a token with a known ``kid`` can be verified without the network;
    - ``kids``: how many keys are held;
    - ``last_fetch_age_seconds``: seconds since the last good fetch, ``None`` before one;
    - ``stale``: the keys are past their max age (a refresh is due or has failed) and are
      served only because of the stale period;
    - ``last_error`` and ``cause``: the last fetch failure in words and as a
      :data:`~claimguard.UnavailableCause`, ``None`` after a good fetch. Before any fetch
      was tried the cause is ``"not_fetched"`` and ``last_error`` names the issuer: keys
      are fetched on the first token unless ``preflight()`` fetched them at startup.
      ``last_error`` names the issuer's URLs: serve it to operators, not to the public.
    """

    ready: bool
    kids: int
    last_fetch_age_seconds: float | None
    stale: bool
    last_error: str | None
    cause: HealthCause | None

    def as_dict(self) -> dict[str, Any]:
        """The fields as a JSON-ready dictionary."""
        return asdict(self)


def health_of(
    issuer: str,
    state: KeySetState,
    *,
    now: float,
    max_age_seconds: float,
    stale_seconds: float,
) -> VerifierHealth:
    """The health ``issuer``'s key set in ``state`` has at ``now``, under its caching rules."""
    age = None if state.fetched_at is None else max(0.0, now - state.fetched_at)
    if state.last_attempt_at is None and state.fetched_at is None:
        # Keys are fetched lazily: a readiness probe that gates traffic would never see a
        # token, so it must say why it waits rather than look like an outage.
        return VerifierHealth(
            ready=False,
            kids=0,
            last_fetch_age_seconds=None,
            stale=False,
            last_error=(
                f"The signing keys of issuer {issuer!r} have not been fetched yet: they are "
                "fetched on the first token, or at startup with preflight."
            ),
            cause="not_fetched",
        )
    return VerifierHealth(
        ready=age is not None and bool(state.kids) and age <= max_age_seconds + stale_seconds,
        kids=len(state.kids),
        last_fetch_age_seconds=age,
        stale=age is not None and age >= max_age_seconds,
        last_error=state.last_error,
        cause=state.last_cause,
    )


def combined_health(healths: list[VerifierHealth]) -> VerifierHealth:
    """One snapshot for several issuers: ready only when every issuer is, keys counted
    together, the oldest fetch, stale when any is, and the first failure (a fetch that
    failed before an issuer not fetched yet)."""
    ages = [h.last_fetch_age_seconds for h in healths if h.last_fetch_age_seconds is not None]
    failing = next(
        (h for h in healths if h.last_error is not None and h.cause != "not_fetched"),
        next((h for h in healths if h.last_error is not None), None),
    )
    return VerifierHealth(
        ready=all(h.ready for h in healths),
        kids=sum(h.kids for h in healths),
        last_fetch_age_seconds=max(ages) if ages and len(ages) == len(healths) else None,
        stale=any(h.stale for h in healths),
        last_error=None if failing is None else failing.last_error,
        cause=None if failing is None else failing.cause,
    )
