import socket

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from websockets.sync.client import connect

from issuer import IssuerError, bind_socket, serve_in_thread


async def hello(request: Request) -> PlainTextResponse:
    return PlainTextResponse(f"hello from {request.url.port}")


APP = Starlette(routes=[Route("/", hello)])


def test_serve_in_thread_answers_on_a_free_loopback_port() -> None:
    with serve_in_thread(APP) as url:
        assert url.startswith("http://127.0.0.1:")
        port = int(url.rsplit(":", 1)[1])
        response = httpx.get(url + "/")
        assert response.text == f"hello from {port}"


def test_serve_in_thread_releases_the_port_on_exit() -> None:
    with serve_in_thread(APP) as url:
        port = int(url.rsplit(":", 1)[1])
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0


def test_serve_in_thread_uses_a_socket_bound_in_advance() -> None:
    sock = bind_socket()
    port = sock.getsockname()[1]
    with sock, serve_in_thread(APP, sock=sock) as url:
        assert url == f"http://127.0.0.1:{port}"
        assert httpx.get(url + "/").status_code == 200


def test_serve_in_thread_reports_a_failed_startup() -> None:
    async def broken(scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "lifespan"
        await receive()
        await send({"type": "lifespan.startup.failed", "message": "no database"})

    with pytest.raises(IssuerError, match="failed to start"), serve_in_thread(broken):
        pass


async def echo(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text(await websocket.receive_text())
    await websocket.close()


def test_serve_in_thread_serves_websockets() -> None:
    app = Starlette(routes=[WebSocketRoute("/ws", echo)])
    with serve_in_thread(app) as url, connect(url.replace("http", "ws", 1) + "/ws") as ws:
        ws.send("ping")
        assert ws.recv() == "ping"
