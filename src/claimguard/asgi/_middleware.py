"""``ClaimGuardMiddleware``: verifies bearer tokens for ``http`` and ``websocket`` scopes."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Protocol

from starlette.types import ASGIApp, Receive, Scope, Send

from .._clock import Clock, TokenTime
from .._errors import (
    ClaimGuardError,
    ConfigurationError,
    InvalidDPoPProof,
    InvalidRequest,
    InvalidToken,
    KeySetUnavailable,
    ReplayStoreUnavailable,
)
from ..verification._claims import Claims
from ._challenge import Challenge, Challenger
from ._credentials import request_credentials
from ._decisions import DECISIONS_KEY, Decisions
from ._dpoprequest import DPoPRequests
from ._lifespan import run_lifespan
from ._paths import PublicPaths, route_path
from ._resource import ProtectedResource, send_resource_metadata
from ._user import CHALLENGER_KEY, TIME_KEY, anonymous, authenticated
from ._websocket import refuse_websocket, run_until_expiry

__all__ = ["ClaimGuardMiddleware", "PublicPaths", "route_path"]


_logger = logging.getLogger("claimguard.middleware")


class Verifier(Protocol):
    """What the middleware needs from :class:`~claimguard.TokenVerifier`."""

    @property
    def clock(self) -> Clock: ...

    async def verify(self, token: str) -> Claims: ...

    def valid_until(self, claims: Claims) -> float: ...


class ClaimGuardMiddleware:
    """Pure ASGI middleware that verifies the bearer token of every ``http`` and ``websocket``
    request and exposes its claims the way Starlette's ``AuthenticationMiddleware`` does.

    - ``scope["auth"]`` is an ``AuthCredentials`` with the token's scopes (see :class:`Claims`)
      and ``scope["user"]`` a :class:`ClaimsUser`, so ``request.auth.scopes``, ``request.user``
      and ``starlette.authentication.requires()`` work unchanged.
    - Requests without a token are answered 401 (no error code, RFC 6750 §3.1) unless their
      path is in ``public_paths`` (see :class:`PublicPaths`) or ``allow_anonymous`` is true;
      then they pass with empty credentials and an ``UnauthenticatedUser``. A token that *is*
      sent must be valid everywhere.
    - Bad tokens get 401 ``invalid_token``, malformed requests 400 ``invalid_request`` and a
      key set that cannot be had 503 with ``Retry-After``. A WebSocket handshake is refused
      with 403 carrying that answer's challenge and body where the server supports the
      denial-response extension, else closed with 1008; 503 becomes close 1011.
    - A WebSocket stays open only while its token would still be accepted: at
      ``verifier.valid_until(claims)`` on the verifier's clock (the earlier of ``exp`` and
      ``iat + max_token_age_seconds``, plus the leeway) it is closed with 1008 and the
      endpoint is cancelled.
    - DPoP (RFC 9449), as the verifier's ``dpop`` mode says: ``Authorization: DPoP <token>``
      with one ``DPoP`` proof header is checked by ``verifier.verify_dpop`` for the
      request's method (``GET`` for a WebSocket handshake) and URL (the verifier's
      ``public_origin``, else the origin of ``protected_resource``'s ``resource``, else
      the scope's scheme and ``Host`` — which the client chooses, so a WARNING on
      ``claimguard`` says so the first time — plus the raw path). Proof
      errors are 401 ``invalid_dpop_proof`` or ``use_dpop_nonce`` (with ``DPoP-Nonce``);
      a replay store that cannot answer is 503 with ``Retry-After``. With server nonces on,
      an accepted DPoP request's response (or WebSocket accept) carries the next
      ``DPoP-Nonce``. See :mod:`claimguard.asgi._credentials` for the request shapes.
    - ``realm`` and ``resource_metadata_url`` (RFC 9728) go into every challenge.
    - ``protected_resource`` (a :class:`ProtectedResource`) makes the middleware serve the
      RFC 9728 metadata document at its well-known paths, to anyone, without a token; its
      ``metadata_url`` then goes into every challenge unless ``resource_metadata_url`` says
      otherwise, and the verifier's audience must include its ``resource`` (RFC 8707).
    - ``debug=True`` puts the precise cause of a 503 (naming the issuer's URLs) into its
      body's description; the body's ``cause`` field is there either way.
    - ``preflight=True`` runs ``await verifier.preflight()`` on the ASGI ``lifespan.startup``
      event, before the app starts: if the issuer's keys cannot be had, startup fails
      (``lifespan.startup.failed`` with the precise cause) instead of every request being
      answered 503. Otherwise ``lifespan`` scopes pass through untouched, as do other
      scope types.
    - Each refusal is logged at DEBUG on ``claimguard.middleware`` with its status, code,
      route and issuer, never the token.
    - ``report_only=True`` (never the default; a rollout aid) sends no 401, 400 or 403:
      a request with a missing or invalid token passes as anonymous, one lacking a claim
      passes as verified, and the would-be refusal is logged (WARNING on
      ``claimguard.middleware``: status, error code, path) and counted. 503 is still sent.
    - A verifier built with ``metrics=…`` also gets the middleware's and the guards'
      decisions counted (see :mod:`claimguard.verification._metrics`).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        verifier: Verifier,
        public_paths: Iterable[str] = (),
        allow_anonymous: bool = False,
        realm: str = "api",
        resource_metadata_url: str | None = None,
        protected_resource: ProtectedResource | None = None,
        debug: bool = False,
        preflight: bool = False,
        report_only: bool = False,
    ) -> None:
        if (
            not callable(getattr(verifier, "verify", None))
            or not callable(getattr(verifier, "valid_until", None))
            or getattr(verifier, "clock", None) is None
        ):
            raise ConfigurationError(
                "verifier must be a TokenVerifier "
                "(an object with verify(), valid_until() and a clock)"
            )
        if not isinstance(allow_anonymous, bool):
            raise ConfigurationError("allow_anonymous must be True or False")
        if not isinstance(preflight, bool):
            raise ConfigurationError("preflight must be True or False")
        if preflight and not callable(getattr(verifier, "preflight", None)):
            raise ConfigurationError("preflight=True needs a verifier with preflight()")
        self.preflight = preflight
        self.app = app
        self.verifier = verifier
        self.public_paths = PublicPaths(public_paths)
        self.allow_anonymous = allow_anonymous
        dpop = getattr(verifier, "dpop", "disabled")
        if protected_resource is not None:
            _check_protected_resource(protected_resource, verifier)
            if protected_resource.dpop is None:
                protected_resource = protected_resource.with_dpop(dpop)
            elif protected_resource.dpop != dpop:
                raise ConfigurationError(
                    f"protected_resource says dpop={protected_resource.dpop!r} but the "
                    f"verifier's dpop is {dpop!r}"
                )
            if resource_metadata_url is None:
                resource_metadata_url = protected_resource.metadata_url
        self.protected_resource = protected_resource
        if dpop != "disabled" and not callable(getattr(verifier, "verify_dpop", None)):
            raise ConfigurationError(f"a verifier with dpop={dpop!r} needs verify_dpop()")
        self._dpop = dpop != "disabled"
        self._dpop_requests = DPoPRequests(verifier, protected_resource)
        self.challenger = Challenger(
            realm=realm, resource_metadata_url=resource_metadata_url, debug=debug, dpop=dpop
        )
        self._issuer: str | None = getattr(verifier, "issuer", None)
        # Step-up guards measure auth_time as the verifier measures exp (RFC 9470 §3).
        self._time = TokenTime(verifier.clock, float(getattr(verifier, "leeway_seconds", 0.0)))
        if not isinstance(report_only, bool):
            raise ConfigurationError("report_only must be True or False")
        self.report_only = report_only
        metrics = getattr(verifier, "metrics", None)
        # None unless asked for: the request path then pays one attribute check.
        self._decisions = (
            Decisions(report_only=report_only, metrics=metrics)
            if report_only or metrics is not None
            else None
        )
        if report_only:
            _logger.warning(
                "report-only mode is on: requests without a valid token or lacking claims "
                "are let through and only logged; do not serve production traffic like this"
            )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            if scope["type"] == "lifespan" and self.preflight:
                await run_lifespan(self.app, scope, receive, send, self.verifier)
            else:
                await self.app(scope, receive, send)
            return
        resource = self.protected_resource
        if (
            resource is not None
            and scope["type"] == "http"
            and route_path(scope) in resource.metadata_paths
        ):
            await send_resource_metadata(scope, send, resource)
            return
        scheme = "bearer"
        try:
            credentials = request_credentials(scope, dpop=self._dpop)
            if credentials is None:
                claims = None
            elif credentials.proof is None:
                claims = await self.verifier.verify(credentials.token)
            else:
                scheme = "dpop"
                claims = await self._dpop_requests.verify(scope, credentials)
                send = self._dpop_requests.with_nonce(send)
        except ClaimGuardError as error:
            claims = None
            if await self._refuse(scope, receive, send, error, scheme):
                return
        else:
            if (
                claims is None
                and not (self.allow_anonymous or route_path(scope) in self.public_paths)
                and await self._refuse(scope, receive, send, None)
            ):
                return
        # Set in place, as Starlette's AuthenticationMiddleware does.
        scope["auth"], scope["user"] = anonymous() if claims is None else authenticated(claims)
        scope[CHALLENGER_KEY] = self.challenger
        scope[TIME_KEY] = self._time
        decisions = self._decisions
        if decisions is not None:
            scope[DECISIONS_KEY] = decisions
            if claims is not None:
                decisions.accepted()
        if scope["type"] == "websocket" and claims is not None:
            # The same end as an HTTP request would meet: exp, or max_token_age_seconds
            # after iat if that comes first, plus the leeway.
            expires_at = self.verifier.valid_until(claims)
            await run_until_expiry(self.app, scope, receive, send, expires_at, self.verifier.clock)
        else:
            await self.app(scope, receive, send)

    async def _refuse(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        error: ClaimGuardError | None,
        scheme: str = "bearer",
    ) -> bool:
        """Answer the refusal of ``error`` (``None``: no token); ``False`` when report-only
        mode lets the request through instead."""
        answer = (
            self.challenger.missing_token()
            if error is None
            else self.challenger.for_error(error, scheme=scheme)
        )
        if self._decisions is not None and not self._decisions.refuse(
            scope, answer, _refusal_code(error)
        ):
            return False  # report-only: logged there as a would-be refusal
        if _logger.isEnabledFor(logging.DEBUG):
            _logger.debug(
                "refused %s %s %r: %d %s (%s)",
                scope["type"],
                scope.get("method", "GET"),
                route_path(scope),
                answer.status,
                _refusal_code(error),
                self._tried(error),
            )
        if scope["type"] == "http":
            await send_http_answer(send, answer)
        else:
            await refuse_websocket(
                scope,
                receive,
                send,
                answer,
                unavailable=isinstance(error, KeySetUnavailable | ReplayStoreUnavailable),
            )
        return True

    def _tried(self, error: ClaimGuardError | None) -> str:
        """Which issuer's rules refused the token, for the log: the one the verifier
        selected, or why none was (never the token, and an unverified ``iss`` shortened)."""
        if isinstance(error, InvalidToken) and error.detail is not None:
            return error.detail
        issuer = self._issuer if error is None or error.issuer is None else error.issuer
        return "no issuer selected" if issuer is None else f"issuer {issuer!r}"


def _refusal_code(error: ClaimGuardError | None) -> str:
    if error is None:
        return "missing_token"
    if isinstance(error, InvalidToken | InvalidDPoPProof | InvalidRequest):
        return error.code
    if isinstance(error, KeySetUnavailable):
        return f"keys_unavailable:{error.cause}"
    if isinstance(error, ReplayStoreUnavailable):
        return "replay_store_unavailable"
    return error.error or type(error).__name__


def _check_protected_resource(resource: object, verifier: Verifier) -> None:
    if not isinstance(resource, ProtectedResource):
        raise ConfigurationError("protected_resource must be a ProtectedResource")
    audiences = getattr(verifier, "audiences", None)
    if isinstance(audiences, frozenset) and resource.resource not in audiences:
        # RFC 8707 §2: tokens for this resource carry its identifier as their audience.
        raise ConfigurationError(
            f"the verifier's audience must include the resource {resource.resource!r}, "
            "exactly as written, so that only tokens issued for it are accepted; with "
            "several issuers, every fixed issuer's audience must include it."
        )


async def send_http_answer(send: Send, answer: Challenge) -> None:
    """Send ``answer`` as a complete HTTP response."""
    await send(
        {"type": "http.response.start", "status": answer.status, "headers": answer.raw_headers}
    )
    await send({"type": "http.response.body", "body": answer.body})
