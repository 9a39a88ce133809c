"""``GET /actions/logs``: who may read the action log over HTTP.

Action output can quote ``event.secrets``, so the endpoint answers only requests addressed
to the issuer's own host name. A page on ``evil.example`` whose DNS name is rebound to
127.0.0.1 reaches the issuer's port, but the browser still sends ``Host: evil.example``;
such a request gets 421 Misdirected Request (RFC 9110 §15.5.20, §7.4). An optional bearer
token (RFC 6750 §2.1) guards it further, and it can be turned off.
"""

from __future__ import annotations

import hmac
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..core._errors import ConfigError
from ..core._options import is_loopback_host
from ._runtime import ExecutionRecord

__all__ = ["ActionLogsAccess", "action_logs_endpoint", "is_own_host"]

_logger = logging.getLogger("issuer.actionlogs")
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
# RFC 9110 §7.2: Host = uri-host [ ":" port ]; no user info, no path, nothing else.
_HOST = re.compile(r"(?:\[(?P<ipv6>[0-9A-Fa-f:.]+)\]|(?P<name>[A-Za-z0-9._-]+))(?::[0-9]{1,5})?")


@dataclass(frozen=True)
class ActionLogsAccess:
    """Whether ``GET /actions/logs`` answers at all, and the bearer token it requires."""

    enabled: bool = True
    token: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.enabled, bool):
            raise ConfigError(
                f"must be true or false, not {self.enabled!r}", key="action_logs.enabled"
            )
        if self.token is not None and not isinstance(self.token, str):
            raise ConfigError("must be a string", key="action_logs.token")
        if self.token == "":
            raise ConfigError(
                "must not be empty (leave it out for no token)", key="action_logs.token"
            )


def _host_name(host: str) -> str | None:
    match = _HOST.fullmatch(host)
    if match is None:
        return None
    return (match["ipv6"] or match["name"]).lower()


def is_own_host(host: str, issuer_url: str) -> bool:
    """Whether a request's ``Host`` header names the issuer: the host of ``issuer_url``, or,
    when that is a loopback host, any loopback name (``localhost``, 127.0.0.0/8, ``::1``).

    Only the name is compared, not the port: a rebinding page cannot choose the name its
    requests carry, only the port.
    """
    name = _host_name(host)
    own = urlsplit(issuer_url).hostname or ""
    if name is None:
        return False
    return name == own or (is_loopback_host(own) and is_loopback_host(name))


def _refusal(
    status: int, error: str, description: str, headers: dict[str, str] | None = None
) -> Response:
    _logger.warning("GET /actions/logs refused (%d): %s", status, description)
    return JSONResponse(
        {"error": error, "error_description": description},
        status_code=status,
        headers={**_NO_STORE, **(headers or {})},
    )


def _bearer(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def action_logs_endpoint(
    records: Callable[[], Sequence[ExecutionRecord]], *, issuer_url: str, access: ActionLogsAccess
) -> Callable[[Request], Awaitable[Response]]:
    """The endpoint serving ``records()`` (newest first) as ``{"executions": [...]}``."""

    async def action_logs(request: Request) -> Response:
        if not access.enabled:
            return _refusal(404, "not_found", "the action log endpoint is turned off")
        host = request.headers.get("host", "")
        if not is_own_host(host, issuer_url):
            return _refusal(
                421,
                "misdirected_request",
                f"the action log is served only under the issuer's own host name, not {host!r}",
            )
        if access.token is not None:
            sent = _bearer(request)
            if sent is None:
                return _refusal(
                    401,
                    "unauthorized",
                    "the action log needs its token: Authorization: Bearer <token>",
                    {"WWW-Authenticate": 'Bearer realm="issuer"'},
                )
            if not hmac.compare_digest(sent.encode(), access.token.encode()):
                return _refusal(
                    401,
                    "invalid_token",
                    "wrong action log token",
                    {"WWW-Authenticate": 'Bearer realm="issuer", error="invalid_token"'},
                )
        return JSONResponse(
            {"executions": [record.to_dict() for record in records()]}, headers=_NO_STORE
        )

    return action_logs
