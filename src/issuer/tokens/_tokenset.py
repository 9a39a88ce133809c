"""The tokens one successful login or token request produced."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["TokenSet"]


@dataclass(frozen=True)
class TokenSet:
    """The tokens of one successful login or token request."""

    access_token: str
    id_token: str | None
    refresh_token: str | None
    expires_in: int
    scope: str
    token_type: str = "Bearer"

    def to_response(self) -> dict[str, Any]:
        """The RFC 6749 §5.1 response body."""
        body: dict[str, Any] = {
            "access_token": self.access_token,
            "token_type": self.token_type,
            "expires_in": self.expires_in,
            "scope": self.scope,
        }
        if self.id_token is not None:
            body["id_token"] = self.id_token
        if self.refresh_token is not None:
            body["refresh_token"] = self.refresh_token
        return body
