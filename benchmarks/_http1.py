"""A minimal keep-alive HTTP/1.1 client (GET, form POST) on asyncio streams, for load
generation.

httpx spends far more time per request than the server under test; this client only
writes a request and reads a ``Content-Length`` response, so the server stays the
bottleneck. Loopback only; no chunked bodies, no redirects, no TLS.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from types import TracebackType
from typing import Self
from urllib.parse import urlencode

__all__ = ["Connection"]


class Connection:
    """One persistent connection to ``127.0.0.1:port``; reconnects after the server closes."""

    def __init__(self, port: int, *, host: str = "127.0.0.1", timeout_seconds: float = 10) -> None:
        self._host = host
        self._port = port
        self._timeout = timeout_seconds
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def get(self, path: str, headers: dict[str, str]) -> tuple[int, bytes]:
        """Send ``GET path``; return the status and the body. Raises ``OSError`` on failure."""
        return await self._request("GET", path, headers, b"")

    async def post_form(
        self, path: str, form: Mapping[str, str], headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        """Send ``POST path`` with ``form`` url-encoded; return the status and the body."""
        body = urlencode(form).encode("ascii")
        fields = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Content-Length": str(len(body)),
            **(headers or {}),
        }
        return await self._request("POST", path, fields, body)

    async def _request(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, bytes]:
        try:
            async with asyncio.timeout(self._timeout):
                return await self._exchange(method, path, headers, body)
        except BaseException:
            # A request cut off midway leaves the stream unusable: start afresh next time.
            await self.aclose()
            raise

    async def _exchange(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, bytes]:
        if self._reader is None or self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self._host, self._port)
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self._host}:{self._port}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        self._writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        await self._writer.drain()
        try:
            head = await self._reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            raise ConnectionResetError("the server closed the connection") from exc
        status_line, *fields = head.decode("latin-1").split("\r\n")
        status = int(status_line.split(" ", 2)[1])
        length, close = 0, False
        for field in fields:
            name, _, value = field.partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "connection" and value.strip().lower() == "close":
                close = True
        answer = await self._reader.readexactly(length)
        if close:
            await self.aclose()
        return status, answer

    async def aclose(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()
