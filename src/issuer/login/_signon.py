"""Single sign-on: what an authorization request asks of the browser's session
(OpenID Connect Core §3.1.2.1 ``prompt`` and ``max_age``), and the session cookie."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from ..core._errors import OAuthError
from ._sessions import Session

__all__ = ["SESSION_COOKIE", "SessionCookie", "SignOn"]

SESSION_COOKIE = "issuer_session"
PROMPT_VALUES = ("none", "login", "consent", "select_account")
# A non-negative integer of seconds (OIDC Core §3.1.2.1); ten digits is over 300 years.
_MAX_AGE = re.compile(r"[0-9]{1,10}")


@dataclass(frozen=True)
class SignOn:
    """The ``prompt`` values and ``max_age`` of one authorization request."""

    prompt: frozenset[str]
    max_age: int | None

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> SignOn:
        """Read ``prompt`` and ``max_age``; a malformed one is ``invalid_request``."""
        prompt = frozenset(params.get("prompt", "").split())
        unknown = sorted(prompt - set(PROMPT_VALUES))
        if unknown:
            raise OAuthError(
                "invalid_request",
                f"unsupported prompt value {unknown[0]!r} (supported: {' '.join(PROMPT_VALUES)})",
            )
        # OIDC Core §3.1.2.1: none with any other value is an error.
        if "none" in prompt and len(prompt) > 1:
            raise OAuthError("invalid_request", "prompt=none cannot be combined with other values")
        raw = params.get("max_age")
        if raw is not None and not _MAX_AGE.fullmatch(raw):
            raise OAuthError("invalid_request", "max_age must be a non-negative integer")
        return cls(prompt, None if raw is None else int(raw))

    @property
    def silent(self) -> bool:
        """``prompt=none``: answer without showing the user anything (§3.1.2.6)."""
        return "none" in self.prompt

    @property
    def forces_login(self) -> bool:
        """``prompt=login`` (or ``select_account``, choosing an account is logging in)."""
        return bool(self.prompt & {"login", "select_account"})

    def accepts(self, session: Session, now: float) -> bool:
        """Whether ``session`` may stand in for a login: no forced login, and its last
        authentication younger than ``max_age`` (so ``max_age=0`` always logs in again)."""
        if self.forces_login:
            return False
        return self.max_age is None or now - session.authenticated_at < self.max_age


@dataclass(frozen=True)
class SessionCookie:
    """The session cookie: ``HttpOnly`` (no script reads it), ``SameSite=Lax`` (sent on a
    client's top-level redirect to ``/authorize``, never on cross-site POSTs or
    subrequests), ``Secure`` on an ``https`` issuer, for the whole issuer (``Path=/``)."""

    secure: bool
    max_age_seconds: int

    def read(self, request: Request) -> str | None:
        return request.cookies.get(SESSION_COOKIE)

    def set(self, response: Response, token: str) -> None:
        response.set_cookie(
            SESSION_COOKIE,
            token,
            max_age=self.max_age_seconds,
            path="/",
            secure=self.secure,
            httponly=True,
            samesite="lax",
        )

    def clear(self, response: Response) -> None:
        response.delete_cookie(
            SESSION_COOKIE, path="/", secure=self.secure, httponly=True, samesite="lax"
        )
