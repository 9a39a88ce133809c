"""``python examples/mcp_server.py`` as a user runs it: the bundled issuer and the MCP server
on their ports, the metadata discoverable, the MCP endpoint refusing anonymous calls."""

from __future__ import annotations

import subprocess
import sys
import time

import httpx
import pytest

from issuer import bind_socket

from .conftest import EXAMPLES, ROOT

pytest.importorskip("mcp", reason="the mcp extra is not installed")
pytestmark = pytest.mark.slow


def free_port() -> int:
    with bind_socket() as sock:
        port: int = sock.getsockname()[1]
    return port


def wait_for(url: str, deadline_seconds: float = 20) -> httpx.Response:
    deadline = time.monotonic() + deadline_seconds
    while True:
        try:
            return httpx.get(url, timeout=2)
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def test_the_example_serves_a_protected_mcp_endpoint() -> None:
    port, issuer_port = free_port(), free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            str(EXAMPLES / "mcp_server.py"),
            "--port",
            str(port),
            "--issuer-port",
            str(issuer_port),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        assert f"MCP server http://127.0.0.1:{port}/mcp" in banner, banner
        metadata = wait_for(f"http://127.0.0.1:{port}/.well-known/oauth-protected-resource/mcp")
        assert metadata.status_code == 200
        assert metadata.json()["resource"] == f"http://127.0.0.1:{port}/mcp"
        assert metadata.json()["authorization_servers"] == [f"http://127.0.0.1:{issuer_port}/"]
        issuer = httpx.get(
            f"http://127.0.0.1:{issuer_port}/.well-known/oauth-authorization-server", timeout=5
        )
        assert issuer.json()["issuer"] == f"http://127.0.0.1:{issuer_port}/"
        anonymous = httpx.post(
            f"http://127.0.0.1:{port}/mcp",
            json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
            timeout=5,
        )
        assert anonymous.status_code == 401
        assert "resource_metadata=" in anonymous.headers["www-authenticate"]
    finally:
        process.terminate()
        process.wait(timeout=20)
        if process.stdout is not None:
            process.stdout.close()
