"""The authorization endpoint (RFC 6749 §4.1), its login form and, for registered clients,
the consent step; a live session (:mod:`issuer.login._signon`) stands in for the login form."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from ..core._errors import OAuthError, TooManyAttempts
from ..core._params import read_form, request_info, single_params
from ..core._pending import PendingStore
from ..core._records import User
from ..login._consent import ConsentEndpoint
from ..login._continue import ContinueEndpoint
from ..login._csrf import (
    CSRF_COOKIE,
    FORM_LIFETIME_SECONDS,
    csrf_matches,
    new_csrf_token,
    set_csrf_cookie,
)
from ..login._login import TokenSet
from ..login._loginrequest import LoginRequest
from ..login._mfa import MfaEndpoint
from ..login._pages import login_page, message_page
from ..login._pause import LoginPaused, PendingLogin, auth_time_of
from ..login._sessions import login_methods
from ..login._signon import SignOn
from ..tokens._scopes import grantable_scopes
from ._authrequest import redirect_uri_of, requested_api
from ._transaction import Transaction, authorization_response

if TYPE_CHECKING:
    from .._issuer import Issuer

__all__ = ["CSRF_COOKIE", "AuthorizeEndpoint"]

_logger = logging.getLogger("issuer.authorize")


def _session_ended() -> OAuthError:
    # OpenID Connect Core §3.1.2.6: the client starts the login again.
    return OAuthError(
        "login_required", "the login session ended while this login waited; start it again"
    )


class AuthorizeEndpoint:
    """``GET /authorize`` validates and shows the login form; ``POST /login`` logs in;
    ``/consent`` asks the user about registered clients (see :mod:`issuer.login._consent`)."""

    def __init__(self, issuer: Issuer, *, clock: Callable[[], float]) -> None:
        self._issuer = issuer
        self._clock = clock
        held = issuer.max_pending_logins
        self._transactions = PendingStore[Transaction](
            clock=clock, lifetime_seconds=FORM_LIFETIME_SECONDS, max_entries=held, logger=_logger
        )
        self.consent = ConsentEndpoint[Transaction](
            issuer_url=issuer.url,
            clock=clock,
            finish=self._finish,
            refuse=self._error_redirect,
            max_pending=held,
        )
        resume = self._resume
        self.continuation = ContinueEndpoint[Transaction](
            clock=clock,
            lifetime_seconds=issuer.redirect_continue_seconds,
            resume=resume,
            carry_on=self._carry_on,
            max_pending=held,
        )
        self.mfa = MfaEndpoint[Transaction](
            issuer_url=issuer.url,
            clock=clock,
            configured=issuer.configured_totp_secret,
            enrolled=issuer.totp_secrets,
            sessions=issuer.sessions,
            throttle=issuer.directory.throttle,
            checker=issuer.otp_codes,
            resume=resume,
            carry_on=self._carry_on,
            enrolment=issuer.mfa_enrolment,
            max_pending=held,
        )

    def _error_redirect(self, txn: Transaction, error: OAuthError) -> Response:
        # The error code and the client's description only: str() of an ActionFailed
        # carries the action's own error text, which stays in the action log.
        _logger.warning(
            "authorization for client %r refused: %s: %s",
            txn.client.client_id,
            error.error,
            error.description,
        )
        return authorization_response(
            txn.redirect_uri,
            {
                "error": error.error,
                "error_description": error.description,
                "state": txn.params.get("state"),
            },
            issuer=self._issuer.url,
        )

    async def authorize(self, request: Request) -> Response:
        try:
            params = single_params(request.query_params.multi_items())
        except OAuthError as exc:
            return message_page("Invalid request", exc.description, status_code=400)
        directory = self._issuer.directory
        client = directory.clients.get(params.get("client_id", ""))
        if client is None:
            return message_page("Invalid request", "Unknown or missing client_id.", status_code=400)
        redirect_uri = redirect_uri_of(client, params)
        if redirect_uri is None:
            return message_page(
                "Invalid request",
                "The redirect_uri is missing or not registered for this client.",
                status_code=400,
            )
        now = self._clock()
        txn = Transaction(client, redirect_uri, params, new_csrf_token())
        try:
            txn.api = requested_api(
                params,
                client,
                directory,
                registration_allowed_apis=self._issuer.registration_allowed_apis,
            )
            signon = SignOn.from_params(params)
        except OAuthError as exc:
            return self._error_redirect(txn, exc)
        if not signon.forces_login:
            resumed = self._issuer.sessions.resume(self._issuer.session_cookie.read(request))
            if resumed is not None and signon.accepts(resumed[0], now):
                txn.session = resumed[0]
                return await self._authorized(request, txn, resumed[1], silent=signon.silent)
        if signon.silent:
            # OpenID Connect Core §3.1.2.6: no session to answer with, or too old for max_age.
            return self._error_redirect(
                txn, OAuthError("login_required", "prompt=none needs a live, recent session")
            )
        transaction_id = secrets.token_urlsafe(24)
        self._transactions.add(transaction_id, txn)
        response = self._form(transaction_id, txn)
        set_csrf_cookie(response, txn.csrf_token)
        return response

    def _form(
        self,
        transaction_id: str,
        txn: Transaction,
        *,
        email: str = "",
        error: str | None = None,
        too_many: TooManyAttempts | None = None,
    ) -> Response:
        if too_many is not None:
            # RFC 6585 §4: 429 with Retry-After; the form stays, for a later try.
            seconds = too_many.retry_after_seconds
            error = f"Too many failed attempts for this account. Try again in {seconds} seconds."
        return login_page(
            action=f"{self._issuer.url}login",
            transaction=transaction_id,
            csrf_token=txn.csrf_token,
            client=txn.client,
            api=txn.api,
            email=email,
            error=error,
            status_code=200 if too_many is None else too_many.status_code,
            headers=None if too_many is None else too_many.headers,
        )

    async def login(self, request: Request) -> Response:
        try:
            form = await read_form(request)
        except OAuthError as exc:
            return message_page("Invalid request", exc.description, status_code=400)
        transaction_id = form.get("transaction", "")
        txn = self._transactions.get(transaction_id)
        if txn is None:
            return message_page(
                "Login expired", "Start the login again from the application.", status_code=400
            )
        if not csrf_matches(request, form.get("csrf_token", ""), txn.csrf_token):
            _logger.warning("login refused: CSRF token or cookie does not match")
            return message_page(
                "Invalid request", "The login form is stale; start again.", status_code=403
            )
        email = form.get("email", "")
        try:
            user = await self._issuer.directory.authenticate(email, form.get("password", ""))
        except TooManyAttempts as exc:
            return self._form(transaction_id, txn, email=email, too_many=exc)
        if user is None:
            return self._form(transaction_id, txn, email=email, error="Wrong email or password.")
        if self._transactions.pop(transaction_id) is None:
            # Another submission of the same form (a double click) logged in meanwhile.
            return message_page(
                "Login already used", "Start the login again from the application.", status_code=400
            )
        # A new session for every login, whatever the browser sent: a session value planted
        # before the login is never the one logged in (OWASP ASVS V3.2.1).
        cookie = self._issuer.session_cookie
        self._issuer.sessions.end(cookie.read(request))
        token, txn.session = self._issuer.sessions.start(user)
        response = await self._authorized(request, txn, user, silent=False)
        cookie.set(response, token)
        return response

    async def _authorized(
        self, request: Request, txn: Transaction, user: User, *, silent: bool
    ) -> Response:
        """``user`` is logged in: ask for consent if needed, else finish."""
        scopes = grantable_scopes(txn.params.get("scope", "openid").split(), txn.api)
        forced = txn.client.registered and "consent" in txn.params.get("prompt", "").split()
        if forced or self.consent.needed(txn, user, scopes):
            if silent:
                # OpenID Connect Core §3.1.2.6: the consent page would have to be shown.
                return self._error_redirect(
                    txn, OAuthError("consent_required", "the user has not consented yet")
                )
            return self.consent.ask(txn, user, scopes)
        return await self._finish(request, txn, user)

    async def _resume(
        self, pending: PendingLogin, *, request: Mapping[str, Any], params: Mapping[str, str]
    ) -> TokenSet:
        # A login that waited (a code form, an action's page) carries its session's
        # methods: if the session ended meanwhile (logout, a new password, expiry), so did
        # what it vouched for.
        if pending.request.session is not None and not self._issuer.sessions.still_valid(
            pending.request.session
        ):
            raise _session_ended()
        return await self._issuer.pipeline.resume(pending, request=request, params=params)

    async def _finish(self, request: Request, txn: Transaction, user: User) -> Response:
        """Run the login pipeline for ``user`` and send the code to the client."""
        params = txn.params
        session = txn.session
        if session is not None and not self._issuer.sessions.still_valid(session):
            return self._error_redirect(txn, _session_ended())
        now = self._clock()
        methods, remembered = login_methods(session, now)
        login = LoginRequest(
            user=user,
            client=txn.client,
            api=txn.api,
            requested_scopes=params.get("scope", "openid").split(),
            protocol="oidc-basic-profile",
            # OIDC Core §2: when the user authenticated, not when the code is made, by the
            # methods the tokens will list.
            auth_time=auth_time_of(methods, default=now),
            nonce=params.get("nonce"),
            redirect_uri=txn.redirect_uri,
            state=params.get("state"),
            request=request_info(request, query=params),
            session=session,
            acr_values=params.get("acr_values", "").split(),
            prompt=params.get("prompt"),
            methods=methods,
            remembered_methods=remembered,
            continue_state=secrets.token_urlsafe(32),
            dpop_jkt=params.get("dpop_jkt"),
        )
        return await self._carry_on(request, txn, lambda: self._issuer.pipeline.login(login))

    async def _carry_on(
        self, request: Request, txn: Transaction, step: Callable[[], Awaitable[TokenSet]]
    ) -> Response:
        """Run one step of a login and answer the browser: the code for the client, an
        error for it, a page an action sent it to, or the one-time code form."""
        try:
            tokens = await step()
        except LoginPaused as paused:
            # A prompt=none login never pauses: the pipeline refuses it with
            # interaction_required instead (login/_pause.paused).
            if paused.pending.needs_second_factor:
                return self.mfa.ask(paused.pending, txn)
            return self.continuation.hold(paused.pending, txn)
        except OAuthError as exc:
            return self._error_redirect(txn, exc)
        params = txn.params
        code = self._issuer.codes.issue(
            client_id=txn.client.client_id,
            redirect_uri=params.get("redirect_uri"),
            code_challenge=params.get("code_challenge"),
            tokens=tokens,
            audience=None if txn.api is None else txn.api.identifier,
            dpop_jkt=params.get("dpop_jkt"),
        )
        response = authorization_response(
            txn.redirect_uri, {"code": code, "state": params.get("state")}, issuer=self._issuer.url
        )
        response.delete_cookie(CSRF_COOKIE, path="/")
        return response
