"""``/console``: the developer console's routes and the rules every one of them follows.

It is a development tool: off unless asked for, enabled only for an issuer on a loopback
URL, and it answers only requests from a loopback peer naming the issuer's own host (a
rebound DNS name still sends its own ``Host``: RFC 9110 §7.4, 421 §15.5.20). Every form
carries the console's CSRF token, which must match its cookie and the server's record.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from ..actions._actionlogs import is_own_host
from ..core._errors import ConfigError, IssuerError, OAuthError
from ..core._options import is_loopback_host
from ..core._params import read_form
from ..login._csrf import csrf_matches, set_csrf_cookie
from ..login._login import TokenSet
from ..login._pages import console_page, message_page
from . import _devpages as pages
from ._inspect import TokenReport, inspect_token
from ._livefeed import LiveFeed
from ._tryaction import parse_event, sample_event, try_action
from ._trypages import Offered, TryChoice, try_form, try_result

if TYPE_CHECKING:
    from .._issuer import Issuer

__all__ = ["CONSOLE_COOKIE", "DevConsole", "check_console_url"]

CONSOLE_COOKIE = "issuer_console_csrf"
DEFAULT_NAMESPACE = "https://myapp.example.com/"
_MAX_CSRF_TOKENS = 64
_KEEPALIVE_SECONDS = 15.0
_logger = logging.getLogger("issuer.console")
Handler = Callable[[Request], Awaitable[Response]]


def check_console_url(issuer_url: str) -> None:
    """Refuse the console for an issuer that is not on a loopback URL."""
    host = (urlsplit(issuer_url).hostname or "").lower()
    if not is_loopback_host(host):
        raise ConfigError(
            f"the developer console serves only a loopback issuer, not {host!r}", key="console"
        )


def _is_loopback_peer(request: Request) -> bool:
    return request.client is not None and is_loopback_host(request.client.host.lower())


class DevConsole:
    """The console of one issuer: its pages, its CSRF tokens and its live feed."""

    def __init__(self, issuer: Issuer) -> None:
        check_console_url(issuer.url)
        self.issuer = issuer
        self._csrf_tokens: deque[str] = deque(maxlen=_MAX_CSRF_TOKENS)
        self.feed = LiveFeed(
            issuer.activity,
            records=issuer.action_logs,
            secret_values=issuer.secret_values,
            clock=issuer.clock,
        )
        issuer.pipeline.on_tokens = self.feed.tokens_issued

    # -- the rules ------------------------------------------------------------------

    def _refuse(self, request: Request, status: int, reason: str) -> Response:
        _logger.warning("%s %s refused (%d): %s", request.method, request.url.path, status, reason)
        return message_page("Refused", reason, status_code=status)

    def _guarded(self, handler: Handler, *, form: bool = False) -> Handler:
        async def guarded(request: Request) -> Response:
            if not _is_loopback_peer(request):
                return self._refuse(request, 403, "The console answers only loopback clients.")
            if not is_own_host(request.headers.get("host", ""), self.issuer.url):
                return self._refuse(request, 421, "This host name is not the issuer's.")
            if self._cross_site(request):
                # A page elsewhere may not even make the console mint a CSRF token or hold
                # a live stream open: browsers say where a request comes from (Fetch
                # Metadata, Origin), and only the console's own pages are let in.
                return self._refuse(request, 403, "The console answers only its own pages.")
            if form:
                try:
                    request.state.form = await read_form(request)
                except OAuthError as exc:
                    return self._refuse(request, exc.status_code, exc.description)
                if not self._csrf_ok(request, request.state.form.get("csrf_token", "")):
                    return self._refuse(request, 403, "The form's CSRF token is missing or stale.")
            return await handler(request)

        return guarded

    def _cross_site(self, request: Request) -> bool:
        # Fetch Metadata first: browsers that send it say exactly where a request comes
        # from (a form posted under `Referrer-Policy: no-referrer` carries `Origin: null`).
        site = request.headers.get("sec-fetch-site")
        if site is not None:
            return site not in ("same-origin", "none")
        origin = request.headers.get("origin")
        if origin is None:
            return False
        return origin == "null" or not is_own_host(urlsplit(origin).netloc, self.issuer.url)

    def _csrf_ok(self, request: Request, sent: str) -> bool:
        return any(
            csrf_matches(request, sent, known, name=CONSOLE_COOKIE) for known in self._csrf_tokens
        )

    def csrf_token(self, request: Request) -> str:
        """This browser's console token: the cookie's when the server issued it, else new."""
        cookie = request.cookies.get(CONSOLE_COOKIE, "")
        if cookie in self._csrf_tokens:
            return cookie
        token = secrets.token_urlsafe(24)
        self._csrf_tokens.append(token)
        return token

    def _page(
        self,
        request: Request,
        title: str,
        current: str,
        body: str,
        *,
        script: bool = False,
        status_code: int = 200,
    ) -> Response:
        token = self.csrf_token(request)
        main = pages.frame(title, current, body.replace(pages.CSRF_SLOT, pages.csrf_field(token)))
        response = console_page(title, main, script=script, status_code=status_code)
        set_csrf_cookie(response, token, name=CONSOLE_COOKIE, path="/console")
        return response

    # -- pages ----------------------------------------------------------------------

    async def directory(self, request: Request) -> Response:
        body = pages.directory(self.issuer.directory, self.issuer.keys)
        return self._page(request, "Directory", "directory", body)

    async def login_as(self, request: Request) -> Response:
        form: dict[str, str] = request.state.form
        email, client_id = form.get("email", ""), form.get("client_id", "")
        audience = form.get("audience") or None
        try:
            tokens = await self.issuer.login(email, client_id=client_id, audience=audience)
        except (IssuerError, KeyError) as exc:
            body = pages.alert(f"No tokens for {email}: {exc}")
            return self._page(request, "Tokens", "directory", body)
        reports = {
            name: inspect_token(
                token,
                keys=self.issuer.keys,
                now=self.issuer.clock(),
                namespaces=[DEFAULT_NAMESPACE],
            )
            for name, token in (
                ("access_token", tokens.access_token),
                ("id_token", tokens.id_token),
            )
            if token is not None
        }
        body = pages.token_set(f"Tokens for {email}", tokens, reports)
        return self._page(request, "Tokens", "directory", body)

    async def tokens(self, request: Request) -> Response:
        body = pages.inspector("", DEFAULT_NAMESPACE, None)
        return self._page(request, "Tokens", "tokens", body)

    async def inspect(self, request: Request) -> Response:
        form: dict[str, str] = request.state.form
        token, namespaces = form.get("token", ""), form.get("namespaces", DEFAULT_NAMESPACE)
        report = inspect_token(
            token, keys=self.issuer.keys, now=self.issuer.clock(), namespaces=namespaces.split()
        )
        return self._page(request, "Tokens", "tokens", pages.inspector(token, namespaces, report))

    def _reports(self, tokens: TokenSet) -> dict[str, TokenReport]:
        now, keys = self.issuer.clock(), self.issuer.keys
        return {
            name: inspect_token(token, keys=keys, now=now, namespaces=[DEFAULT_NAMESPACE])
            for name, token in (
                ("access_token", tokens.access_token),
                ("id_token", tokens.id_token),
            )
            if token is not None
        }

    async def live(self, request: Request) -> Response:
        return self._page(request, "Live logins", "live", pages.live(), script=True)

    async def events(self, request: Request) -> Response:
        queue = self.feed.subscribe()
        if queue is None:
            return self._refuse(request, 503, "Too many live streams are open; close one.")
        backlog = [json.dumps(e, default=str) for e in self.feed.entries()]

        async def stream() -> AsyncIterator[str]:
            # Server-Sent Events (WHATWG HTML §9.2): one "data:" line per JSON entry.
            try:
                for message in backlog:
                    yield f"data: {message}\n\n"
                while True:
                    try:
                        message = await asyncio.wait_for(queue.get(), _KEEPALIVE_SECONDS)
                    except TimeoutError:
                        yield ": keep-alive\n\n"
                        continue
                    yield f"data: {message}\n\n"
            finally:
                self.feed.unsubscribe(queue)

        return StreamingResponse(
            stream(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    async def execution(self, request: Request) -> Response:
        entry_id = request.path_params["entry_id"]
        entry = self.feed.entry(entry_id)
        if entry is None:
            body = pages.alert("No such login in memory: the console keeps only recent ones.")
            return self._page(request, "Login", "live", body)
        tokens = self.feed.tokens(entry_id)
        decoded = "" if tokens is None else pages.token_set("Tokens", tokens, self._reports(tokens))
        return self._page(request, "Login", "live", pages.execution(entry) + decoded)

    async def try_page(self, request: Request) -> Response:
        offered = self._offered()
        chosen = TryChoice.of(request.query_params, offered)
        event, problem = self._sample(chosen)
        body = (pages.alert(problem) if problem else "") + try_form(offered, chosen, event)
        return self._page(request, "Try an action", "try", body)

    def _offered(self) -> Offered:
        # Read at each request: a live reload changes users, clients and actions.
        return Offered(self.issuer.directory, self.issuer.registered_actions())

    def _sample(self, chosen: TryChoice) -> tuple[str, str | None]:
        try:
            return sample_event(self.issuer, chosen.email, chosen.client_id, chosen.audience), None
        except (IssuerError, KeyError) as exc:
            return "{}", f"No event for that choice: {exc}"

    async def try_run(self, request: Request) -> Response:
        form: dict[str, str] = request.state.form
        offered = self._offered()
        chosen = TryChoice.of(form, offered)
        action = next((a for a in offered.actions if a.name == chosen.action), None)
        text, problem = (form["event"], None) if form.get("event") else self._sample(chosen)
        try:
            event = parse_event(text)
        except ValueError as exc:
            problem = str(exc)
        if action is None or problem:
            body = pages.alert(problem or "Choose an action.") + try_form(offered, chosen, text)
            return self._page(request, "Try an action", "try", body, status_code=400)
        result = await try_action(
            action,
            event,
            secrets=self.issuer.secret_map(),
            budget_seconds=self.issuer.pipeline.budget_seconds,
            clock=self.issuer.clock,
        )
        body = try_form(offered, chosen, text) + try_result(action.name, result)
        return self._page(request, "Try an action", "try", body)

    async def index(self, request: Request) -> Response:
        return RedirectResponse("/console/directory", status_code=303)

    def routes(self) -> list[BaseRoute]:
        """The console's routes, each behind the rules above."""
        g = self._guarded
        return [
            Route("/console", g(self.index), methods=["GET"]),
            Route("/console/directory", g(self.directory), methods=["GET"]),
            Route("/console/live", g(self.live), methods=["GET"]),
            Route("/console/events", g(self.events), methods=["GET"]),
            Route("/console/executions/{entry_id}", g(self.execution), methods=["GET"]),
            Route("/console/login-as", g(self.login_as, form=True), methods=["POST"]),
            Route("/console/try", g(self.try_page), methods=["GET"]),
            Route("/console/try", g(self.try_run, form=True), methods=["POST"]),
            Route("/console/tokens", g(self.tokens), methods=["GET"]),
            Route("/console/tokens", g(self.inspect, form=True), methods=["POST"]),
        ]
