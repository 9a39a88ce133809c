"""``ClaimGuardMiddleware``: verifies bearer tokens for ``http`` and ``websocket`` scopes."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable
from typing import Protocol

import anyio
from anyio.abc import TaskGroup
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ._challenge import Challenge, Challenger
from ._claims import Claims
from ._clock import Clock, TokenTime
from ._credentials import Credentials, request_credentials
from ._decisions import DECISIONS_KEY, Decisions
from ._errors import (
    ClaimGuardError,
    ConfigurationError,
    InvalidDPoPProof,
    InvalidRequest,
    InvalidToken,
    KeySetUnavailable,
    ReplayStoreUnavailable,
)
from ._htu import origin_of, request_htu
from ._lifespan import run_lifespan
from ._paths import PublicPaths, route_path
from ._resource import ProtectedResource, send_resource_metadata
from ._user import CHALLENGER_KEY, TIME_KEY, anonymous, authenticated

__all__ = ["ClaimGuardMiddleware", "PublicPaths", "route_path"]

# RFC 6455 §7.4.1: 1008 policy violation, 1011 unexpected condition on the server.
_POLICY_VIOLATION = 1008
_SERVER_ERROR = 1011
_DENIAL_EXTENSION = "websocket.http.response"
_HANDSHAKE_REFUSED = 403
_MAX_CLOSE_REASON_BYTES = 123

_logger = logging.getLogger("claimguard.middleware")
_setup_logger = logging.getLogger("claimguard")


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
      ``DPoP-Nonce``. See :mod:`claimguard._credentials` for the request shapes.
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
      decisions counted (see :mod:`claimguard._metrics`).
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
        # RFC 9449 §4.3 check 9: htu names this resource. The scope's Host is chosen by
        # the sender, so it is only the last resort (and warned about once).
        explicit = getattr(verifier, "public_origin", None)
        self._public_origin: str | None = (
            explicit
            if explicit is not None or protected_resource is None
            else origin_of(protected_resource.resource)
        )
        self._host_origin_warned = False
        if dpop != "disabled" and not callable(getattr(verifier, "verify_dpop", None)):
            raise ConfigurationError(f"a verifier with dpop={dpop!r} needs verify_dpop()")
        self._dpop = dpop != "disabled"
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
                claims = await self._verify_dpop(scope, credentials)
                send = self._with_nonce(send)
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
            await self._run_until_expiry(scope, receive, send, claims)
        else:
            await self.app(scope, receive, send)

    async def _verify_dpop(self, scope: Scope, credentials: Credentials) -> Claims:
        verifier = self.verifier
        if self._public_origin is None and not self._host_origin_warned:
            self._host_origin_warned = True
            _setup_logger.warning(
                "DPoP proofs are checked against each request's own Host header, which the "
                "client chooses: a proof made for another server that accepts the same "
                "tokens is accepted here. Set public_origin on the TokenVerifier (or give "
                "the middleware a protected_resource) to name this API's public origin."
            )
        try:
            url = request_htu(scope, self._public_origin)
        except ValueError:
            raise InvalidRequest(
                "The request's URL cannot be read to check the DPoP proof.", code="bad_request_url"
            ) from None
        verify_dpop = verifier.verify_dpop  # type: ignore[attr-defined]
        claims: Claims = await verify_dpop(
            credentials.token,
            credentials.proof,
            method=scope.get("method", "GET"),
            url=url,
        )
        return claims

    def _with_nonce(self, send: Send) -> Send:
        """``send`` adding the next ``DPoP-Nonce`` (RFC 9449 §9) to the response start."""
        nonce = self.verifier.dpop_nonce()  # type: ignore[attr-defined]
        if nonce is None:
            return send
        header = (b"dpop-nonce", nonce.encode("ascii"))

        async def send_with_nonce(message: Message) -> None:
            if message["type"] in ("http.response.start", "websocket.accept"):
                message = {**message, "headers": [*message.get("headers", ()), header]}
            await send(message)

        return send_with_nonce

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

    async def _run_until_expiry(
        self, scope: Scope, receive: Receive, send: Send, claims: Claims
    ) -> None:
        # The same end as an HTTP request would meet: exp, or max_token_age_seconds after
        # iat if that comes first, plus the leeway.
        expires_at = self.verifier.valid_until(claims)
        clock = self.verifier.clock
        state = _SocketState()

        async def tracked_receive() -> Message:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                state.closed = True
            return message

        async def tracked_send(message: Message) -> None:
            if message["type"] in ("websocket.close", "websocket.http.response.start"):
                state.closed = True
            await send(message)

        async def close_at_expiry(task_group: TaskGroup) -> None:
            await clock.sleep(max(0.0, expires_at - clock.time()))
            if not state.closed:
                state.closed = True
                # The peer may already be gone; there is nothing left to tell it then.
                with contextlib.suppress(OSError):
                    await send(_close(_POLICY_VIOLATION, "The access token has expired."))
            task_group.cancel_scope.cancel()

        failure: Exception | None = None
        async with anyio.create_task_group() as task_group:
            task_group.start_soon(close_at_expiry, task_group)
            try:
                await self.app(scope, tracked_receive, tracked_send)
            except Exception as exc:  # re-raised below, unwrapped from the task group
                failure = exc
            task_group.cancel_scope.cancel()
        if failure is not None:
            raise failure


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
            "exactly as written, so that only tokens issued for it are accepted"
        )


class _SocketState:
    __slots__ = ("closed",)

    def __init__(self) -> None:
        self.closed = False


async def send_http_answer(send: Send, answer: Challenge) -> None:
    """Send ``answer`` as a complete HTTP response."""
    await send(
        {"type": "http.response.start", "status": answer.status, "headers": answer.raw_headers}
    )
    await send({"type": "http.response.body", "body": answer.body})


async def refuse_websocket(
    scope: Scope, receive: Receive, send: Send, answer: Challenge, *, unavailable: bool = False
) -> None:
    """Refuse a WebSocket handshake: HTTP 403 carrying the ``answer``'s challenge and body
    where the server can send a response (the denial-response extension), else close 1008;
    close 1011 when ``unavailable`` (the server, not the client, is at fault).

    403 is the status a refused handshake has everywhere (RFC 6455 §4.2.2 leaves it to the
    server; ASGI servers answer a close-before-accept with 403); the ``WWW-Authenticate``
    header and the JSON body still say why, in RFC 6750 terms.
    """
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    if not unavailable and _DENIAL_EXTENSION in scope.get("extensions", {}):
        await send(
            {
                "type": "websocket.http.response.start",
                "status": _HANDSHAKE_REFUSED,
                "headers": answer.raw_headers,
            }
        )
        await send({"type": "websocket.http.response.body", "body": answer.body})
        return
    await send(_close(_SERVER_ERROR if unavailable else _POLICY_VIOLATION, answer.description))


def _close(code: int, reason: str) -> Message:
    encoded = reason.encode()[:_MAX_CLOSE_REASON_BYTES]
    return {"type": "websocket.close", "code": code, "reason": encoded.decode(errors="ignore")}
