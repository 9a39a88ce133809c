"""The issuer's exception tree.

IssuerError
 ├── ConfigError        a configuration problem: file, key, problem
 └── OAuthError         an RFC 6749 error: ``error`` code, description, HTTP status
      ├── LoginDenied      an action called ``api.access.deny`` (``access_denied``)
      ├── ActionFailed     an action raised or ran out of the flow budget
      └── TooManyAttempts  too many failed credential checks (429, ``Retry-After``)
"""

from __future__ import annotations

__all__ = [
    "ActionFailed",
    "ConfigError",
    "IssuerError",
    "LoginDenied",
    "OAuthError",
    "TooManyAttempts",
]


class IssuerError(Exception):
    """Root of every error the issuer raises on purpose."""


class ConfigError(IssuerError):
    """A configuration problem, rendered as ``FILE: key: problem``."""

    def __init__(self, problem: str, *, key: str = "", file: str = "") -> None:
        self.problem = problem
        self.key = key
        self.file = file
        super().__init__(str(self))

    def __str__(self) -> str:
        return ": ".join(part for part in (self.file, self.key, self.problem) if part)


class OAuthError(IssuerError):
    """An error with an RFC 6749 §5.2 / §4.1.2.1 ``error`` code."""

    def __init__(
        self,
        error: str,
        description: str = "",
        *,
        status_code: int = 400,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.error = error
        self.description = description
        self.status_code = status_code
        self.headers = headers or {}
        super().__init__(f"{error}: {description}" if description else error)

    def to_dict(self) -> dict[str, str]:
        body = {"error": self.error}
        if self.description:
            body["error_description"] = self.description
        return body


class LoginDenied(OAuthError):
    """An action denied the login; ``reason`` is what it said."""

    def __init__(self, reason: str, *, error: str = "access_denied", action: str = "") -> None:
        self.reason = reason
        self.action = action
        super().__init__(error, reason, status_code=403 if error == "access_denied" else 400)


class ActionFailed(OAuthError):
    """An action raised an exception or the flow ran out of its time budget.

    The client sees only ``action 'name' failed``: the action's own error text can quote
    ``event.secrets`` or internals, and an ``error_description`` is for a developer reading
    a response, never a channel for secrets (RFC 6749 §5.2; RFC 9700 §4). ``problem``, and
    ``str()`` of the exception, keep the whole error for Python callers; the action log and
    the ``issuer.actions`` logger have it too. ``message`` is what the action's exception
    said, without its class: the part worth showing a person at a terminal.
    """

    def __init__(self, action: str, problem: str, *, message: str | None = None) -> None:
        self.action = action
        self.problem = problem
        self.message = problem if message is None else message
        super().__init__("access_denied", f"action {action!r} failed", status_code=403)

    def __str__(self) -> str:
        return f"{self.error}: {self.description}: {self.problem}"


class TooManyAttempts(OAuthError):
    """Too many failed secret or password checks for one client or account, recently.

    429 with ``Retry-After`` (RFC 6585 §4; RFC 9110 §10.2.3); the code is Auth0's for its
    brute-force protection. ``subject`` is ``"client"`` or ``"account"``.
    """

    def __init__(self, subject: str, *, retry_after_seconds: int) -> None:
        self.subject = subject
        self.retry_after_seconds = retry_after_seconds
        super().__init__(
            "too_many_attempts",
            f"too many failed attempts for this {subject}; try again in {retry_after_seconds} s",
            status_code=429,
            headers={"Retry-After": str(retry_after_seconds)},
        )
