"""The startup check: on ASGI ``lifespan.startup``, fetch the issuer's keys before the app
starts, and fail startup with the reason when they cannot be had."""

from __future__ import annotations

from typing import Protocol

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .._errors import ConfigurationError

__all__ = ["run_lifespan"]


class Preflighted(Protocol):
    """A verifier that can check its issuer now (:meth:`TokenVerifier.preflight`)."""

    async def preflight(self) -> None: ...


async def run_lifespan(
    app: ASGIApp, scope: Scope, receive: Receive, send: Send, verifier: object
) -> None:
    """Run ``app``'s lifespan, with ``verifier.preflight()`` before the app sees startup.

    On failure the server gets ``lifespan.startup.failed`` with the precise cause (ASGI
    lifespan spec: it logs the message and exits) and the app never starts.
    """
    first = await receive()
    if first["type"] == "lifespan.startup":
        checked: Preflighted = verifier  # type: ignore[assignment]
        try:
            await checked.preflight()
        except ConfigurationError as error:
            await send({"type": "lifespan.startup.failed", "message": error.description})
            # As Starlette's router does; a server that was sent the event ignores the error.
            raise
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return first
        return await receive()

    await app(scope, replay, send)
