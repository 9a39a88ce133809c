"""Reading the bearer token from an ASGI request (RFC 6750 §2.1).

The token comes only from the ``Authorization`` request header::

    credentials = "Bearer" 1*SP b64token
    b64token    = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="

The scheme name is matched case-insensitively (RFC 9110 §11.1). A request that carries
no ``Authorization`` header, or one for another scheme (``Basic`` …), carries no bearer
token. Two ``Authorization`` headers, a ``Bearer`` header with a malformed token, or a
token in the query string (RFC 6750 §2.3, which this library does not support, and §5.3,
which advises against it) are malformed requests: :class:`InvalidRequest`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl

from .._errors import InvalidRequest

__all__ = ["bearer_token", "scheme_and_token"]

_CREDENTIALS = re.compile(r"([!#$%&'*+.^_`|~0-9A-Za-z-]+)(?: +(.*))?", re.DOTALL)
_B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
_QUERY_TOKEN = "access_token"


def bearer_token(scope: Mapping[str, Any]) -> str | None:
    """Return the bearer token of an ASGI ``http`` or ``websocket`` scope, or ``None``.

    Raises :class:`InvalidRequest` for a malformed request (see the module docstring).
    """
    found = scheme_and_token(scope)
    return None if found is None else found[1]


def scheme_and_token(
    scope: Mapping[str, Any], schemes: tuple[str, ...] = ("bearer",)
) -> tuple[str, str] | None:
    """The ``Authorization`` header's scheme (lower case) and token when the scheme is one
    of ``schemes``; ``None`` for no header or another scheme. The token syntax is the same
    for ``Bearer`` and ``DPoP`` (RFC 9449 §7.1)."""
    _refuse_query_token(scope.get("query_string", b""))
    value = _authorization(scope.get("headers", ()))
    if value is None:
        return None
    if value[:7].lower() == "bearer " and _B64TOKEN.fullmatch(value, 7):
        return "bearer", value[7:]  # the usual case: one space, a well-formed token
    match = _CREDENTIALS.fullmatch(value)
    if match is None:
        raise InvalidRequest("The Authorization header is malformed.")
    scheme, token = match.group(1).lower(), match.group(2)
    if scheme not in schemes:
        return None
    if token is None or not _B64TOKEN.fullmatch(token):
        raise InvalidRequest("The Authorization header does not hold a well-formed token.")
    return scheme, token


def _authorization(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    values = [value for name, value in headers if name.lower() == b"authorization"]
    if not values:
        return None
    # RFC 6750 §3.1: more than one method (here, more than one header) is invalid_request.
    if len(values) > 1:
        raise InvalidRequest("The request carries more than one Authorization header.")
    try:
        text = values[0].decode("ascii")
    except UnicodeDecodeError:
        raise InvalidRequest("The Authorization header is not ASCII.") from None
    # RFC 9110 §5.5: leading and trailing white space is not part of the field value.
    return text.strip(" \t")


def _refuse_query_token(query_string: bytes) -> None:
    if not query_string:
        return
    pairs = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)
    if any(name == _QUERY_TOKEN for name, _ in pairs):
        raise InvalidRequest(
            "Access tokens are not accepted in the query string; "
            "send them in the Authorization header."
        )
