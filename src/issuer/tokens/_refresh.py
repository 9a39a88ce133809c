"""Refresh tokens: rotation on every use and reuse detection per family (RFC 9700 §4.14.2)."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..core._errors import OAuthError

__all__ = ["RefreshGrant", "RefreshStore"]


@dataclass
class RefreshGrant:
    """What a refresh token stands for. Tokens from one login share a ``family_id``."""

    family_id: str
    user_id: str
    client_id: str
    audience: str | None
    scopes: tuple[str, ...]
    auth_time: float
    expires_at: float
    used: bool = False
    #: The authentication methods of the login, carried into every refreshed token.
    methods: tuple[dict[str, Any], ...] = field(default_factory=tuple)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class RefreshStore:
    """Refresh tokens kept only as hashes; a rotated token used again revokes its family."""

    def __init__(
        self, *, clock: Callable[[], float], lifetime_seconds: int = 30 * 24 * 3600
    ) -> None:
        self._clock = clock
        self._lifetime_seconds = lifetime_seconds
        self._grants: dict[str, RefreshGrant] = {}
        self._revoked_families: set[str] = set()
        # RFC 9449 §5.8: a public client's refresh tokens are bound to its DPoP key.
        self._family_keys: dict[str, str] = {}

    def issue(
        self,
        *,
        user_id: str,
        client_id: str,
        audience: str | None,
        scopes: tuple[str, ...],
        auth_time: float,
        family_id: str | None = None,
        methods: tuple[dict[str, Any], ...] = (),
    ) -> str:
        token = secrets.token_urlsafe(32)
        self._grants[_digest(token)] = RefreshGrant(
            family_id=family_id or secrets.token_hex(8),
            user_id=user_id,
            client_id=client_id,
            audience=audience,
            scopes=scopes,
            auth_time=auth_time,
            expires_at=self._clock() + self._lifetime_seconds,
            methods=methods,
        )
        return token

    def redeem(
        self,
        token: str,
        *,
        client_id: str,
        check_target: Callable[[str | None], None] | None = None,
        dpop_jkt: str | None = None,
    ) -> RefreshGrant:
        """Use ``token`` once. Reuse of a rotated token revokes every token of its family.

        ``check_target`` sees the grant's audience and may refuse it before the token is used.
        A family bound to a DPoP key is refused unless ``dpop_jkt`` is that key's.
        """
        grant = self._grants.get(_digest(token))
        if grant is None or grant.family_id in self._revoked_families:
            raise OAuthError("invalid_grant", "unknown or revoked refresh token")
        if grant.client_id != client_id:
            raise OAuthError("invalid_grant", "the refresh token was issued to another client")
        if grant.used:
            self.revoke_family(grant.family_id)
            raise OAuthError(
                "invalid_grant", "refresh token reuse detected; the whole token family is revoked"
            )
        if grant.expires_at <= self._clock():
            raise OAuthError("invalid_grant", "the refresh token has expired")
        bound = self._family_keys.get(grant.family_id)
        if bound is not None and dpop_jkt != bound:
            raise OAuthError(
                "invalid_grant",
                "the refresh token is bound to a DPoP key and the request "
                + ("has no proof" if dpop_jkt is None else "is signed with another key"),
            )
        if check_target is not None:
            check_target(grant.audience)
        grant.used = True
        return grant

    def bind(self, token: str, jkt: str) -> None:
        """Bind the family of ``token`` to the DPoP key ``jkt`` (RFC 9449 §5.8)."""
        grant = self._grants.get(_digest(token))
        if grant is not None:
            self._family_keys.setdefault(grant.family_id, jkt)

    def revoke(self, token: str, *, client_id: str) -> None:
        """RFC 7009 §2.1: revoke the token's family; unknown tokens are silently ignored."""
        grant = self._grants.get(_digest(token))
        if grant is not None and grant.client_id == client_id:
            self.revoke_family(grant.family_id)

    def revoke_family(self, family_id: str) -> None:
        self._revoked_families.add(family_id)
        self._family_keys.pop(family_id, None)
        for key in [k for k, g in self._grants.items() if g.family_id == family_id]:
            del self._grants[key]
