"""Login sessions: what the issuer remembers of a browser after a successful login.

A session is bound to the browser by an opaque random value in an ``HttpOnly``
``SameSite=Lax`` cookie (``Secure`` on an ``https`` issuer); the server keeps only the
SHA-256 of that value, so the store itself holds nothing a browser could present. A
session belongs to one user and ends at the first of: its lifetime since the login, its
idle timeout since it was last used, a logout, a change of the user's password, or the
user leaving the directory. Each login makes a new session with a new value, so a value
planted in a browser before the login is never the one that gets logged in (session
fixation, OWASP ASVS V3.2.1).

Actions see ``event.session`` and ``event.authentication.methods`` (Auth0's names); a later
authentication step (a one-time code) adds itself with :meth:`SessionStore.record_method`.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..core._directory import Directory
from ..core._errors import ConfigError
from ..core._records import User

__all__ = [
    "DEFAULT_IDLE_TIMEOUT_SECONDS",
    "DEFAULT_LIFETIME_SECONDS",
    "MAX_LIFETIME_SECONDS",
    "AuthenticationMethod",
    "Session",
    "SessionStore",
    "iso_time",
    "login_methods",
    "session_members",
]

_logger = logging.getLogger("issuer.sessions")

DEFAULT_LIFETIME_SECONDS = 86_400
DEFAULT_IDLE_TIMEOUT_SECONDS = 3_600
# Browsers cap a cookie's Max-Age at 400 days (RFC 6265bis §5.6.2): a longer session would
# outlive its cookie.
MAX_LIFETIME_SECONDS = 400 * 86_400


def iso_time(seconds: float) -> str:
    """``seconds`` since the epoch as ISO 8601 UTC with milliseconds, as Auth0 writes it."""
    moment = datetime.fromtimestamp(seconds, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class AuthenticationMethod:
    """One way the user proved who they are in a session: ``name`` (``pwd``, ``otp`` …) and
    when (seconds since the epoch)."""

    name: str
    timestamp: float
    #: A second factor the browser may be remembered by (``allow_remember_browser``).
    remembered: bool = False


@dataclass
class Session:
    """One browser's login. ``id`` is a public name for actions and logs; the cookie value
    is never stored or shown."""

    id: str
    user_id: str
    created_at: float
    authenticated_at: float
    last_interacted_at: float
    expires_at: float
    idle_timeout_seconds: float
    methods: list[AuthenticationMethod] = field(default_factory=list)
    # The password hash at login: a changed password ends the session.
    credential: str = field(default="", repr=False)


def session_members(session: Session | None, auth_time: float) -> dict[str, Any]:
    """``event.session`` and ``event.authentication`` as Auth0 names them. Without a
    session (a refresh, the password grant) ``session`` is ``None`` and the one method is
    the password, at ``auth_time``."""
    methods = [AuthenticationMethod("pwd", auth_time)] if session is None else session.methods
    authentication = {
        "methods": [{"name": m.name, "timestamp": iso_time(m.timestamp)} for m in methods]
    }
    if session is None:
        return {"session": None, "authentication": authentication}
    return {
        "session": {
            "id": session.id,
            "created_at": iso_time(session.created_at),
            "authenticated_at": iso_time(session.authenticated_at),
            "last_interacted_at": iso_time(session.last_interacted_at),
            "expires_at": iso_time(session.expires_at),
            "idle_expires_at": iso_time(session.last_interacted_at + session.idle_timeout_seconds),
        },
        "authentication": authentication,
    }


def login_methods(
    session: Session | None, now: float
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The methods an authorization starts with, and the second factors kept aside.

    A second factor is asked again at each authorization unless the browser is remembered
    (Auth0's ``allow_remember_browser``, decided by the actions of that login): only the
    session's password carries over; its remembered factors wait aside, for the actions to
    accept. Without a session the user has just typed the password, ``now``.
    """
    if session is None:
        return [{"name": "pwd", "timestamp": now}], []
    methods = [{"name": m.name, "timestamp": m.timestamp} for m in session.methods]
    remembered = [m for m, kept in zip(methods, session.methods, strict=True) if kept.remembered]
    return [m for m in methods if m["name"] == "pwd"], remembered


def _seconds(value: object, key: str, *, at_most: float, limit: str) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ConfigError(f"must be a positive number of seconds, not {value!r}", key=key)
    if value > at_most:
        raise ConfigError(f"must be at most {at_most:g} ({limit}), not {value!r}", key=key)
    return float(value)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class SessionStore:
    """Live sessions in memory, at most ``max_sessions``; past that the least recently used
    one ends, so a flood of logins cannot exhaust memory.

    ``lifetime_seconds`` counts from the login, ``idle_timeout_seconds`` from the session's
    last use; the idle timeout may not exceed the lifetime. Users are looked up in
    ``directory`` each time a session is used.
    """

    def __init__(
        self,
        *,
        directory: Directory,
        clock: Callable[[], float],
        lifetime_seconds: float = DEFAULT_LIFETIME_SECONDS,
        idle_timeout_seconds: float = DEFAULT_IDLE_TIMEOUT_SECONDS,
        max_sessions: int = 10_000,
    ) -> None:
        self.lifetime_seconds = _seconds(
            lifetime_seconds,
            "sessions.lifetime_seconds",
            at_most=MAX_LIFETIME_SECONDS,
            limit="400 days, the longest a browser keeps a cookie",
        )
        self.idle_timeout_seconds = _seconds(
            idle_timeout_seconds,
            "sessions.idle_timeout_seconds",
            at_most=self.lifetime_seconds,
            limit="sessions.lifetime_seconds",
        )
        self._directory = directory
        self._clock = clock
        self._max_sessions = max_sessions
        # By SHA-256 of the cookie value; ordered by last use, oldest first.
        self._sessions: dict[str, Session] = {}

    def __len__(self) -> int:
        return len(self._sessions)

    def start(self, user: User, *, method: str = "pwd") -> tuple[str, Session]:
        """A new session for ``user``, who just authenticated with ``method``; returns the
        cookie value (shown once, never stored) and the session."""
        now = self._clock()
        token = secrets.token_urlsafe(32)
        session = Session(
            id=secrets.token_urlsafe(16),
            user_id=user.user_id,
            created_at=now,
            authenticated_at=now,
            last_interacted_at=now,
            expires_at=now + self.lifetime_seconds,
            idle_timeout_seconds=self.idle_timeout_seconds,
            methods=[AuthenticationMethod(method, now)],
            credential=user.password_hash,
        )
        self._purge(now)
        while len(self._sessions) >= self._max_sessions:
            oldest = next(iter(self._sessions))
            _logger.info("session %s ended: the store is full", self._sessions.pop(oldest).id)
        self._sessions[_digest(token)] = session
        _logger.info("session %s started for user %s", session.id, user.user_id)
        return token, session

    def resume(self, token: str | None) -> tuple[Session, User] | None:
        """The live session the cookie value ``token`` names, and its user, marked as used
        now; ``None`` (and the session ended) when it is unknown, expired, or its user is
        gone or has a new password."""
        if not token:
            return None
        key = _digest(token)
        session = self._sessions.get(key)
        if session is None:
            _logger.warning("session cookie refused: no such session (ended, expired or made up)")
            return None
        now = self._clock()
        user = self._directory.user_by_id(session.user_id)
        reason = self._ended(session, user, now)
        if reason is not None or user is None:
            del self._sessions[key]
            _logger.info("session %s ended: %s", session.id, reason)
            return None
        session.last_interacted_at = now
        self._sessions[key] = self._sessions.pop(key)
        return session, user

    def still_valid(self, session: Session) -> bool:
        """Whether ``session`` is still held and live: not logged out, not expired, its user
        still there with the same password. Asked when a paused login carries on, since the
        session may have ended while the browser was away (a code form, an action's page)."""
        if not any(held is session for held in self._sessions.values()):
            return False
        user = self._directory.user_by_id(session.user_id)
        return self._ended(session, user, self._clock()) is None

    def _ended(self, session: Session, user: User | None, now: float) -> str | None:
        if now >= session.expires_at:
            return f"older than {self.lifetime_seconds:g} s"
        if now >= session.last_interacted_at + session.idle_timeout_seconds:
            return f"idle for {self.idle_timeout_seconds:g} s"
        if user is None:
            return "the user no longer exists"
        if not hmac.compare_digest(user.password_hash, session.credential):
            return "the user's password changed"
        return None

    def record_method(
        self, session: Session, name: str, *, at: float | None = None, remember: bool = False
    ) -> None:
        """Add the authentication method ``name`` (used at ``at``, default now) to
        ``session``; a method used before keeps one entry, with its latest time; ``remember``
        lets later logins in this session count it without asking again.

        ``authenticated_at`` stays the time of the login that made the session: it is the
        ``auth_time`` of the later tokens that list only that login's methods, and what
        ``max_age`` is checked against (OpenID Connect Core §2, §3.1.2.1).
        """
        when = self._clock() if at is None else at
        session.methods = [m for m in session.methods if m.name != name]
        session.methods.append(AuthenticationMethod(name, when, remember))

    def end(self, token: str | None) -> Session | None:
        """End the session the cookie value ``token`` names, if any; return it."""
        session = self._sessions.pop(_digest(token), None) if token else None
        if session is not None:
            _logger.info("session %s ended: logout", session.id)
        return session

    def _purge(self, now: float) -> None:
        self._sessions = {
            key: s
            for key, s in self._sessions.items()
            if now < s.expires_at and now < s.last_interacted_at + s.idle_timeout_seconds
        }
