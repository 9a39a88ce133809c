"""The DPoP ``htu`` comparison: one normal form for the URL a proof names and the request's.

RFC 9449 §4.3 (check 9) compares ``htu`` with the request's target URI "without query and
fragment parts", after syntax-based normalisation (RFC 3986 §6.2.2): scheme and host in
lower case, the scheme's default port dropped, percent-encodings of unreserved characters
decoded and the others in upper-case hex, dot segments removed, an empty path as ``/``.

A WebSocket handshake is an HTTP ``GET`` of the same resource (RFC 6455 §4.1), and a
client naturally signs the URL it connects to (``wss://host/path``), so ``ws`` reads as
``http`` and ``wss`` as ``https`` on both sides of the comparison; the security of the
scheme is kept.

The request's side comes from the ASGI scope (its scheme, its ``Host`` header, the raw
path the client sent) unless a public origin is known (``public_origin``, or the origin of
the middleware's ``protected_resource``). The ``Host`` header is chosen by the sender, so
a proof made for another server passes if the sender names that server; and behind a
proxy the scope names the proxy's upstream address. ``X-Forwarded-*``
headers are never read here (a server may rewrite the scope from them, e.g. uvicorn's
``--proxy-headers`` with ``--forwarded-allow-ips``, for proxies it trusts).
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlsplit

from .._errors import ConfigurationError

__all__ = ["check_public_origin", "normalize_htu", "origin_of", "request_htu"]

_SCHEMES = {"http": "http", "https": "https", "ws": "http", "wss": "https"}
_DEFAULT_PORTS = {"http": 80, "https": 443}
_UNRESERVED = frozenset(string.ascii_letters + string.digits + "-._~")
# RFC 3986 §3.3: pchar = unreserved / pct-encoded / sub-delims / ":" / "@", plus "/".
_PATH_SAFE = _UNRESERVED | frozenset("!$&'()*+,;=:@/")
_HEX = frozenset(string.hexdigits)


def normalize_htu(url: str) -> str:
    """The normal form of ``url`` without query and fragment; ``ValueError`` if it is not
    an absolute ``http``/``https`` (or ``ws``/``wss``) URL with a host."""
    if not isinstance(url, str) or not url.isascii() or any(c in url for c in " \t\r\n\\"):
        raise ValueError("not an ASCII URL")
    parts = urlsplit(url)
    scheme = _SCHEMES.get(parts.scheme.lower())
    if scheme is None:
        raise ValueError("not an http(s) URL")
    if "@" in parts.netloc:
        raise ValueError("URL has user information")
    host = parts.hostname
    if not host:
        raise ValueError("URL has no host")
    port = parts.port  # ValueError for a port that is not a number in range
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        netloc = f"{netloc}:{port}"
    return f"{scheme}://{netloc}{_normalize_path(parts.path)}"


def _normalize_path(path: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(path):
        char = path[i]
        if char == "%":
            pair = path[i + 1 : i + 3]
            if len(pair) != 2 or not set(pair) <= _HEX:
                raise ValueError("bad percent-encoding")
            decoded = chr(int(pair, 16))
            # RFC 3986 §6.2.2.2: an encoded unreserved character is that character.
            out.append(decoded if decoded in _UNRESERVED else "%" + pair.upper())
            i += 3
            continue
        out.append(char if char in _PATH_SAFE else quote(char, safe=""))
        i += 1
    return _remove_dot_segments("".join(out)) or "/"


def _remove_dot_segments(path: str) -> str:
    # RFC 3986 §5.2.4, on whole segments (the encoded form keeps "%2E" distinct only when
    # it was not decoded above, and it always is: "." is unreserved).
    segments = path.split("/")
    kept: list[str] = []
    for segment in segments[1:] if path.startswith("/") else segments:
        if segment == ".":
            continue
        if segment == "..":
            if kept:
                kept.pop()
            continue
        kept.append(segment)
    if segments[-1] in (".", ".."):
        kept.append("")
    return "/" + "/".join(kept) if path.startswith("/") or kept else ""


def check_public_origin(origin: object) -> str | None:
    """``public_origin`` as the verifier keeps it: ``scheme://host[:port]``, or ``None``."""
    if origin is None:
        return None
    if not isinstance(origin, str):
        raise ConfigurationError("public_origin must be a string such as 'https://api.example.com'")
    try:
        normal = normalize_htu(origin)
    except ValueError as exc:
        raise ConfigurationError(
            f"public_origin {origin!r} must be an absolute http(s) origin: {exc}"
        ) from None
    parts = urlsplit(origin)
    if parts.path not in ("", "/") or parts.query or parts.fragment or "?" in origin:
        raise ConfigurationError(
            f"public_origin {origin!r} must be an origin (scheme, host, port) without a path"
        )
    return normal[: -len("/")]


def origin_of(url: str) -> str:
    """The normal ``scheme://host[:port]`` origin of an absolute http(s) ``url``."""
    parts = urlsplit(url)
    origin = check_public_origin(f"{parts.scheme}://{parts.netloc}")
    assert origin is not None
    return origin


def request_htu(scope: Mapping[str, Any], public_origin: str | None) -> str:
    """The normal form of an ASGI request's URL as its proof must name it.

    ``ValueError`` when the request names no usable host.
    """
    path: str
    raw_path = scope.get("raw_path")
    if isinstance(raw_path, bytes) and raw_path.startswith(b"/"):
        path = raw_path.decode("latin-1").partition("?")[0]
    else:
        path = quote(str(scope.get("path", "/")), safe="/!$&'()*+,;=:@%")
    if public_origin is not None:
        return normalize_htu(public_origin + path)
    host = None
    for name, value in scope.get("headers", ()):
        if name.lower() == b"host":
            if host is not None:
                raise ValueError("two Host headers")
            host = value.decode("latin-1")
    if host is None:
        server = scope.get("server")
        if not server:
            raise ValueError("request names no host")
        host = f"{server[0]}:{server[1]}" if server[1] is not None else str(server[0])
    if not host or any(c in host for c in "/?#@\\ "):
        raise ValueError("bad Host header")
    return normalize_htu(f"{scope.get('scheme', 'http')}://{host}{path}")
