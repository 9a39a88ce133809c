"""``/continue``: where the browser comes back after a redirect action sent it away.

The paused login stays on the server under its ``state`` (unguessable, in the URL the
action's page received). Coming back needs that ``state`` and the cookie set on this
browser when it was sent away (so a ``state`` that leaks, through a referrer or a log,
completes no login in another browser); each state is taken once and lapses after
``lifetime_seconds``. The cookie is ``SameSite=Lax``: a page on another site comes back
with a top-level GET (a link or a redirect), as Auth0 documents; a POST works from the
same site.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ..core._errors import IssuerError, OAuthError
from ..core._params import read_form, request_info, single_params
from ..core._pending import PendingStore
from ._login import TokenSet
from ._pages import message_page
from ._pause import PendingLogin

__all__ = ["CONTINUE_COOKIE", "CarryOn", "ContinueEndpoint"]

A = TypeVar("A")
CONTINUE_COOKIE = "issuer_continue"
#: Runs one step of a login for an authorization and answers the browser.
CarryOn = Callable[[Request, A, Callable[[], Awaitable[TokenSet]]], Awaitable[Response]]
_logger = logging.getLogger("issuer.continue")


@dataclass(frozen=True)
class _Away(Generic[A]):
    pending: PendingLogin
    authorization: A
    binding: str


class ContinueEndpoint(Generic[A]):
    """Holds logins a redirect action paused, and resumes them at ``/continue``."""

    def __init__(
        self,
        *,
        clock: Callable[[], float],
        lifetime_seconds: float,
        resume: Callable[..., Awaitable[TokenSet]],
        carry_on: CarryOn[A],
        max_pending: int,
    ) -> None:
        self._lifetime_seconds = lifetime_seconds
        self._resume = resume
        self._carry_on = carry_on
        self._away = PendingStore[_Away[A]](
            clock=clock,
            lifetime_seconds=lifetime_seconds,
            max_entries=max_pending,
            logger=_logger,
        )

    def hold(self, pending: PendingLogin, authorization: A) -> Response:
        """Keep ``pending`` and send the browser where its action asked."""
        state, url = pending.request.continue_state, pending.redirect_url
        if state is None or url is None:
            raise IssuerError("only a browser login sent away by an action can be held")
        binding = secrets.token_urlsafe(24)
        self._away.add(state, _Away(pending, authorization, binding))
        response = RedirectResponse(url, status_code=303)
        response.set_cookie(
            CONTINUE_COOKIE,
            binding,
            httponly=True,
            samesite="lax",
            path="/continue",
            max_age=max(1, int(self._lifetime_seconds)),
        )
        return response

    async def handle(self, request: Request) -> Response:
        """``GET``/``POST /continue?state=…``: resume the login paused under ``state``."""
        try:
            query = single_params(request.query_params.multi_items())
            body = await read_form(request) if request.method == "POST" else {}
        except OAuthError as exc:
            return message_page("Invalid request", exc.description, status_code=400)
        state = query.get("state") or body.get("state", "")
        away = self._away.get(state)
        if away is None:
            _logger.warning("continue refused: unknown, expired or already used state")
            return message_page(
                "Login expired",
                "This login cannot be continued (it expired or was already continued)."
                " Start the login again from the application.",
                status_code=400,
            )
        cookie = request.cookies.get(CONTINUE_COOKIE, "").encode()
        if not hmac.compare_digest(cookie, away.binding.encode()):
            # Not consumed: a stranger holding the state cannot cancel the real login.
            _logger.warning("continue refused: the browser is not the one that was sent away")
            return message_page(
                "Invalid request",
                "This login was started in another browser; continue it there.",
                status_code=403,
            )
        self._away.pop(state)
        params = {**query, **body}
        info = request_info(request, query=query, body=body)

        async def step() -> TokenSet:
            return await self._resume(away.pending, request=info, params=params)

        response = await self._carry_on(request, away.authorization, step)
        cookies = [v for k, v in response.raw_headers if k == b"set-cookie"]
        if not any(v.startswith(CONTINUE_COOKIE.encode() + b"=") for v in cookies):
            # Unless the login was sent away again (a new cookie), this one is spent.
            response.delete_cookie(CONTINUE_COOKIE, path="/continue")
        return response
