"""Fetching small JSON documents (discovery, JWKS) from the issuer, defensively.

Async httpx with a total deadline, no redirects (a redirect is a failure: the issuer's
URLs are configuration, not suggestions), a cap on the decoded body size (so neither a
huge body nor a gzip bomb is read past the cap), a descriptive User-Agent, and ``https``
required except for loopback hosts. Every failure becomes :class:`FetchError` here,
chained from the httpx or json exception; none escapes further.
"""

from __future__ import annotations

import ipaddress
import json
import zlib
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpx

__all__ = ["FetchError", "JSONFetcher", "is_loopback", "url_problem"]


_ZLIB_WBITS = {"gzip": 31, "x-gzip": 31, "deflate": 15}


class FetchError(Exception):
    """A document could not be fetched or was not what was expected.

    ``unreachable`` is true when the issuer did not answer (a network error, a timeout, an
    HTTP 5xx status), false when it answered with something wrong (a 404, not JSON …).
    """

    def __init__(self, message: str, *, unreachable: bool = False) -> None:
        super().__init__(message)
        self.unreachable = unreachable


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine: ``localhost`` or a loopback address."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def url_problem(url: str) -> str | None:
    """Return why ``url`` may not be fetched from, or ``None`` when it may."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return f"{url!r} is not a URL"
    if "://" not in url:
        return _no_scheme(url)
    if parts.scheme not in ("https", "http"):
        return f"{url!r} must use https (plain http is allowed for loopback hosts only)"
    if not parts.hostname:
        return f"{url!r} has no host"
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        return f"{url!r} must use https (plain http is allowed for loopback hosts only)"
    return None


def _no_scheme(url: str) -> str:
    # "127.0.0.1:9000" splits as a path and "localhost:9000" as scheme "localhost": neither
    # is a scheme the writer meant, so name the missing part rather than "must use https".
    try:
        host = urlsplit("//" + url).hostname or ""
    except ValueError:
        return f"{url!r} is not a URL"
    scheme = "http" if is_loopback(host) else "https"
    guess = f"{scheme}://{url}" if "/" in url else f"{scheme}://{url}/"
    return f"{url!r} has no scheme; did you mean {guess}?"


class JSONFetcher:
    """GET a JSON object with a deadline, no redirects and a body-size cap."""

    def __init__(
        self,
        *,
        client: httpx.AsyncClient | None,
        timeout_seconds: float,
        max_bytes: int,
        user_agent: str,
    ) -> None:
        self._client = client
        self._owns_client = client is None
        # A fetcher with other limits shares its parent's client (see with_limits).
        self._parent: JSONFetcher | None = None
        self._timeout = timeout_seconds
        self._max_bytes = max_bytes
        self._headers = {
            "User-Agent": user_agent,
            "Accept": "application/json",
            "Accept-Encoding": "gzip, deflate, identity",
        }

    def with_limits(self, *, timeout_seconds: float, max_bytes: int) -> JSONFetcher:
        """A fetcher with its own deadline and body cap over this one's HTTP client
        (made once, closed by this one); this one itself when the limits are the same."""
        if (timeout_seconds, max_bytes) == (self._timeout, self._max_bytes):
            return self
        child = JSONFetcher(
            client=self._client,
            timeout_seconds=timeout_seconds,
            max_bytes=max_bytes,
            user_agent=self._headers["User-Agent"],
        )
        child._owns_client = False
        child._parent = self if self._parent is None else self._parent
        return child

    def _http_client(self) -> httpx.AsyncClient:
        if self._parent is not None:
            return self._parent._http_client()
        if self._client is None:
            self._client = httpx.AsyncClient(follow_redirects=False)
        return self._client

    def check_url(self, url: str) -> None:
        problem = url_problem(url)
        if problem is not None:
            raise FetchError(problem)

    async def get_json(self, url: str) -> dict[str, Any]:
        self.check_url(url)
        client = self._http_client()
        try:
            with anyio.fail_after(self._timeout):
                body = await self._read(client, url)
        except TimeoutError as exc:
            raise FetchError(
                f"{url} did not answer within {self._timeout:g} s", unreachable=True
            ) from exc
        except httpx.HTTPError as exc:
            raise FetchError(
                f"{url} could not be fetched: {_transport_problem(url, exc)}", unreachable=True
            ) from exc
        try:
            document = json.loads(body)
        except (ValueError, RecursionError) as exc:
            raise FetchError(f"{url} did not return JSON") from exc
        if not isinstance(document, dict):
            raise FetchError(f"{url} did not return a JSON object")
        return document

    async def _read(self, client: httpx.AsyncClient, url: str) -> bytes:
        request = client.build_request("GET", url, headers=self._headers, timeout=self._timeout)
        response = await client.send(request, stream=True, follow_redirects=False)
        try:
            if response.status_code != 200:
                # A server error says the issuer is down; a 404 says the URL is wrong.
                raise FetchError(
                    f"{url} answered HTTP {response.status_code}",
                    unreachable=response.status_code >= 500,
                )
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > self._max_bytes:
                raise FetchError(f"{url} sent more than {self._max_bytes} bytes")
            if response.is_stream_consumed:
                # In-process transports hand over a body that is already decoded in memory.
                body = response.content
                if len(body) > self._max_bytes:
                    raise FetchError(f"{url} sent more than {self._max_bytes} bytes")
                return body
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_raw():
                size += len(chunk)
                if size > self._max_bytes:
                    raise FetchError(f"{url} sent more than {self._max_bytes} bytes")
                chunks.append(chunk)
            return self._decode(b"".join(chunks), response.headers.get("content-encoding"), url)
        finally:
            await response.aclose()

    def _decode(self, raw: bytes, encoding: str | None, url: str) -> bytes:
        """Undo a content coding with the size cap applied to the output (no gzip bomb)."""
        coding = (encoding or "identity").strip().lower()
        if coding == "identity":
            return raw
        if coding not in _ZLIB_WBITS:
            raise FetchError(f"{url} used the unsupported content coding {coding!r}")
        decompressor = zlib.decompressobj(wbits=_ZLIB_WBITS[coding])
        try:
            body = decompressor.decompress(raw, self._max_bytes + 1)
        except zlib.error as exc:
            raise FetchError(f"{url} sent a corrupt {coding} body") from exc
        if len(body) > self._max_bytes or decompressor.unconsumed_tail:
            raise FetchError(f"{url} sent more than {self._max_bytes} bytes once decompressed")
        return body

    async def aclose(self) -> None:
        if self._owns_client and self._client is not None:
            await self._client.aclose()
            self._client = None


def _transport_problem(url: str, exc: httpx.HTTPError) -> str:
    """The exception's kind and text (the OS's reason: "Connection refused" …), plus a
    hint when ``https`` met a server that speaks plain HTTP."""
    text = str(exc).strip()
    problem = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    lowered = text.lower()
    if url.startswith("https://") and ("ssl" in lowered or "tls" in lowered):
        problem += " — is the issuer served over plain http? Check the URL's scheme"
    return problem
