"""Dynamic client registration (RFC 7591) for public native clients on loopback redirects.

Only what a local MCP or CLI client needs is accepted: a public client (token endpoint
auth method ``none``, so PKCE is required like for every public client), the
``authorization_code`` and ``refresh_token`` grants, response type ``code``, and redirect
URIs on a loopback host over plain ``http`` (RFC 8252 §7.3); logout URLs
(``post_logout_redirect_uris``, OpenID Connect RP-Initiated Logout §3.1) follow the same
loopback rule. Anything else is refused with the RFC 7591 §3.2.2 error codes. A registered
client lands in the directory beside the configured ones, marked as registered: its name
is self-asserted (RFC 7591 §5), so it is shown as unverified and the user is asked to
consent before the client gets a token.
"""

from __future__ import annotations

import json
import secrets
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from starlette.requests import Request

from ..core._errors import ConfigError, OAuthError
from ..core._options import is_loopback_host
from ..core._records import Client

if TYPE_CHECKING:
    from ..core._directory import Directory

__all__ = ["MAX_REGISTERED_CLIENTS", "register_client"]

MAX_REGISTERED_CLIENTS = 1000
_MAX_BODY_BYTES = 16 * 1024
_ALLOWED_GRANTS = ("authorization_code", "refresh_token")


MAX_CLIENT_NAME_LENGTH = 100
_REFUSED_IN_NAMES = frozenset({"Cc", "Cf", "Zl", "Zp", "Zs"})


def _metadata_error(description: str) -> OAuthError:
    return OAuthError("invalid_client_metadata", description)


def _loopback_uris(value: object, name: str, *, error: str, required: bool) -> tuple[str, ...]:
    if not isinstance(value, list) or (required and not value):
        raise OAuthError(error, f"{name} must be {'a non-empty' if required else 'an'} array")
    for uri in value:
        if not isinstance(uri, str):
            raise OAuthError(error, f"each of {name} must be a string")
        try:
            parts = urlsplit(uri)
            host = parts.hostname
        except ValueError:
            raise OAuthError(error, f"not a URL: {uri!r}") from None
        # RFC 8252 §7.3 loopback redirects; §8.4: never a fragment (RFC 6749 §3.1.2).
        # The same rule for logout URLs keeps logout from redirecting off this machine
        # for whoever registers (RFC 9700 §4.11).
        if parts.scheme != "http" or host is None or not is_loopback_host(host):
            raise OAuthError(error, f"{uri!r} is not a loopback URI (http://127.0.0.1:PORT/...)")
        if parts.fragment or "#" in uri or parts.username or parts.password:
            raise OAuthError(error, f"{uri!r} must not have a fragment or user")
    return tuple(value)


def _strings(body: dict[str, Any], name: str, default: list[str]) -> list[str]:
    value = body.get(name, default)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _metadata_error(f"{name} must be an array of strings")
    return value


def _optional_string(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is not None and (not isinstance(value, str) or len(value) > 200):
        raise _metadata_error(f"{name} must be a string of at most 200 characters")
    return value


def _client_name(body: dict[str, Any]) -> str | None:
    name = _optional_string(body, "client_name")
    if name is None:
        return None
    # Control, format and separator characters (line breaks, bidi overrides such as
    # U+202E, wide or odd spaces) could make a self-asserted name read differently from
    # what it is on the login page; plain spaces are fine.
    if any(c != " " and unicodedata.category(c) in _REFUSED_IN_NAMES for c in name):
        raise _metadata_error(
            "client_name must not contain control, formatting or separator characters"
        )
    if len(name) > MAX_CLIENT_NAME_LENGTH:
        raise _metadata_error(f"client_name must be at most {MAX_CLIENT_NAME_LENGTH} characters")
    return name


@dataclass(frozen=True)
class _Metadata:
    redirect_uris: tuple[str, ...]
    post_logout_redirect_uris: tuple[str, ...]
    grant_types: list[str]
    client_name: str | None
    scope: str | None


def _validate(body: dict[str, Any]) -> _Metadata:
    redirect_uris = _loopback_uris(
        body.get("redirect_uris"), "redirect_uris", error="invalid_redirect_uri", required=True
    )
    logout_uris = _loopback_uris(
        body.get("post_logout_redirect_uris", []),
        "post_logout_redirect_uris",
        error="invalid_client_metadata",
        required=False,
    )
    method = body.get("token_endpoint_auth_method", "none")
    if method != "none":
        raise _metadata_error(
            "only public clients can register: token_endpoint_auth_method must be 'none'"
        )
    grant_types = _strings(body, "grant_types", ["authorization_code"])
    unsupported = [g for g in grant_types if g not in _ALLOWED_GRANTS]
    if unsupported or "authorization_code" not in grant_types:
        raise _metadata_error(
            "grant_types must include authorization_code and may add refresh_token only"
        )
    response_types = _strings(body, "response_types", ["code"])
    if response_types != ["code"]:
        raise _metadata_error("response_types must be ['code']")
    return _Metadata(
        redirect_uris=redirect_uris,
        post_logout_redirect_uris=logout_uris,
        grant_types=list(dict.fromkeys(grant_types)),
        client_name=_client_name(body),
        scope=_optional_string(body, "scope"),
    )


async def _read_json(request: Request) -> dict[str, Any]:
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type != "application/json":
        raise _metadata_error("the body must be application/json")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > _MAX_BODY_BYTES:
            raise OAuthError(
                "invalid_client_metadata", "the request body is too large", status_code=413
            )
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise _metadata_error("the body is not valid JSON") from None
    if not isinstance(document, dict):
        raise _metadata_error("the body must be a JSON object")
    return document


async def register_client(
    request: Request, directory: Directory, *, clock: Callable[[], float]
) -> dict[str, Any]:
    """Register the client described by ``request``'s JSON body; return the RFC 7591 §3.2.1
    client information response. Raises :class:`OAuthError` with an RFC 7591 error code."""
    metadata = _validate(await _read_json(request))
    registered = sum(1 for c in directory.clients.values() if c.registered)
    if registered >= MAX_REGISTERED_CLIENTS:
        raise OAuthError(
            "invalid_client_metadata",
            f"this issuer accepts at most {MAX_REGISTERED_CLIENTS} registered clients",
            status_code=429,
        )
    client_id = f"dyn_{secrets.token_urlsafe(18)}"
    issued_at = int(clock())
    try:
        client: Client = directory.add_client(
            client_id,
            redirect_uris=metadata.redirect_uris,
            grant_types=metadata.grant_types,
            name=metadata.client_name,
            metadata={"registered": str(issued_at)},
            allowed_logout_urls=metadata.post_logout_redirect_uris,
            registered=True,
        )
    except ConfigError as exc:
        raise _metadata_error(exc.problem) from exc
    information: dict[str, Any] = {
        "client_id": client.client_id,
        "client_id_issued_at": issued_at,
        "client_name": client.name,
        "redirect_uris": list(client.redirect_uris),
        "grant_types": list(client.grant_types),
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
        "application_type": "native",
    }
    if client.allowed_logout_urls:
        information["post_logout_redirect_uris"] = list(client.allowed_logout_urls)
    if metadata.scope is not None:
        information["scope"] = metadata.scope
    return information
