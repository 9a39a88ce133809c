"""``examples/websocket_app.py`` behind real uvicorn, with a real WebSocket client."""

from __future__ import annotations

import pytest
import websockets
from examples.websocket_app import create_app

from issuer import IssuerServer

from .conftest import Serve, bearer

pytestmark = pytest.mark.anyio


async def test_premium_users_get_an_echo_others_are_refused(
    example_issuer: IssuerServer, serve: Serve
) -> None:
    alice = await example_issuer.issuer.login("alice@example.com")
    bob = await example_issuer.issuer.login("bob@example.com")
    with serve(create_app(issuer_url=example_issuer.url)) as url:
        ws_url = "ws" + url.removeprefix("http") + "/ws/shout"
        async with websockets.connect(ws_url, additional_headers=bearer(alice.access_token)) as ws:
            await ws.send("premium hello")
            assert await ws.recv() == "PREMIUM HELLO"

        with pytest.raises(websockets.InvalidStatus) as anonymous:
            async with websockets.connect(ws_url):
                raise AssertionError("the handshake should have been refused")
        assert anonymous.value.response.status_code == 403

        with pytest.raises(websockets.InvalidStatus) as lacking:
            async with websockets.connect(ws_url, additional_headers=bearer(bob.access_token)):
                raise AssertionError("the handshake should have been refused")
        # A close before the accept is how an ASGI server refuses a handshake: HTTP 403.
        assert lacking.value.response.status_code == 403
