"""The issuer's directory: users, clients and APIs (resource servers)."""

from __future__ import annotations

import copy
import secrets
from collections.abc import Mapping, Sequence
from typing import Any

from ._errors import ConfigError, IssuerError
from ._hashing import hash_secret
from ._options import logout_urls
from ._records import (
    DEFAULT_GRANT_TYPES,
    GRANT_TYPES,
    TOKEN_DIALECTS,
    Api,
    Client,
    ClientGrant,
    TokenDialect,
    User,
)
from ._throttle import AttemptThrottle
from ._totp import validate_secret

__all__ = ["MAX_EMAIL_LENGTH", "Directory"]

# RFC 5321 §4.5.3.1.3: a path, and so an address, is at most 256 octets with its brackets.
MAX_EMAIL_LENGTH = 254


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
        self.client_grants: dict[tuple[str, str], ClientGrant] = {}

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
        totp_secret: str | None = None,
    ) -> User:
        if "@" not in email:
            raise ConfigError(f"not an email address: {email!r}", key="email")
        if len(email) > MAX_EMAIL_LENGTH:
            raise ConfigError(f"longer than {MAX_EMAIL_LENGTH} characters", key="email")
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
            totp_secret=None if totp_secret is None else validate_secret(totp_secret),
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
        if len(email) > MAX_EMAIL_LENGTH:
            # No account has such an email: answered at once, and never a throttle key, so
            # made-up 60 KB emails cannot fill the throttle's memory.
            return None
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
        grants: Mapping[str, Sequence[str]] | None = None,
        allowed_logout_urls: Sequence[str] = (),
        registered: bool = False,
    ) -> Client:
        """Register a client; ``grants`` maps an API identifier to the scopes the client may
        have for it with ``client_credentials`` (the APIs must be registered first)."""
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
            allowed_logout_urls=logout_urls(allowed_logout_urls, "allowed_logout_urls"),
            registered=registered,
        )
        if grants is not None and not isinstance(grants, Mapping):
            raise ConfigError("must map each API identifier to its scopes", key="grants")
        checked = []
        for api, scopes in (grants or {}).items():
            try:
                checked.append(self._check_grant(client, api, scopes))
            except ConfigError as exc:
                exc.key = ".".join(filter(None, (f"grants[{api!r}]", exc.key)))
                raise
        self.clients[client_id] = client
        self.client_grants.update(((g.client_id, g.api), g) for g in checked)
        return client

    def add_client_grant(self, client_id: str, api: str, *, scopes: Sequence[str]) -> ClientGrant:
        """Let a registered client use ``client_credentials`` for ``api`` with ``scopes``."""
        client = self.clients.get(client_id)
        if client is None:
            raise ConfigError(f"no such client {client_id!r}", key="client_id")
        grant = self._check_grant(client, api, scopes)
        self.client_grants[client_id, api] = grant
        return grant

    def client_grant(self, client_id: str, api: str) -> ClientGrant | None:
        """The grant letting ``client_id`` use ``client_credentials`` for ``api``, if any."""
        return self.client_grants.get((client_id, api))

    def _check_grant(self, client: Client, api: str, scopes: Sequence[str]) -> ClientGrant:
        # Errors name "api" or "scopes" of one grant; callers say which grant.
        if "client_credentials" not in client.grant_types:
            raise ConfigError("a grant needs client_credentials in grant_types")
        target = self.apis.get(api) if isinstance(api, str) else None
        if target is None:
            known = ", ".join(map(repr, self.apis)) or "none"
            raise ConfigError(f"unknown API {api!r} (registered: {known})", key="api")
        if isinstance(scopes, str) or not all(isinstance(s, str) for s in scopes):
            raise ConfigError("must be a list of strings", key="scopes")
        undefined = [s for s in scopes if s not in target.scopes]
        if undefined:
            defined = ", ".join(target.scopes) or "none"
            raise ConfigError(
                f"{undefined[0]!r} is not a scope of {api!r} (it has: {defined})", key="scopes"
            )
        if (client.client_id, api) in self.client_grants:
            raise ConfigError(f"duplicate grant for API {api!r}", key="api")
        return ClientGrant(client.client_id, api, tuple(dict.fromkeys(scopes)))

    def add_api(
        self,
        identifier: str,
        *,
        scopes: Sequence[str] = (),
        token_dialect: TokenDialect = "auth0",
        permissions: Mapping[str, Sequence[str]] | None = None,
        enforce_rbac: bool = False,
        add_permissions_in_token: bool | None = None,
        require_dpop: bool = False,
    ) -> Api:
        if not identifier:
            raise ConfigError("must not be empty", key="identifier")
        if identifier in self.apis:
            raise ConfigError(f"duplicate API {identifier!r}", key="identifier")
        if token_dialect not in TOKEN_DIALECTS:
            names = ", ".join(map(repr, TOKEN_DIALECTS))
            raise ConfigError(f"must be one of {names}, not {token_dialect!r}", key="token_dialect")
        if not isinstance(enforce_rbac, bool):
            raise ConfigError("must be true or false", key="enforce_rbac")
        if add_permissions_in_token is not None and not isinstance(add_permissions_in_token, bool):
            raise ConfigError("must be true or false", key="add_permissions_in_token")
        if not isinstance(require_dpop, bool):
            raise ConfigError("must be true or false", key="require_dpop")
        roles = {role: tuple(p) for role, p in (permissions or {}).items()}
        if enforce_rbac:
            # RBAC grants API scopes only: a permission that is no scope could never be issued.
            for role, granted in roles.items():
                undefined = [p for p in granted if p not in scopes]
                if undefined:
                    raise ConfigError(
                        f"{undefined[0]!r} is not one of this API's scopes, so enforce_rbac"
                        " could never issue it",
                        key=f"permissions.{role}",
                    )
        api = Api(
            identifier=identifier,
            scopes=tuple(scopes),
            token_dialect=token_dialect,
            permissions=roles,
            enforce_rbac=enforce_rbac,
            add_permissions_in_token=add_permissions_in_token,
            require_dpop=require_dpop,
        )
        self.apis[identifier] = api
        return api

    def only_client(self) -> Client:
        if not self.clients:
            raise IssuerError("no client is registered; add one with add_client()")
        if len(self.clients) != 1:
            raise IssuerError(f"{len(self.clients)} clients are registered; name one (client_id=)")
        return next(iter(self.clients.values()))

    def only_api(self) -> Api | None:
        if len(self.apis) > 1:
            raise IssuerError(f"{len(self.apis)} APIs are registered; name one (audience=)")
        return next(iter(self.apis.values()), None)
