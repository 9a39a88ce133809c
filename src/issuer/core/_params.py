"""Reading OAuth request parameters: form bodies, duplicates, request details for actions."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request

from ._errors import OAuthError

__all__ = ["MAX_FORM_BYTES", "read_form", "request_info", "single_params"]

MAX_FORM_BYTES = 64 * 1024
_SECRET_FIELDS = frozenset(
    {"password", "client_secret", "code", "code_verifier", "refresh_token", "csrf_token"}
)


def single_params(items: Iterable[tuple[str, str]]) -> dict[str, str]:
    """RFC 6749 §3.1 and §3.2: a parameter sent twice is an error; empty ones are absent."""
    params: dict[str, str] = {}
    for name, value in items:
        if name in params:
            raise OAuthError("invalid_request", f"parameter {name!r} was sent more than once")
        if value != "":
            params[name] = value
    return params


async def read_form(request: Request) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body (RFC 6749 §4.1.3), size-capped."""
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise OAuthError("invalid_request", "the body must be application/x-www-form-urlencoded")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise OAuthError("invalid_request", "the request body is too large", status_code=413)
    try:
        items = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except (UnicodeDecodeError, ValueError):
        raise OAuthError("invalid_request", "the form body is not valid") from None
    return single_params(items)


def _safe(params: Mapping[str, str] | None) -> dict[str, str]:
    return {k: v for k, v in (params or {}).items() if k not in _SECRET_FIELDS}


def request_info(
    request: Request,
    *,
    query: Mapping[str, str] | None = None,
    body: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """``event.request`` for actions; secrets in the parameters are left out."""
    return {
        "ip": request.client.host if request.client else None,
        "method": request.method,
        "hostname": request.url.hostname,
        "user_agent": request.headers.get("user-agent"),
        "query": _safe(query),
        "body": _safe(body),
        "language": request.headers.get("accept-language"),
    }
