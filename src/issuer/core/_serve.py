"""Run any ASGI app under a real uvicorn server on a loopback port, in a background thread."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from ._errors import IssuerError

__all__ = ["bind_socket", "serve_in_thread"]


def bind_socket(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """Bind and listen on ``host:port`` (port 0 picks a free one); the caller owns the socket."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Accepted connections inherit this: small responses go out at once instead of
        # waiting on the peer's delayed ACK.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, port))
        sock.listen(128)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


def socket_url(sock: socket.socket) -> str:
    """The ``http://host:port`` base URL of a bound socket."""
    host, port = sock.getsockname()[:2]
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


@contextmanager
def serve_in_thread(
    app: Any,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    sock: socket.socket | None = None,
    startup_timeout_seconds: float = 10.0,
    shutdown_timeout_seconds: float = 5.0,
) -> Iterator[str]:
    """Serve ``app`` with uvicorn in a daemon thread; yield its base URL, e.g. ``http://127.0.0.1:54321``.

    The socket is bound before the server starts, so with ``port=0`` the URL is known up
    front; pass an already bound ``sock`` (see :func:`bind_socket`) to learn it even earlier.
    The context is entered only once the server accepts connections, and on exit the server
    is shut down and the socket closed.
    """
    own_socket = sock is None
    listener = bind_socket(host, port) if sock is None else sock
    try:
        config = uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            lifespan="auto",
            timeout_graceful_shutdown=int(max(shutdown_timeout_seconds, 1)),
        )
        server = uvicorn.Server(config)
        failure: list[BaseException] = []

        def run() -> None:
            try:
                server.run(sockets=[listener])
            except BaseException as exc:  # SystemExit on a failed lifespan startup
                failure.append(exc)

        thread = threading.Thread(target=run, name=f"uvicorn {socket_url(listener)}", daemon=True)
        thread.start()
        deadline = time.monotonic() + startup_timeout_seconds
        while not server.started:
            if not thread.is_alive():
                raise IssuerError(f"server for {socket_url(listener)} failed to start: {failure!r}")
            if time.monotonic() > deadline:
                server.should_exit = True
                thread.join(shutdown_timeout_seconds)
                raise IssuerError(f"server for {socket_url(listener)} did not start in time")
            time.sleep(0.005)
        try:
            yield socket_url(listener)
        finally:
            server.should_exit = True
            thread.join(shutdown_timeout_seconds + 1)
    finally:
        if own_socket:
            listener.close()
