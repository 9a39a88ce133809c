"""The CSRF token of the browser forms (login, consent): a server-side record, a hidden
field and an ``HttpOnly`` ``SameSite=Lax`` cookie must all agree (RFC 9700 §4.7; OWASP
double-submit cookie with a server record)."""

from __future__ import annotations

import hmac
import secrets

from starlette.requests import Request
from starlette.responses import Response

__all__ = [
    "CSRF_COOKIE",
    "FORM_LIFETIME_SECONDS",
    "cookie_matches",
    "csrf_matches",
    "new_csrf_token",
    "set_csrf_cookie",
]

CSRF_COOKIE = "issuer_csrf"
FORM_LIFETIME_SECONDS = 900


def new_csrf_token() -> str:
    return secrets.token_urlsafe(24)


def set_csrf_cookie(
    response: Response, token: str, *, name: str = CSRF_COOKIE, path: str = "/"
) -> None:
    """Bind the form's token to this browser; Lax keeps the cookie off cross-site POSTs."""
    response.set_cookie(
        name,
        token,
        httponly=True,
        samesite="lax",
        path=path,
        max_age=FORM_LIFETIME_SECONDS,
    )


# hmac.compare_digest raises TypeError on non-ASCII str, and these values come from the
# request: compare their UTF-8 bytes instead.


def cookie_matches(request: Request, expected: str, *, name: str = CSRF_COOKIE) -> bool:
    """Whether the request carries ``expected`` in the CSRF cookie (constant time)."""
    cookie = request.cookies.get(name, "")
    return hmac.compare_digest(cookie.encode(), expected.encode())


def csrf_matches(request: Request, sent: str, expected: str, *, name: str = CSRF_COOKIE) -> bool:
    """Whether the cookie ``name`` and the posted ``sent`` token both equal ``expected``."""
    posted = hmac.compare_digest(sent.encode(), expected.encode())
    return cookie_matches(request, expected, name=name) & posted
