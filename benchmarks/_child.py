"""Running a measured ASGI app under uvicorn in a child process, so it has a core and a GIL
of its own while the load generator runs beside it."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
from collections.abc import Iterator, Sequence
from typing import Any

import uvicorn

__all__ = ["child_process", "serve_and_announce"]


def serve_and_announce(app: Any) -> None:
    """In the child: serve ``app`` on a free 127.0.0.1 port, print that URL, serve on."""
    asyncio.run(_serve(app))


async def _serve(app: Any) -> None:
    # uvicorn binds the port itself, as in production; port 0 picks a free one.
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    while not server.started:
        if serving.done():
            await serving
            raise RuntimeError("uvicorn stopped before it started serving")
        await asyncio.sleep(0.01)
    host, port = server.servers[0].sockets[0].getsockname()[:2]
    print(f"http://{host}:{port}", flush=True)
    await serving


@contextlib.contextmanager
def child_process(argv: Sequence[str]) -> Iterator[str]:
    """Start ``python *argv`` (which calls :func:`serve_and_announce`); yield the URL it
    prints; terminate it on exit."""
    process = subprocess.Popen([sys.executable, *argv], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        if not url:
            raise RuntimeError(f"the server process exited with {process.wait()}")
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
