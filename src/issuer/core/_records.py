"""The directory's records: users, clients, APIs (resource servers) and client grants."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from ._hashing import verify_secret

__all__ = ["GRANT_TYPES", "TOKEN_DIALECTS", "Api", "Client", "ClientGrant", "TokenDialect", "User"]

#: Where access tokens carry the client, scopes and roles (see issuer.tokens._dialects).
TokenDialect = Literal["auth0", "rfc9068", "keycloak", "okta", "entra", "cognito"]
TOKEN_DIALECTS: tuple[str, ...] = get_args(TokenDialect)
GRANT_TYPES = ("authorization_code", "refresh_token", "password", "client_credentials")
DEFAULT_GRANT_TYPES = ("authorization_code", "refresh_token")


@dataclass
class User:
    """A user account. ``app_metadata`` and ``user_metadata`` are JSON objects."""

    user_id: str
    email: str
    password_hash: str
    app_metadata: dict[str, Any]
    user_metadata: dict[str, Any]
    email_verified: bool
    name: str
    roles: tuple[str, ...]
    created_at: float
    logins_count: int = 0
    #: The base32 TOTP secret from the configuration, if any (RFC 6238).
    totp_secret: str | None = None

    def check_password(self, password: str) -> bool:
        """Whether ``password`` is this user's; one scrypt run in the calling thread."""
        return verify_secret(password, self.password_hash)


@dataclass(frozen=True)
class Client:
    """An OAuth client (application). Without a secret it is public and must use PKCE.

    ``registered`` clients came through dynamic registration (RFC 7591): their name and
    other metadata are self-asserted (§5), so the user is asked before they get a token.
    """

    client_id: str
    secret_hash: str | None
    redirect_uris: tuple[str, ...]
    grant_types: tuple[str, ...]
    name: str
    metadata: Mapping[str, str] = field(default_factory=dict)
    allowed_logout_urls: tuple[str, ...] = ()
    registered: bool = False

    @property
    def is_public(self) -> bool:
        return self.secret_hash is None

    def check_secret(self, secret: str) -> bool:
        """Whether ``secret`` is this client's; one scrypt run in the calling thread."""
        return self.secret_hash is not None and verify_secret(secret, self.secret_hash)


@dataclass(frozen=True)
class Api:
    """A resource server; ``identifier`` is the audience of its access tokens.

    ``permissions`` maps a role name to the permissions it grants (Auth0's RBAC).
    ``enforce_rbac``: the user-facing grants issue only the API scopes among the user's
    permissions. ``add_permissions_in_token``: access tokens carry the ``permissions``
    claim; ``None`` (the default) means "when ``permissions`` is non-empty".
    ``require_dpop``: token requests for this API must carry a DPoP proof (RFC 9449 §5).
    """

    identifier: str
    scopes: tuple[str, ...]
    token_dialect: TokenDialect
    permissions: Mapping[str, tuple[str, ...]]
    enforce_rbac: bool = False
    add_permissions_in_token: bool | None = None
    require_dpop: bool = False

    def permissions_for(self, roles: Iterable[str]) -> list[str]:
        """The permissions ``roles`` hold on this API, in role order, each once."""
        granted: list[str] = []
        for role in roles:
            granted.extend(p for p in self.permissions.get(role, ()) if p not in granted)
        return granted

    def permissions_claim(self, roles: Iterable[str]) -> list[str] | None:
        """The ``permissions`` claim for a user with ``roles``, or ``None`` for no claim."""
        add = self.add_permissions_in_token
        if add is None:
            add = bool(self.permissions)
        return self.permissions_for(roles) if add else None


@dataclass(frozen=True)
class ClientGrant:
    """Auth0's client grant: ``client_id`` may use ``client_credentials`` for ``api``,
    with at most ``scopes`` (RFC 6749 §4.4)."""

    client_id: str
    api: str
    scopes: tuple[str, ...]
