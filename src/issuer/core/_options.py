"""Checks on configured values; each problem is a :class:`ConfigError` naming its key."""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Sequence
from urllib.parse import urlsplit

from ._errors import ConfigError

__all__ = [
    "at_least",
    "identifiers",
    "is_loopback_host",
    "logout_urls",
    "normalize_url",
    "positive",
]


def is_loopback_host(host: str) -> bool:
    """Whether ``host`` (a URL's host name, lower-case) is ``localhost`` or a loopback IP."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def normalize_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"must be an http(s) URL, not {url!r}", key="issuer")
    if parts.query or parts.fragment:
        raise ConfigError("must not have a query or fragment", key="issuer")
    try:
        parts.port  # noqa: B018 - urlsplit checks the port only when it is read
    except ValueError as exc:
        raise ConfigError(f"has a bad port: {exc}", key="issuer") from exc
    return url if url.endswith("/") else url + "/"


def positive(value: float, key: str) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ConfigError(f"must be a positive number, not {value!r}", key=key)


def at_least(value: int, minimum: int, key: str, *, unit: str = "") -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"must be an integer of at least {minimum}{unit}, not {value!r}", key=key)


def identifiers(values: Sequence[str] | None, key: str) -> tuple[str, ...] | None:
    if values is None:
        return None
    if isinstance(values, str):
        raise ConfigError("must be a list of API identifiers, not one string", key=key)
    for index, value in enumerate(values):
        if not isinstance(value, str) or not value:
            raise ConfigError("must be a non-empty string", key=f"{key}[{index}]")
    return tuple(values)


def logout_urls(values: Sequence[object], key: str) -> tuple[str, ...]:
    """``values`` as allowed logout URLs: absolute ``http(s)`` URLs without a fragment, which
    logout compares with the requested URL as whole strings (RFC 9700 §4.11)."""
    if isinstance(values, str):
        raise ConfigError("must be a list of URLs, not one string", key=key)
    for index, url in enumerate(values):
        where = f"{key}[{index}]"
        if not isinstance(url, str):
            raise ConfigError("must be a string", key=where)
        try:
            parts = urlsplit(url)
            absolute = bool(parts.hostname) and (parts.port or 0) >= 0
        except ValueError:  # an out-of-range port or a broken IPv6 literal
            absolute = False
        if not absolute:
            raise ConfigError(
                f"must be an absolute http(s) URL with a host and a valid port, not {url!r}",
                key=where,
            )
        if parts.scheme not in ("http", "https"):
            raise ConfigError(f"must be an http or https URL, not {url!r}", key=where)
        if "#" in url:
            raise ConfigError(f"must not have a fragment: {url!r}", key=where)
        if parts.username is not None:
            raise ConfigError(f"must not carry a user name or password: {url!r}", key=where)
    return tuple(str(url) for url in values)
