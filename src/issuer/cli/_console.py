"""The ``serve`` console: one line per request, per action output line and per login.

Nothing secret reaches it: requests are logged without query strings, bodies or headers,
and a failed login names the exception's type only (its text is in the action log).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Sequence
from typing import TextIO

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..actions._capture import real_stdout
from ..core._activity import ActionOutput, Activity, Event, LoginOutcome, RequestServed, mask

__all__ = ["Console", "RequestLog", "console_app", "printable", "text_line"]

# Control characters (ANSI escapes included) from a path or an action's output could
# rewrite the operator's terminal, and bidi or line-separator characters reorder or split
# what it shows; they are shown escaped instead.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    return _CONTROL.sub(_escaped, text)


def _escaped(match: re.Match[str]) -> str:
    code = ord(match[0])
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _login_line(event: LoginOutcome) -> str:
    who = (
        f"login {event.user} via {event.grant}"
        if event.user is not None
        else f"token via {event.grant}"
    )
    if event.outcome == "denied":
        result = f"denied by {event.action or 'an action'}: {event.reason}"
    elif event.outcome == "refused":
        result = f"refused: {event.reason}"
    elif event.outcome == "paused":
        by = f" by {event.action}" if event.action else ""
        result = f"paused{by}, waiting for {event.reason}"
    elif event.outcome == "failed":
        where = f" in {event.action}" if event.action else ""
        result = f"failed{where} ({event.error_type})"
    else:
        result = event.outcome
    actions = ", ".join(event.actions) or "none"
    return (
        f"{who} for client {event.client_id}: {result} "
        f"(actions: {actions}) {event.duration_ms:.0f} ms"
    )


def text_line(event: Event) -> str:
    """The console line for ``event``."""
    if isinstance(event, RequestServed):
        line = f"{event.method} {event.path} {event.status} {event.duration_ms:.0f} ms"
    elif isinstance(event, ActionOutput):
        who = event.user if event.user is not None else f"client {event.client_id}"
        line = f"[{event.action}] {who}: {event.line}"
    else:
        line = _login_line(event)
    return printable(line)


class Console:
    """Prints issuer events to ``stream`` (default: standard output), as text or JSON lines.

    JSON lines carry the event's fields plus ``time`` (seconds since the epoch); keys are
    sorted and stable.
    """

    def __init__(
        self,
        *,
        json_lines: bool = False,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.time,
        secret_values: Callable[[], Sequence[str]] = lambda: (),
    ) -> None:
        self._json = json_lines
        self._secret_values = secret_values
        self._stream = stream if stream is not None else real_stdout()
        self._clock = clock
        self._lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        if self._json:
            line = json.dumps({**event.to_dict(), "time": self._clock()}, sort_keys=True)
        else:
            line = text_line(event)
        # An action may print or deny with an event.secrets value: never on the console.
        line = mask(line, self._secret_values())
        with self._lock:
            self._stream.write(line + "\n")
            self._stream.flush()


class RequestLog:
    """ASGI middleware emitting one :class:`RequestServed` per HTTP request to ``activity``."""

    def __init__(self, app: ASGIApp, activity: Activity) -> None:
        self.app = app
        self.activity = activity

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the server answers when the app raises before responding

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            self.activity.emit(
                RequestServed(
                    method=scope["method"],
                    # The path only: a query string can carry codes, states and secrets.
                    path=scope["path"],
                    status=status,
                    duration_ms=round((time.perf_counter() - started) * 1000, 3),
                )
            )


def console_app(
    issuer_app: ASGIApp,
    activity: Activity,
    *,
    json_lines: bool,
    secret_values: Callable[[], Sequence[str]] = lambda: (),
) -> ASGIApp:
    """``issuer_app`` logging each request, with a :class:`Console` following ``activity``
    that masks ``secret_values()`` in what it prints."""
    activity.subscribe(Console(json_lines=json_lines, secret_values=secret_values))
    return RequestLog(issuer_app, activity)
