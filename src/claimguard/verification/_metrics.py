"""Optional OpenTelemetry metrics: decisions, verification time, JWKS fetches.

Nothing here runs unless ``TokenVerifier(metrics=…)`` asks for it: ``opentelemetry`` is
imported when the verifier is built with metrics on, never by ``import claimguard``, and a
verifier without metrics carries no instrumented code on its paths at all (its ``verify``
is the plain method; the middleware checks one attribute per request).

Instruments (meter ``claimguard``):

- ``claimguard.decisions`` (counter): ``outcome`` is ``accepted`` (a valid token),
  ``refused`` (answered 4xx/503) or ``would_refuse`` (report-only mode let it through);
  ``code`` is the answer's error code (``invalid_token``, ``insufficient_scope``,
  ``unauthorized`` for a missing token, ``temporarily_unavailable`` …), empty when accepted.
- ``claimguard.verification.duration`` (histogram, seconds): one ``verify()`` or
  ``verify_dpop()`` call, cache hits included; ``outcome`` is ``valid``, ``invalid`` (the
  token or its DPoP proof refused) or ``unavailable`` (no keys, or no replay store);
  ``scheme`` is ``bearer`` or ``dpop``.
- ``claimguard.jwks.fetches`` and ``claimguard.jwks.fetch_failures`` (counters): every
  JWKS fetch attempt (discovery included), and those that yielded no usable key set.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Coroutine
from typing import Any, Literal, ParamSpec, Protocol

from .._errors import (
    ConfigurationError,
    InvalidDPoPProof,
    InvalidToken,
    KeySetUnavailable,
    ReplayStoreUnavailable,
)
from .._version import __version__
from ._claims import Claims

__all__ = ["MeterProvider", "Metrics", "metrics_from"]

P = ParamSpec("P")


class MeterProvider(Protocol):
    """An OpenTelemetry ``MeterProvider`` (the API's or the SDK's)."""

    def get_meter(self, name: str, version: str | None = None) -> Any: ...


class Metrics:
    """claimguard's instruments on one meter; built by :func:`metrics_from`."""

    __slots__ = ("_decision_attributes", "decisions", "fetch_failures", "fetches", "verification")

    def __init__(self, meter: Any) -> None:
        self.decisions = meter.create_counter(
            "claimguard.decisions",
            unit="{request}",
            description="Bearer-token decisions by outcome and error code",
        )
        self.verification = meter.create_histogram(
            "claimguard.verification.duration",
            unit="s",
            description="Time to verify one access token (and its DPoP proof)",
        )
        self.fetches = meter.create_counter(
            "claimguard.jwks.fetches", unit="{fetch}", description="JWKS fetch attempts"
        )
        self.fetch_failures = meter.create_counter(
            "claimguard.jwks.fetch_failures",
            unit="{fetch}",
            description="JWKS fetches that yielded no usable key set",
        )
        self._decision_attributes: dict[tuple[str, str], dict[str, str]] = {}

    def decision(self, outcome: str, code: str) -> None:
        """Count one decision (the attribute dictionaries are built once per pair)."""
        attributes = self._decision_attributes.get((outcome, code))
        if attributes is None:
            attributes = self._decision_attributes[outcome, code] = {
                "outcome": outcome,
                "code": code,
            }
        self.decisions.add(1, attributes)

    def jwks_fetch(self, ok: bool) -> None:
        """Count one JWKS fetch attempt, and its failure."""
        self.fetches.add(1)
        if not ok:
            self.fetch_failures.add(1)

    def timed(
        self,
        verify: Callable[P, Coroutine[Any, Any, Claims]],
        *,
        scheme: Literal["bearer", "dpop"] = "bearer",
    ) -> Callable[P, Coroutine[Any, Any, Claims]]:
        """``verify`` (or ``verify_dpop``) with its duration recorded, by outcome."""
        record = self.verification.record
        clock = time.perf_counter
        valid, invalid, unavailable = (
            {"outcome": "valid", "scheme": scheme},
            {"outcome": "invalid", "scheme": scheme},
            {"outcome": "unavailable", "scheme": scheme},
        )

        async def timed_verify(*args: P.args, **kwargs: P.kwargs) -> Claims:
            start = clock()
            try:
                claims = await verify(*args, **kwargs)
            except (KeySetUnavailable, ReplayStoreUnavailable):
                record(clock() - start, unavailable)
                raise
            except (InvalidToken, InvalidDPoPProof):
                record(clock() - start, invalid)
                raise
            record(clock() - start, valid)
            return claims

        return timed_verify


def metrics_from(option: bool | MeterProvider) -> Metrics | None:
    """The instruments ``option`` asks for: ``False`` none, ``True`` on the global meter
    provider, or on the given ``MeterProvider``. Fails loudly when OpenTelemetry is missing."""
    if option is False:
        return None
    try:
        from opentelemetry import metrics as otel_metrics
    except ImportError as exc:
        raise ConfigurationError(
            "metrics need the OpenTelemetry API: pip install 'claimguard-asgi[otel]'"
        ) from exc
    if option is True:
        meter = otel_metrics.get_meter("claimguard", __version__)
    elif callable(getattr(option, "get_meter", None)):
        meter = option.get_meter("claimguard", __version__)
    else:
        raise ConfigurationError("metrics must be True, False or an OpenTelemetry MeterProvider")
    return Metrics(meter)
