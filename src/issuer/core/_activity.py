"""What the issuer is doing, as events a listener (the ``serve`` console) can follow live.

Events carry only what is safe to print on a terminal: request paths without their query,
action output (which the action log keeps anyway), and the outcome of each login with the
failing exception's type, never its text, which can quote ``event.secrets``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

from ._errors import ActionFailed, LoginDenied, OAuthError

__all__ = [
    "MASK",
    "ActionOutput",
    "Activity",
    "FlowPaused",
    "LoginOutcome",
    "RequestServed",
    "grant_of",
    "mask",
    "reported",
]

_logger = logging.getLogger("issuer.activity")


@dataclass(frozen=True)
class RequestServed:
    """One HTTP request: its method, path (no query string), status and duration."""

    method: str
    path: str
    status: int
    duration_ms: float
    event: str = "request"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ActionOutput:
    """One line an action printed or logged while a login ran."""

    action: str
    user: str | None
    client_id: str
    line: str
    execution_id: str
    event: str = "action_output"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class FlowPaused(Exception):
    """A login stopped to wait for the browser, not failed: reported as ``paused``.

    ``action`` names the action that sent the browser away (``None`` when the login waits
    for a one-time code); ``waiting_for`` says what it waits for, in words safe to print.
    """

    def __init__(self, *, action: str | None, waiting_for: str) -> None:
        super().__init__(f"the login waits for {waiting_for}")
        self.action = action
        self.waiting_for = waiting_for


@dataclass(frozen=True)
class LoginOutcome:
    """How one login (or client credentials request) ended: ``ok``, ``denied``, ``refused``
    (by the issuer: an OAuth error such as ``interaction_required`` or ``mfa_required``),
    ``failed``, or ``paused`` (waiting for a one-time code or for the browser to come back
    from a page an action sent it to; the same login reports again when it carries on).

    ``action`` names the action that denied, failed or paused it; ``reason`` is the deny
    reason, the refusal's error code, or what a paused login waits for; ``error_type`` is
    the class of the exception that failed it, never its text.
    """

    user: str | None
    client_id: str
    grant: str
    outcome: str
    actions: tuple[str, ...]
    duration_ms: float
    execution_id: str | None
    action: str | None = None
    reason: str | None = None
    error_type: str | None = None
    event: str = "login"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["actions"] = list(self.actions)
        return data


Event = RequestServed | ActionOutput | LoginOutcome
Listener = Callable[[Event], None]


class Activity:
    """Fans events out to listeners; a listener that raises is logged, never fails a login."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []
        self._lock = threading.Lock()

    def subscribe(self, listener: Listener) -> None:
        with self._lock:
            self._listeners.append(listener)

    def unsubscribe(self, listener: Listener) -> None:
        with self._lock:
            self._listeners.remove(listener)

    @property
    def followed(self) -> bool:
        """Whether anyone listens (so producers can skip building events)."""
        return bool(self._listeners)

    def emit(self, event: Event) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(event)
            except Exception:
                _logger.exception("activity listener failed on a %s event", event.event)


# The grant type (RFC 6749) behind each Auth0 ``transaction.protocol`` the issuer sets.
_GRANTS = {
    "oidc-basic-profile": "authorization_code",
    "oauth2-password": "password",
    "oauth2-refresh-token": "refresh_token",
    "oauth2-client-credentials": "client_credentials",
}


def grant_of(protocol: str) -> str:
    """The grant type a login ran under, for people reading the console."""
    return _GRANTS.get(protocol, protocol)


@contextmanager
def reported(
    activity: Activity,
    *,
    user: str | None,
    client_id: str,
    protocol: str,
    actions_run: Sequence[str],
    execution_id: str,
) -> Iterator[None]:
    """Emit one :class:`LoginOutcome` for the login run inside, whether it succeeds or not.

    ``actions_run`` is read when the login ends, so it may still be filled while it runs.
    """
    if not activity.followed:
        yield
        return
    started = time.perf_counter()
    details: dict[str, Any] = {"outcome": "ok"}
    try:
        yield
    except FlowPaused as exc:
        details = {"outcome": "paused", "action": exc.action, "reason": exc.waiting_for}
        raise
    except LoginDenied as exc:
        details = {"outcome": "denied", "action": exc.action or None, "reason": exc.reason}
        raise
    except ActionFailed as exc:
        cause = exc.__cause__
        details = {
            "outcome": "failed",
            "action": exc.action,
            # The type only: the text can quote event.secrets (the action log has it all).
            "error_type": "Timeout" if cause is None else type(cause).__name__,
        }
        raise
    except OAuthError as exc:
        # The error code only (RFC 6749 §5.2): the client's description is in its answer.
        details = {"outcome": "refused", "reason": exc.error}
        raise
    except Exception as exc:
        details = {"outcome": "failed", "error_type": type(exc).__name__}
        raise
    finally:
        activity.emit(
            LoginOutcome(
                user=user,
                client_id=client_id,
                grant=grant_of(protocol),
                actions=tuple(actions_run),
                duration_ms=round((time.perf_counter() - started) * 1000, 3),
                execution_id=execution_id if actions_run else None,
                **details,
            )
        )


MASK = "••••"


def mask(text: str, secret_values: Sequence[str]) -> str:
    """``text`` with every configured secret value (``event.secrets``) replaced, longest
    first, wherever output an action wrote is shown."""
    for value in sorted((v for v in secret_values if v), key=len, reverse=True):
        text = text.replace(value, MASK)
    return text
