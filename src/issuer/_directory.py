"""The issuer's directory: users, clients and APIs (resource servers)."""

from __future__ import annotations

import copy
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ._errors import ConfigError, IssuerError
from ._hashing import hash_secret, verify_secret
from ._throttle import AttemptThrottle

__all__ = ["GRANT_TYPES", "Api", "Client", "Directory", "TokenDialect", "User"]

TokenDialect = Literal["auth0", "rfc9068"]
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

    def check_password(self, password: str) -> bool:
        """Whether ``password`` is this user's; one scrypt run in the calling thread."""
        return verify_secret(password, self.password_hash)


@dataclass(frozen=True)
class Client:
    """An OAuth client (application). Without a secret it is public and must use PKCE."""

    client_id: str
    secret_hash: str | None
    redirect_uris: tuple[str, ...]
    grant_types: tuple[str, ...]
    name: str
    metadata: Mapping[str, str] = field(default_factory=dict)

    @property
    def is_public(self) -> bool:
        return self.secret_hash is None

    def check_secret(self, secret: str) -> bool:
        """Whether ``secret`` is this client's; one scrypt run in the calling thread."""
        return self.secret_hash is not None and verify_secret(secret, self.secret_hash)


@dataclass(frozen=True)
class Api:
    """A resource server; ``identifier`` is the audience of its access tokens.

    ``permissions`` maps a role name to the permissions it grants; when it is non-empty,
    access tokens for this API carry Auth0's RBAC ``permissions`` claim.
    """

    identifier: str
    scopes: tuple[str, ...]
    token_dialect: TokenDialect
    permissions: Mapping[str, tuple[str, ...]]

    def permissions_for(self, roles: Iterable[str]) -> list[str] | None:
        if not self.permissions:
            return None
        granted: list[str] = []
        for role in roles:
            granted.extend(p for p in self.permissions.get(role, ()) if p not in granted)
        return granted


class Directory:
    """Users by email and id, clients by id, APIs by identifier.

    Passwords and client secrets are checked through ``throttle``: off the event loop, and
    refused outright for a client or account with too many recent failures.
    """

    def __init__(self, *, throttle: AttemptThrottle) -> None:
        self.throttle = throttle
        self.users: dict[str, User] = {}
        self.clients: dict[str, Client] = {}
        self.apis: dict[str, Api] = {}

    def add_user(
        self,
        email: str,
        *,
        password: str,
        created_at: float,
        app_metadata: Mapping[str, Any] | None = None,
        user_metadata: Mapping[str, Any] | None = None,
        email_verified: bool = True,
        name: str | None = None,
        roles: Sequence[str] = (),
    ) -> User:
        if "@" not in email:
            raise ConfigError(f"not an email address: {email!r}", key="email")
        key = email.lower()
        if key in self.users:
            raise ConfigError(f"duplicate user {email!r}", key="email")
        user = User(
            user_id=f"auth0|{secrets.token_hex(12)}",
            email=email,
            password_hash=hash_secret(password),
            app_metadata=copy.deepcopy(dict(app_metadata or {})),
            user_metadata=copy.deepcopy(dict(user_metadata or {})),
            email_verified=email_verified,
            name=name or email,
            roles=tuple(roles),
            created_at=created_at,
        )
        self.users[key] = user
        return user

    def user(self, email: str) -> User:
        try:
            return self.users[email.lower()]
        except KeyError:
            raise IssuerError(f"no such user: {email!r}") from None

    def find_user(self, email: str) -> User | None:
        return self.users.get(email.lower())

    async def authenticate(self, email: str, password: str) -> User | None:
        """The user with ``email`` if ``password`` is theirs, else ``None``.

        An unknown email costs the same scrypt work as a wrong password and is throttled
        the same way, so neither time nor answer tells which accounts exist (OWASP ASVS
        V2.2; RFC 6749 §10.10). Raises :class:`TooManyAttempts` while the email is over
        the failure limit.
        """
        user = self.find_user(email)
        matches = await self.throttle.verify(
            "account", email.lower(), password, None if user is None else user.password_hash
        )
        return user if matches and user is not None else None

    async def check_client_secret(self, client: Client, secret: str) -> bool:
        """Whether ``secret`` is ``client``'s; throttled like :meth:`authenticate`."""
        if client.secret_hash is None:
            return False
        return await self.throttle.verify("client", client.client_id, secret, client.secret_hash)

    def user_by_id(self, user_id: str) -> User | None:
        return next((u for u in self.users.values() if u.user_id == user_id), None)

    def add_client(
        self,
        client_id: str,
        *,
        client_secret: str | None = None,
        redirect_uris: Sequence[str] = (),
        grant_types: Sequence[str] = DEFAULT_GRANT_TYPES,
        name: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> Client:
        if not client_id:
            raise ConfigError("must not be empty", key="client_id")
        if client_id in self.clients:
            raise ConfigError(f"duplicate client {client_id!r}", key="client_id")
        unknown = [g for g in grant_types if g not in GRANT_TYPES]
        if unknown:
            raise ConfigError(
                f"unknown grant type {unknown[0]!r} (known: {', '.join(GRANT_TYPES)})",
                key="grant_types",
            )
        if client_secret is None and "client_credentials" in grant_types:
            raise ConfigError("client_credentials needs a client_secret", key="grant_types")
        client = Client(
            client_id=client_id,
            secret_hash=None if client_secret is None else hash_secret(client_secret),
            redirect_uris=tuple(redirect_uris),
            grant_types=tuple(grant_types),
            name=name or client_id,
            metadata=dict(metadata or {}),
        )
        self.clients[client_id] = client
        return client

    def add_api(
        self,
        identifier: str,
        *,
        scopes: Sequence[str] = (),
        token_dialect: TokenDialect = "auth0",
        permissions: Mapping[str, Sequence[str]] | None = None,
    ) -> Api:
        if not identifier:
            raise ConfigError("must not be empty", key="identifier")
        if identifier in self.apis:
            raise ConfigError(f"duplicate API {identifier!r}", key="identifier")
        if token_dialect not in ("auth0", "rfc9068"):
            raise ConfigError(
                f"must be 'auth0' or 'rfc9068', not {token_dialect!r}", key="token_dialect"
            )
        api = Api(
            identifier=identifier,
            scopes=tuple(scopes),
            token_dialect=token_dialect,
            permissions={role: tuple(p) for role, p in (permissions or {}).items()},
        )
        self.apis[identifier] = api
        return api

    def only_client(self) -> Client:
        if len(self.clients) != 1:
            raise IssuerError(f"{len(self.clients)} clients are registered; name one (client_id=)")
        return next(iter(self.clients.values()))

    def only_api(self) -> Api | None:
        if len(self.apis) > 1:
            raise IssuerError(f"{len(self.apis)} APIs are registered; name one (audience=)")
        return next(iter(self.apis.values()), None)
