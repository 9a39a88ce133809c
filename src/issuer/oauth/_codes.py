"""Authorization codes: single use, short-lived, bound to client, redirect URI and PKCE."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from ..core._errors import OAuthError
from ..login._login import TokenSet

__all__ = ["CODE_LIFETIME_SECONDS", "CodeStore", "pkce_challenge"]

CODE_LIFETIME_SECONDS = 600  # RFC 6749 §4.1.2: at most 10 minutes
_VERIFIER = re.compile(r"[A-Za-z0-9\-._~]{43,128}")  # RFC 7636 §4.1


def pkce_challenge(verifier: str) -> str:
    """RFC 7636 §4.2 ``S256``: BASE64URL(SHA256(verifier))."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


@dataclass
class _Code:
    client_id: str
    redirect_uri: str | None
    code_challenge: str | None
    tokens: TokenSet
    expires_at: float
    audience: str | None = None
    dpop_jkt: str | None = None
    used: bool = False


class CodeStore:
    """Codes for logins that already ran their actions; the tokens wait for the exchange."""

    def __init__(
        self, *, clock: Callable[[], float], on_reuse: Callable[[TokenSet, str], None]
    ) -> None:
        self._clock = clock
        self._on_reuse = on_reuse
        self._codes: dict[str, _Code] = {}

    def issue(
        self,
        *,
        client_id: str,
        redirect_uri: str | None,
        code_challenge: str | None,
        tokens: TokenSet,
        audience: str | None = None,
        dpop_jkt: str | None = None,
    ) -> str:
        """A new code for ``tokens``; ``dpop_jkt`` binds it to a DPoP key (RFC 9449 §10)."""
        now = self._clock()
        self._codes = {k: c for k, c in self._codes.items() if c.expires_at > now - 3600}
        code = secrets.token_urlsafe(32)
        self._codes[code] = _Code(
            client_id,
            redirect_uri,
            code_challenge,
            tokens,
            now + CODE_LIFETIME_SECONDS,
            audience,
            dpop_jkt,
        )
        return code

    def redeem(
        self,
        code: str,
        *,
        client_id: str,
        redirect_uri: str | None,
        code_verifier: str | None,
        check_target: Callable[[str | None], None] | None = None,
        dpop_jkt: str | None = None,
    ) -> TokenSet:
        """The tokens of ``code``, once; ``check_target`` may refuse the code's audience.

        A code bound to a DPoP key is refused unless ``dpop_jkt`` is that key's.
        """
        entry = self._codes.get(code)
        if entry is None or entry.client_id != client_id:
            raise OAuthError("invalid_grant", "unknown authorization code")
        if entry.used:
            # RFC 6749 §4.1.2: a code used twice revokes what it issued.
            self._on_reuse(entry.tokens, client_id)
            raise OAuthError("invalid_grant", "the authorization code was already used")
        if entry.expires_at <= self._clock():
            raise OAuthError("invalid_grant", "the authorization code has expired")
        # RFC 6749 §4.1.3: required, and identical, when the authorization request had one.
        if redirect_uri != entry.redirect_uri:
            raise OAuthError(
                "invalid_grant", "redirect_uri does not match the authorization request"
            )
        if entry.code_challenge is not None:
            if code_verifier is None:
                raise OAuthError("invalid_grant", "code_verifier is required (PKCE)")
            if not _VERIFIER.fullmatch(code_verifier) or not hmac.compare_digest(
                pkce_challenge(code_verifier), entry.code_challenge
            ):
                raise OAuthError("invalid_grant", "code_verifier does not match the code_challenge")
        elif code_verifier is not None:
            raise OAuthError("invalid_grant", "code_verifier sent but no code_challenge was")
        # RFC 9449 §10.1: the token request must prove the key dpop_jkt named.
        if entry.dpop_jkt is not None and dpop_jkt != entry.dpop_jkt:
            raise OAuthError(
                "invalid_grant",
                "the code is bound to a DPoP key and the request "
                + ("has no proof" if dpop_jkt is None else "is signed with another key"),
            )
        if check_target is not None:
            check_target(entry.audience)
        entry.used = True
        return entry.tokens
