"""Where refusals are decided: counted when metrics are on, only reported in report-only mode.

:class:`~claimguard.ClaimGuardMiddleware` puts its :class:`Decisions` into the ASGI scope
(only when report-only mode or metrics are on), so that the endpoint guards — decorators,
FastAPI dependencies, MCP tool guards — count and report their refusals the same way.
A request is reported once: the guard that finds an anonymous request which the
middleware already reported stays quiet.
"""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from typing import Any

from ..verification._metrics import Metrics
from ._challenge import Challenge
from ._paths import route_path
from ._user import ClaimsUser

__all__ = ["DECISIONS_KEY", "Decisions", "refusal_stands"]

DECISIONS_KEY = "claimguard.decisions"
_REPORTED_KEY = "claimguard.reported"
_UNAVAILABLE = 503

logger = logging.getLogger("claimguard.middleware")


class Decisions:
    """Counts decisions on ``metrics`` (if any); with ``report_only`` a refusal other than
    503 is logged and counted as ``would_refuse`` instead of being answered."""

    __slots__ = ("metrics", "report_only")

    def __init__(self, *, report_only: bool, metrics: Metrics | None) -> None:
        self.report_only = report_only
        self.metrics = metrics

    def accepted(self) -> None:
        """Count a valid token."""
        if self.metrics is not None:
            self.metrics.decision("accepted", "")

    def refuse(
        self, scope: MutableMapping[str, Any], answer: Challenge, code: str | None = None
    ) -> bool:
        """Record the refusal ``answer`` of this request; ``True`` when it must be sent,
        ``False`` when report-only mode lets the request through.

        A 503 is always sent: the keys could not be had, so no decision was made, and an
        outage of the issuer must show as one rather than hide among would-be refusals.
        """
        if not self.report_only or answer.status == _UNAVAILABLE:
            if self.metrics is not None:
                self.metrics.decision("refused", answer.error)
            return True
        if not scope.get(_REPORTED_KEY):
            scope[_REPORTED_KEY] = True
            # Status, code and route only: never the token, never a claim's value.
            # The path quoted (%r): a request must not be able to write log lines.
            logger.warning(
                "report-only: would refuse %s %r with %d %s%s",
                scope.get("method", "WEBSOCKET"),
                scope.get("path", ""),
                answer.status,
                answer.error,
                "" if code is None or code == answer.error else f" ({code})",
            )
            if self.metrics is not None:
                self.metrics.decision("would_refuse", answer.error)
        return False


def refusal_stands(
    scope: MutableMapping[str, Any], answer: Challenge, code: str | None = None
) -> bool:
    """For endpoint guards: whether ``answer`` must be sent for this request (logged at
    DEBUG, like the middleware's own refusals, when it is). ``code`` is the precise cause
    where the error code alone does not say it (``auth_time_too_old`` …)."""
    decisions = scope.get(DECISIONS_KEY)
    stands = not isinstance(decisions, Decisions) or decisions.refuse(scope, answer, code)
    if stands and logger.isEnabledFor(logging.DEBUG):
        # The description names what the guard requires, never a value the token holds;
        # the issuer is named as the middleware names it, its iss being verified here.
        user = scope.get("user")
        issuer = user.claims.issuer if isinstance(user, ClaimsUser) else None
        logger.debug(
            "refused %s %s %r: %d %s%s by an endpoint guard (%s): %s",
            scope.get("type", "http"),
            scope.get("method", "GET"),
            route_path(scope),
            answer.status,
            answer.error or "missing_token",
            "" if code is None else f" ({code})",
            "no issuer selected" if issuer is None else f"issuer {issuer!r}",
            answer.description,
        )
    return stands
