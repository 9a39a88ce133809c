"""A WebSocket under the middleware: its handshake refused, or the connection closed when
its token expires (RFC 6455)."""

from __future__ import annotations

import contextlib

import anyio
from anyio.abc import TaskGroup
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .._clock import Clock
from ._challenge import Challenge

__all__ = ["refuse_websocket", "run_until_expiry"]

# RFC 6455 §7.4.1: 1008 policy violation, 1011 unexpected condition on the server.
_POLICY_VIOLATION = 1008
_SERVER_ERROR = 1011
_DENIAL_EXTENSION = "websocket.http.response"
_HANDSHAKE_REFUSED = 403
_MAX_CLOSE_REASON_BYTES = 123


async def run_until_expiry(
    app: ASGIApp, scope: Scope, receive: Receive, send: Send, expires_at: float, clock: Clock
) -> None:
    """Run ``app`` on the accepted socket; close it with 1008 at ``expires_at`` on ``clock``
    unless either side has closed it by then."""
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
            await app(scope, tracked_receive, tracked_send)
        except Exception as exc:  # re-raised below, unwrapped from the task group
            failure = exc
        task_group.cancel_scope.cancel()
    if failure is not None:
        raise failure


class _SocketState:
    __slots__ = ("closed",)

    def __init__(self) -> None:
        self.closed = False


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
