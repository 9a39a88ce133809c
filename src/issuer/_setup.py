"""``IssuerSetup``: registering the APIs, clients, grants, users, actions and secrets an
issuer serves."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .actions._actions import Action, ActionFunction, Trigger, load_action
from .core._directory import Directory
from .core._hashing import hash_secret
from .core._records import DEFAULT_GRANT_TYPES, Api, Client, ClientGrant, TokenDialect, User

__all__ = ["IssuerSetup"]


class IssuerSetup:
    """The registration methods of :class:`Issuer`, which provides the attributes below."""

    directory: Directory
    clock: Callable[[], float]
    _actions: dict[Trigger, list[Action]]
    _secrets: dict[str, str]

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
        """Register an API; its ``identifier`` is the audience of its access tokens.

        ``permissions`` maps a role to its permissions. ``enforce_rbac`` narrows the API
        scopes of user logins to the user's permissions; ``add_permissions_in_token`` adds
        the ``permissions`` claim (default ``None``: when ``permissions`` is non-empty).
        ``require_dpop`` refuses token requests for this API that carry no DPoP proof.
        """
        return self.directory.add_api(
            identifier,
            scopes=scopes,
            token_dialect=token_dialect,
            permissions=permissions,
            enforce_rbac=enforce_rbac,
            add_permissions_in_token=add_permissions_in_token,
            require_dpop=require_dpop,
        )

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
    ) -> Client:
        """Register a client; without ``client_secret`` it is public and must use PKCE.

        ``grants`` maps an API identifier to the scopes ``client_credentials`` may issue
        for it; an API without a grant is refused. The APIs must be registered first.
        ``allowed_logout_urls`` are where a logout naming this client may send the browser.
        """
        return self.directory.add_client(
            client_id,
            client_secret=client_secret,
            redirect_uris=redirect_uris,
            grant_types=grant_types,
            name=name,
            metadata=metadata,
            grants=grants,
            allowed_logout_urls=allowed_logout_urls,
        )

    def add_client_grant(self, client_id: str, api: str, *, scopes: Sequence[str]) -> ClientGrant:
        """Let a registered client use ``client_credentials`` for ``api``, with at most
        ``scopes`` (the scopes issued when the request names none)."""
        return self.directory.add_client_grant(client_id, api, scopes=scopes)

    def add_user(
        self,
        email: str,
        *,
        password: str,
        app_metadata: Mapping[str, Any] | None = None,
        user_metadata: Mapping[str, Any] | None = None,
        email_verified: bool = True,
        name: str | None = None,
        roles: Sequence[str] = (),
        totp_secret: str | None = None,
    ) -> User:
        """Register a user; ``user.user_id`` looks like Auth0's (``auth0|<hex>``).
        ``totp_secret`` (base32) is the user's second factor (RFC 6238); a user without
        one enrols at the first login that needs it."""
        return self.directory.add_user(
            email,
            password=password,
            created_at=self.clock(),
            app_metadata=app_metadata,
            user_metadata=user_metadata,
            email_verified=email_verified,
            name=name,
            roles=roles,
            totp_secret=totp_secret,
        )

    def update_user(
        self,
        email: str,
        *,
        app_metadata: Mapping[str, Any] | None = None,
        user_metadata: Mapping[str, Any] | None = None,
        email_verified: bool | None = None,
        name: str | None = None,
        roles: Sequence[str] | None = None,
        password: str | None = None,
    ) -> User:
        """Replace the given fields of a user; the next login or refresh sees them."""
        user = self.directory.user(email)
        if app_metadata is not None:
            user.app_metadata = dict(app_metadata)
        if user_metadata is not None:
            user.user_metadata = dict(user_metadata)
        if email_verified is not None:
            user.email_verified = email_verified
        if name is not None:
            user.name = name
        if roles is not None:
            user.roles = tuple(roles)
        if password is not None:
            user.password_hash = hash_secret(password)
        return user

    def add_action(
        self,
        source: str | Path | ActionFunction,
        *,
        trigger: str = "post_login",
        on_continue: ActionFunction | None = None,
    ) -> Action:
        """Append an action: a ``.py`` file path or a (sync or async) function.

        ``on_continue`` is a function action's ``on_continue_post_login`` (a file's is
        found in the file), run when the browser it redirected comes back.
        """
        action = load_action(source, trigger=trigger, on_continue=on_continue)
        self._actions[action.trigger].append(action)
        return action

    def secret_names(self) -> list[str]:
        """The names under ``event.secrets``."""
        return list(self._secrets)

    def registered_actions(self) -> list[Action]:
        """Every action, post-login ones first, in the order they run."""
        return [*self._actions["post_login"], *self._actions["credentials_exchange"]]

    def secret_map(self) -> dict[str, str]:
        """``event.secrets`` as actions receive it."""
        return dict(self._secrets)

    def secret_values(self) -> list[str]:
        """The values of ``event.secrets``, for masking wherever output is shown."""
        return list(self._secrets.values())

    def set_secret(self, name: str, value: str) -> None:
        """Make ``value`` readable to actions as ``event.secrets.<name>``."""
        self._secrets[name] = value
