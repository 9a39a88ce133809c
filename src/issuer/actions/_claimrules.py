"""Which custom claims an action may add, and what values they may hold."""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import urlsplit

__all__ = ["MAX_DEPTH", "check_json_value", "claim_refusal"]

# Claims the issuer owns: RFC 7519 §4.1, OpenID Connect Core §2 and §5.1, RFC 9068 §2.2,
# and Auth0's own (azp, gty, permissions, org_id).
RESERVED = frozenset(
    {
        "iss", "sub", "aud", "exp", "nbf", "iat", "jti", "azp", "client_id", "scope", "scp",
        "nonce", "at_hash", "c_hash", "auth_time", "acr", "amr", "sid", "typ", "cnf",
        "permissions", "gty", "org_id", "org_name", "email", "email_verified", "name",
        "nickname", "picture", "updated_at", "given_name", "family_name", "act", "may_act",
    }
    # What the provider dialects (tokens/_dialects) write: roles, groups and token kinds an
    # API's profile turns into scopes or checks, so only the login's grant may say them.
    | {
        "roles", "groups", "cognito:groups", "realm_access", "resource_access", "token_use",
        "cid", "uid", "tid", "ver",
    }
)  # fmt: skip
# Auth0 keeps these namespaces for itself and drops claims that use them.
FOREIGN_DOMAINS = ("auth0.com", "auth0.io", "webtask.io", "webtask.run")
MAX_DEPTH = 32


def _host(name: str) -> str:
    if "://" in name:
        return (urlsplit(name).hostname or "").lower()
    return name.split("/", 1)[0].lower()


def claim_refusal(name: object) -> str | None:
    """Why a claim called ``name`` may not be added, or ``None`` when it may."""
    if not isinstance(name, str) or not name:
        return "claim names must be non-empty strings"
    if name in RESERVED:
        return f"{name!r} is a reserved claim"
    host = _host(name)
    for domain in FOREIGN_DOMAINS:
        if host == domain or host.endswith("." + domain):
            return f"{name!r} uses the reserved namespace {domain}"
    return None


def check_json_value(value: Any, *, where: str, depth: int = 0) -> None:
    """Raise ``ValueError`` unless ``value`` is plain JSON (no NaN or infinities)."""
    if depth > MAX_DEPTH:
        raise ValueError(f"{where}: nested deeper than {MAX_DEPTH} levels")
    if value is None or isinstance(value, bool | int | str):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{where}: {value!r} is not a JSON number")
        return
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            check_json_value(item, where=f"{where}[{index}]", depth=depth + 1)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"{where}: object keys must be strings, not {key!r}")
            check_json_value(item, where=f"{where}.{key}", depth=depth + 1)
        return
    raise ValueError(f"{where}: {type(value).__name__} is not a JSON value")
