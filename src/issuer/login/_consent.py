"""Consent for dynamically registered clients.

A registered client chose its own name (RFC 7591 §5: client metadata is self-asserted),
so any local program can register as "the app you know". Before such a client gets a
code, the user who just logged in sees a page naming the client (marked unverified), the
API and the scopes, and answers Allow or Deny. An Allow is remembered for the issuer's
lifetime per (user, client, API); asking for more scopes asks again. Configured clients
are first-party and never see this page.

The pending answer lives on the server, bound to the user who logged in; the form carries
only its unguessable id and a CSRF token that must match the browser's cookie, and each
pending answer is taken once, so a consent cannot be forged, replayed or skipped by
posting straight to ``/consent``.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ..core._errors import OAuthError
from ..core._params import read_form
from ..core._pending import PendingStore
from ..core._records import Api, Client, User
from ._csrf import (
    CSRF_COOKIE,
    FORM_LIFETIME_SECONDS,
    cookie_matches,
    csrf_matches,
    new_csrf_token,
    set_csrf_cookie,
)
from ._pages import consent_page, message_page

__all__ = ["Authorization", "ConsentEndpoint", "ConsentStore"]

_logger = logging.getLogger("issuer.consent")


class Authorization(Protocol):
    """What the consent page shows of a pending authorization request."""

    @property
    def client(self) -> Client: ...

    @property
    def api(self) -> Api | None: ...

    @property
    def redirect_uri(self) -> str: ...


A = TypeVar("A", bound=Authorization)


class ConsentStore:
    """The scopes each user allowed each registered client for each API, in memory."""

    def __init__(self) -> None:
        self._granted: dict[tuple[str, str, str | None], frozenset[str]] = {}

    @staticmethod
    def _key(user: User, client: Client, api: Api | None) -> tuple[str, str, str | None]:
        return (user.user_id, client.client_id, None if api is None else api.identifier)

    def covers(self, user: User, client: Client, api: Api | None, scopes: Sequence[str]) -> bool:
        """Whether ``user`` already allowed ``client`` every one of ``scopes`` at ``api``."""
        granted = self._granted.get(self._key(user, client, api))
        return granted is not None and granted.issuperset(scopes)

    def remember(self, user: User, client: Client, api: Api | None, scopes: Sequence[str]) -> None:
        key = self._key(user, client, api)
        self._granted[key] = self._granted.get(key, frozenset()) | frozenset(scopes)


@dataclass(frozen=True)
class _Pending(Generic[A]):
    authorization: A
    user: User
    scopes: tuple[str, ...]
    csrf_token: str


class ConsentEndpoint(Generic[A]):
    """``GET /consent`` shows the question, ``POST /consent`` takes the answer.

    ``finish`` completes an allowed authorization (actions, code, redirect); ``refuse``
    redirects an authorization back to its client with an error.
    """

    def __init__(
        self,
        *,
        issuer_url: str,
        clock: Callable[[], float],
        finish: Callable[[Request, A, User], Awaitable[Response]],
        refuse: Callable[[A, OAuthError], Response],
        max_pending: int,
    ) -> None:
        self._issuer_url = issuer_url
        self._finish = finish
        self._refuse = refuse
        self._store = ConsentStore()
        self._pending = PendingStore[_Pending[A]](
            clock=clock,
            lifetime_seconds=FORM_LIFETIME_SECONDS,
            max_entries=max_pending,
            logger=_logger,
        )

    def needed(self, authorization: A, user: User, scopes: Sequence[str]) -> bool:
        """Registered clients need the user's consent unless it covers ``scopes`` already."""
        client = authorization.client
        return client.registered and not self._store.covers(user, client, authorization.api, scopes)

    def ask(self, authorization: A, user: User, scopes: Sequence[str]) -> Response:
        """Hold ``authorization`` for ``user`` and send the browser to the consent page."""
        consent_id = secrets.token_urlsafe(24)
        pending = _Pending(authorization, user, tuple(scopes), new_csrf_token())
        self._pending.add(consent_id, pending)
        # 303 after the login POST, so reloading the consent page never reposts the password;
        # the new cookie ties the pending answer to this browser.
        response = RedirectResponse(
            f"{self._issuer_url}consent?{urlencode({'consent': consent_id})}", status_code=303
        )
        set_csrf_cookie(response, pending.csrf_token)
        return response

    async def page(self, request: Request) -> Response:
        consent_id = request.query_params.get("consent", "")
        pending = self._pending.get(consent_id)
        if pending is None:
            return _expired()
        if not cookie_matches(request, pending.csrf_token):
            _logger.warning("consent page refused: the browser is not the one that logged in")
            return _stale()
        authorization = pending.authorization
        return consent_page(
            action=f"{self._issuer_url}consent",
            consent=consent_id,
            csrf_token=pending.csrf_token,
            client=authorization.client,
            api=authorization.api,
            scopes=pending.scopes,
            user_email=pending.user.email,
            redirect_uri=authorization.redirect_uri,
        )

    async def answer(self, request: Request) -> Response:
        try:
            form = await read_form(request)
        except OAuthError as exc:
            _logger.warning("consent refused: %s", exc.description)
            return message_page("Invalid request", exc.description, status_code=400)
        consent_id = form.get("consent", "")
        pending = self._pending.get(consent_id)
        if pending is None:
            _logger.warning("consent refused: no such pending consent (expired, used or made up)")
            return _expired()
        if not csrf_matches(request, form.get("csrf_token", ""), pending.csrf_token):
            _logger.warning("consent refused: CSRF token or cookie does not match")
            return _stale()
        decision = form.get("decision")
        if decision not in ("allow", "deny"):
            _logger.warning("consent refused: decision must be allow or deny")
            return message_page("Invalid request", "Choose Allow or Deny.", status_code=400)
        self._pending.pop(consent_id)
        authorization, user = pending.authorization, pending.user
        client, api = authorization.client, authorization.api
        audience = None if api is None else api.identifier
        if decision == "deny":
            # RFC 6749 §4.1.2.1: the resource owner denied the request (``refuse`` logs it).
            response = self._refuse(
                authorization, OAuthError("access_denied", "the user denied access")
            )
            response.delete_cookie(CSRF_COOKIE, path="/")
            return response
        self._store.remember(user, client, api, pending.scopes)
        _logger.info(
            "user %s allowed client %r %s at %r",
            user.user_id,
            client.client_id,
            " ".join(pending.scopes),
            audience,
        )
        return await self._finish(request, authorization, user)


def _expired() -> Response:
    return message_page(
        "Consent expired", "Start the login again from the application.", status_code=400
    )


def _stale() -> Response:
    return message_page(
        "Invalid request", "The consent form is stale; start again.", status_code=403
    )
