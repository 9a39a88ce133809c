"""The second factor at the login page: a one-time code, or enrolment for a user with no
secret yet (a new secret shown as text and QR code, confirmed by a first code).

The paused login stays on the server; the form carries only its unguessable id and a CSRF
token that must match the browser's cookie (RFC 9700 §4.7). Wrong codes count against
the user in the issuer's attempt throttle (RFC 6238 §5.2: "the verifier MUST ... throttle
the number of allowed attempts"; RFC 4226 §7.3), and a code is good once (see
:class:`CodeChecker`). A user who enrols here gets the secret only once the first code
proves the app holds it, and only if the user still has none then: an enrolment form
opened earlier can neither log in nor replace a secret confirmed since (compare-and-set,
see :meth:`TotpSecrets.enrol_if_absent`). With ``enrolment`` off, a user without a secret
is refused instead of being shown one.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from starlette.requests import Request
from starlette.responses import Response

from ..core._errors import OAuthError, TooManyAttempts
from ..core._params import read_form
from ..core._pending import PendingStore
from ..core._throttle import AttemptThrottle
from ..core._totp import CodeChecker, new_secret, provisioning_uri, qr_svg
from ._continue import CarryOn
from ._csrf import FORM_LIFETIME_SECONDS, csrf_matches, new_csrf_token, set_csrf_cookie
from ._enrolment import TotpSecrets
from ._login import TokenSet
from ._mfapages import code_page, enrolment_page
from ._pages import message_page
from ._pause import PendingLogin
from ._sessions import SessionStore

__all__ = ["MfaEndpoint"]

A = TypeVar("A")
_logger = logging.getLogger("issuer.mfa")
# A TOTP code is good once (RFC 6238 §5.2): a second login within the same 30-second step
# needs the next code, so the message says to wait for it rather than to type better.
WRONG_CODE = (
    "Wrong code, or one already used: each code works only once."
    " Wait for your authenticator app to show the next code and enter that one."
)


@dataclass
class _Asking(Generic[A]):
    pending: PendingLogin
    authorization: A
    csrf_token: str
    #: The secret offered to a user who has none yet; kept only once a code confirms it.
    new_secret: str | None


class MfaEndpoint(Generic[A]):
    """Asks for the code of a paused login and resumes it once the code is right."""

    def __init__(
        self,
        *,
        issuer_url: str,
        clock: Callable[[], float],
        configured: Callable[[str], str | None],
        enrolled: TotpSecrets,
        sessions: SessionStore,
        throttle: AttemptThrottle,
        checker: CodeChecker,
        resume: Callable[..., Awaitable[TokenSet]],
        carry_on: CarryOn[A],
        enrolment: bool = True,
        max_pending: int,
    ) -> None:
        self._issuer_url = issuer_url
        self._clock = clock
        self._configured = configured
        self._sessions = sessions
        self._enrolled = enrolled
        self._throttle = throttle
        self._checker = checker
        self._resume = resume
        self._carry_on = carry_on
        self._enrolment = enrolment
        self._asking = PendingStore[_Asking[A]](
            clock=clock,
            lifetime_seconds=FORM_LIFETIME_SECONDS,
            max_entries=max_pending,
            logger=_logger,
        )

    def _secret(self, email: str) -> str | None:
        return self._configured(email) or self._enrolled.get(email)

    def ask(self, pending: PendingLogin, authorization: A) -> Response:
        """Keep ``pending`` and answer with the code form (or enrolment)."""
        email = pending.request.user.email
        if self._secret(email) is None and not self._enrolment:
            _logger.warning("second factor refused for %r: no secret, enrolment is off", email)
            return message_page(
                "Second factor not set up",
                "This login needs a one-time code, and no authenticator app is set up for"
                " this account. Ask the administrator to set one up.",
                status_code=403,
            )
        fresh = None if self._secret(email) is not None else new_secret()
        asking = _Asking(pending, authorization, new_csrf_token(), fresh)
        transaction = secrets.token_urlsafe(24)
        self._asking.add(transaction, asking)
        response = self._page(transaction, asking)
        set_csrf_cookie(response, asking.csrf_token)
        return response

    def _page(
        self,
        transaction: str,
        asking: _Asking[A],
        *,
        error: str | None = None,
        too_many: TooManyAttempts | None = None,
    ) -> Response:
        email = asking.pending.request.user.email
        if too_many is not None:
            # RFC 6585 §4: 429 with Retry-After; the form stays, for a later try.
            error = f"Too many wrong codes. Try again in {too_many.retry_after_seconds} seconds."
        status_code = 200 if too_many is None else too_many.status_code
        headers = None if too_many is None else too_many.headers
        action = f"{self._issuer_url}mfa"
        if asking.new_secret is None:
            return code_page(
                action=action,
                transaction=transaction,
                csrf_token=asking.csrf_token,
                user_email=email,
                error=error,
                status_code=status_code,
                headers=headers,
            )
        uri = provisioning_uri(asking.new_secret, email=email, issuer_name=self._issuer_url)
        return enrolment_page(
            action=action,
            transaction=transaction,
            csrf_token=asking.csrf_token,
            user_email=email,
            secret=asking.new_secret,
            qr_svg=qr_svg(uri),
            error=error,
            status_code=status_code,
            headers=headers,
        )

    async def answer(self, request: Request) -> Response:
        """``POST /mfa``: check the code; resume the login when it is right."""
        try:
            form = await read_form(request)
        except OAuthError as exc:
            return message_page("Invalid request", exc.description, status_code=400)
        transaction = form.get("transaction", "")
        asking = self._asking.get(transaction)
        if asking is None:
            _logger.warning("one-time code refused: unknown or expired form")
            return message_page(
                "Login expired", "Start the login again from the application.", status_code=400
            )
        if not csrf_matches(request, form.get("csrf_token", ""), asking.csrf_token):
            _logger.warning("one-time code refused: CSRF token or cookie does not match")
            return message_page(
                "Invalid request", "The code form is stale; start again.", status_code=403
            )
        user = asking.pending.request.user
        key = user.email.lower()
        if asking.new_secret is not None and self._secret(user.email) is not None:
            # The user enrolled since this form was shown: a code for its secret proves
            # nothing the user set up, so it neither logs in nor replaces their secret.
            return self._stale_enrolment(transaction, user.email)
        try:
            self._throttle.check("otp", key)
        except TooManyAttempts as exc:
            return self._page(transaction, asking, too_many=exc)
        secret = asking.new_secret or self._secret(user.email)
        if secret is None or not self._checker.check(key, secret, form.get("code", "")):
            self._throttle.record("otp", key, succeeded=False)
            _logger.warning("one-time code refused for %r: wrong, expired or used", user.email)
            return self._page(transaction, asking, error=WRONG_CODE)
        self._throttle.record("otp", key, succeeded=True)
        if self._asking.pop(transaction) is None:
            return message_page(
                "Login already used", "Start the login again from the application.", status_code=400
            )
        if asking.new_secret is not None:
            if not self._enrolled.enrol_if_absent(user.email, asking.new_secret):
                return self._stale_enrolment(transaction, user.email)
            # The secret is set: every other enrolment form of the user is stale now.
            self._asking.discard_if(
                lambda a: a.new_secret is not None and a.pending.request.user.email.lower() == key
            )
        pending = asking.pending
        now = self._clock()
        pending.request.add_methods([{"name": "otp", "timestamp": now}])
        if pending.request.session is not None:
            self._sessions.record_method(
                pending.request.session, "otp", at=now, remember=pending.changes.mfa_remember
            )

        async def step() -> TokenSet:
            return await self._resume(pending, request=pending.request.request, params={})

        return await self._carry_on(request, asking.authorization, step)

    def _stale_enrolment(self, transaction: str, email: str) -> Response:
        self._asking.pop(transaction)
        _logger.warning("enrolment refused for %r: a second factor was set up meanwhile", email)
        return message_page(
            "Login expired",
            "A second factor was set up for this account after this page was shown."
            " Start the login again from the application.",
            status_code=400,
        )
