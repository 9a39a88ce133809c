"""Reading any JWT for the developer console: header, claims, times, the key that signed
it and whether this issuer's JWKS verifies it (RFC 7515 §5.2, RFC 7519 §4.1)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import jwt

from ..tokens._claimscopes import AmbiguousNamespaces, claim_scopes
from ..tokens._keys import KeyRing

__all__ = ["TokenReport", "describe_time", "inspect_token"]

VALID = "valid"
INVALID = "invalid signature"
UNKNOWN_KEY = "unknown key"
MALFORMED = "malformed"
_TIME_CLAIMS = ("exp", "iat", "nbf")


@dataclass
class TokenReport:
    """What a pasted token says, and what this issuer makes of it."""

    signature: str
    header: dict[str, Any] = field(default_factory=dict)
    claims: dict[str, Any] = field(default_factory=dict)
    times: dict[str, str] = field(default_factory=dict)
    scopes: list[str] = field(default_factory=list)
    scopes_error: str | None = None

    @property
    def kid(self) -> str | None:
        kid = self.header.get("kid")
        return kid if isinstance(kid, str) else None


def _span(seconds: float) -> str:
    seconds = int(abs(seconds))
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            whole, rest = divmod(seconds, size)
            smaller = {"d": ("h", 3600), "h": ("min", 60)}.get(unit)
            extra = f" {rest // smaller[1]} {smaller[0]}" if smaller and rest >= smaller[1] else ""
            return f"{whole} {unit}{extra}"
    return f"{seconds} s"


def describe_time(name: str, value: Any, now: float) -> str:
    """``value`` (NumericDate, RFC 7519 §2) as a UTC date, with how far it is from ``now``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"not a NumericDate: {value!r}"
    try:
        moment = datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (OverflowError, OSError, ValueError):
        return f"out of range: {value!r}"
    delta = value - now
    if name == "exp":
        relative = f"expires in {_span(delta)}" if delta > 0 else f"expired {_span(delta)} ago"
    elif name == "nbf" and delta > 0:
        relative = f"valid in {_span(delta)}"
    else:
        relative = f"{_span(delta)} ago" if delta <= 0 else f"in {_span(delta)}"
    return f"{moment} ({relative})"


def _signature(token: str, header: dict[str, Any], keys: KeyRing) -> str:
    kid = header.get("kid")
    jwk = next((k for k in keys.jwks()["keys"] if k.get("kid") == kid), None)
    if jwk is None:
        return UNKNOWN_KEY
    try:
        key = jwt.PyJWK(jwk).key
        jwt.decode(
            token,
            key,
            algorithms=[jwk["alg"]],
            options={
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
                "verify_aud": False,
                "verify_iss": False,
            },
        )
    except jwt.InvalidSignatureError:
        return INVALID
    except jwt.InvalidAlgorithmError:
        return INVALID  # signed with another algorithm than the key's (RFC 8725 §3.1)
    except jwt.PyJWTError:
        return MALFORMED
    return VALID


def inspect_token(
    token: str, *, keys: KeyRing, now: float, namespaces: Sequence[str]
) -> TokenReport:
    """Decode ``token`` without trusting it, then check its signature against ``keys``."""
    token = token.strip()
    try:
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return TokenReport(signature=MALFORMED)
    report = TokenReport(signature=_signature(token, header, keys), header=header, claims=claims)
    report.times = {n: describe_time(n, claims[n], now) for n in _TIME_CLAIMS if n in claims}
    try:
        report.scopes = sorted(claim_scopes(claims, namespaces))
    except AmbiguousNamespaces as exc:
        report.scopes_error = f"{exc}: claimguard refuses this token"
    return report
