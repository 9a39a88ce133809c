"""Minting ID tokens and access tokens (in the API's dialect, see :mod:`._dialects`)."""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

import jwt

from ..core._errors import OAuthError
from ..core._records import Api, User
from ._dialects import shape_access_token
from ._keys import KeyRing

__all__ = ["MIN_TOKEN_BYTES", "TokenMinter", "userinfo_claims", "verify_issued_token"]

# A signed token with no custom claims is already 600 (ES256, EdDSA) to 900 (RS256) bytes:
# a smaller budget would fail every login.
MIN_TOKEN_BYTES = 1024


def _at_hash(access_token: str, alg: str) -> str:
    # OpenID Connect Core §3.1.3.6: left half of the hash used by the signing algorithm;
    # Ed25519 signs with SHA-512.
    digest = (hashlib.sha512 if alg == "EdDSA" else hashlib.sha256)(access_token.encode()).digest()
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).decode().rstrip("=")


def userinfo_claims(user: User, scopes: Sequence[str]) -> dict[str, Any]:
    """Profile claims released for ``scopes`` (OpenID Connect Core §5.4)."""
    claims: dict[str, Any] = {"sub": user.user_id}
    if "profile" in scopes:
        claims.update(
            name=user.name, nickname=user.email.split("@")[0], updated_at=int(user.created_at)
        )
    if "email" in scopes:
        claims.update(email=user.email, email_verified=user.email_verified)
    return claims


class TokenMinter:
    """Signs tokens with the key ring's active key; every token carries ``kid``."""

    def __init__(
        self,
        *,
        issuer_url: str,
        keys: KeyRing,
        clock: Callable[[], float],
        access_token_lifetime_seconds: int,
        id_token_lifetime_seconds: int,
        max_token_bytes: int,
    ) -> None:
        self.issuer_url = issuer_url
        self.keys = keys
        self._clock = clock
        self.access_token_lifetime_seconds = access_token_lifetime_seconds
        self._id_token_lifetime_seconds = id_token_lifetime_seconds
        self._max_token_bytes = max_token_bytes

    def _sign(self, payload: dict[str, Any], *, typ: str, kind: str) -> str:
        key = self.keys.active
        token = jwt.encode(
            payload, key.private_key, algorithm=key.alg, headers={"kid": key.kid, "typ": typ}
        )
        if len(token) > self._max_token_bytes:
            # The claims come from actions, so the login is refused like any failed action:
            # a 403 that says what to change, never a 500.
            raise OAuthError(
                "access_denied",
                f"the {kind} would be {len(token)} bytes, over the"
                f" {self._max_token_bytes}-byte budget; add fewer or smaller claims",
                status_code=403,
            )
        return token

    def access_token(
        self,
        *,
        subject: str,
        client_id: str,
        api: Api | None,
        scopes: Sequence[str],
        custom_claims: dict[str, Any],
        auth_claims: Mapping[str, Any] | None = None,
        roles: Sequence[str] = (),
        grant: str | None = None,
        permissions_within: Collection[str] | None = None,
        dpop_jkt: str | None = None,
    ) -> str:
        """An access token for ``api`` (or for /userinfo only, when there is no API);
        ``dpop_jkt`` binds it to a DPoP key (RFC 9449 §6.1, ``cnf.jkt``).

        ``permissions_within``, when given, narrows the ``permissions`` claim to those
        names: a client the user consented to gets no more of the user's power than the
        scopes consented to, whatever the roles hold.
        """
        now = int(self._clock())
        userinfo = f"{self.issuer_url}userinfo"
        audience: str | list[str]
        if api is None:
            audience = userinfo
        elif "openid" in scopes:
            audience = [api.identifier, userinfo]
        else:
            audience = api.identifier
        payload: dict[str, Any] = {
            **custom_claims,
            **(auth_claims or {}),
            "iss": self.issuer_url,
            "sub": subject,
            "aud": audience,
            "iat": now,
            "exp": now + self.access_token_lifetime_seconds,
            "jti": secrets.token_urlsafe(16),
            "scope": " ".join(scopes),
        }
        if grant == "client-credentials":
            payload["gty"] = grant
        permissions = None if api is None else api.permissions_claim(roles)
        if permissions is not None and permissions_within is not None:
            permissions = [p for p in permissions if p in permissions_within]
        if permissions is not None:
            payload["permissions"] = permissions
        if dpop_jkt is not None:
            payload["cnf"] = {"jkt": dpop_jkt}
        typ = shape_access_token(
            "auth0" if api is None else api.token_dialect,
            payload,
            client_id=client_id,
            user_id=None if grant == "client-credentials" else subject,
            roles=roles,
        )
        return self._sign(payload, typ=typ, kind="access token")

    def bind(self, access_token: str, id_token: str | None, jkt: str) -> tuple[str, str | None]:
        """``access_token`` (this minter's, not yet released) signed again with ``cnf.jkt``,
        and ``id_token`` with the ``at_hash`` of the new access token.

        An authorization code's tokens are minted at login; the DPoP key is known only when
        the code is exchanged (RFC 9449 §5), unless ``dpop_jkt`` named it (§10).
        """
        claims = jwt.decode(access_token, options={"verify_signature": False})
        claims["cnf"] = {"jkt": jkt}
        typ = jwt.get_unverified_header(access_token).get("typ", "JWT")
        bound = self._sign(claims, typ=typ, kind="access token")
        if id_token is not None:
            id_claims = jwt.decode(id_token, options={"verify_signature": False})
            id_claims["at_hash"] = _at_hash(bound, self.keys.active.alg)
            id_token = self._sign(id_claims, typ="JWT", kind="ID token")
        return bound, id_token

    def id_token(
        self,
        *,
        user: User,
        client_id: str,
        scopes: Sequence[str],
        access_token: str,
        nonce: str | None,
        auth_time: float,
        custom_claims: dict[str, Any],
        auth_claims: Mapping[str, Any] | None = None,
    ) -> str:
        """An ID token for ``client_id`` (OpenID Connect Core §2); ``auth_claims`` are the
        ``acr``/``amr`` of the login."""
        now = int(self._clock())
        payload: dict[str, Any] = {
            **custom_claims,
            **(auth_claims or {}),
            **userinfo_claims(user, scopes),
            "iss": self.issuer_url,
            "aud": client_id,
            "iat": now,
            "exp": now + self._id_token_lifetime_seconds,
            "auth_time": int(auth_time),
            "at_hash": _at_hash(access_token, self.keys.active.alg),
        }
        if nonce is not None:
            payload["nonce"] = nonce
        return self._sign(payload, typ="JWT", kind="ID token")


def verify_issued_token(
    token: str, *, keys: KeyRing, issuer_url: str, audience: str, now: float
) -> dict[str, Any] | None:
    """The claims of a token signed by one of ``keys`` for ``audience``, or ``None``."""
    try:
        kid = jwt.get_unverified_header(token).get("kid")
        key = keys.find(kid) if isinstance(kid, str) else None
        if key is None:
            return None
        claims: dict[str, Any] = jwt.decode(
            token,
            key.private_key.public_key(),
            algorithms=[key.alg],
            audience=audience,
            issuer=issuer_url,
            # Expiry is checked below against the injected clock.
            options={"require": ["exp", "iat", "sub"], "verify_exp": False, "verify_iat": False},
        )
    except jwt.PyJWTError:
        return None
    exp = claims.get("exp")
    if not isinstance(exp, int | float) or isinstance(exp, bool) or exp <= now:
        return None
    return claims
