"""``Issuer``: the directory, keys, actions and grants behind one Starlette app."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from starlette.applications import Starlette

from ._actionlogs import ActionLogsAccess
from ._actions import Action, ActionFunction, Trigger, load_action
from ._app import build_app
from ._codes import CodeStore
from ._directory import (
    DEFAULT_GRANT_TYPES,
    Api,
    Client,
    ClientGrant,
    Directory,
    TokenDialect,
    User,
    logout_urls,
)
from ._errors import ConfigError, IssuerError
from ._grants import TokenEndpoint, resolve_api
from ._hashing import hash_secret
from ._keys import KeyRing, SigningAlg, SigningKey
from ._login import LoginPipeline, LoginRequest, TokenSet
from ._refresh import RefreshStore
from ._runtime import ActionLog, ExecutionRecord
from ._serve import bind_socket, serve_in_thread, socket_url
from ._throttle import AttemptThrottle
from ._tokens import TokenMinter, verify_issued_token

__all__ = ["Issuer", "IssuerServer"]

DEFAULT_SCOPE = "openid profile email offline_access"


def _normalize_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"must be an http(s) URL, not {url!r}", key="issuer")
    if parts.query or parts.fragment:
        raise ConfigError("must not have a query or fragment", key="issuer")
    return url if url.endswith("/") else url + "/"


def _positive(value: float, key: str) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ConfigError(f"must be a positive number, not {value!r}", key=key)


def _identifiers(values: Sequence[str] | None, key: str) -> tuple[str, ...] | None:
    if values is None:
        return None
    if isinstance(values, str):
        raise ConfigError("must be a list of API identifiers, not one string", key=key)
    for index, value in enumerate(values):
        if not isinstance(value, str) or not value:
            raise ConfigError("must be a non-empty string", key=f"{key}[{index}]")
    return tuple(values)


@dataclass(frozen=True)
class IssuerServer:
    """An issuer served on a real loopback port: ``url`` is its issuer identifier."""

    url: str
    issuer: Issuer


class Issuer:
    """A local OAuth 2.0 / OpenID Connect issuer that runs post-login actions.

    ``url`` is the issuer identifier (``iss``), always with a trailing slash as Auth0's;
    the app serves it at the root of that URL. Keys are persisted in ``data_dir`` when
    given, so a restart keeps earlier tokens valid. ``allowed_logout_urls`` are where a
    logout without ``client_id`` may return to; ``registration_allowed_apis`` limits the
    APIs that dynamically registered clients may ask for (``None``: any). ``GET
    /actions/logs`` answers only under the host name of ``url`` (any loopback name when
    that is loopback), requires ``Authorization: Bearer <action_logs_token>`` when a token
    is set, and answers 404 when ``action_logs_enabled`` is false. After
    ``throttle_max_failures`` wrong secrets for one client, or wrong passwords for one
    email, within ``throttle_window_seconds``, further attempts for it get 429 until the
    oldest failure leaves the window.
    """

    def __init__(
        self,
        *,
        issuer_url: str = "http://127.0.0.1:8765/",
        signing_alg: SigningAlg = "RS256",
        access_token_lifetime_seconds: int = 3600,
        id_token_lifetime_seconds: int = 36000,
        data_dir: str | Path | None = None,
        clock: Callable[[], float] | None = None,
        action_budget_seconds: float = 20.0,
        max_token_bytes: int = 8192,
        allowed_logout_urls: Sequence[str] = (),
        registration_allowed_apis: Sequence[str] | None = None,
        action_logs_enabled: bool = True,
        action_logs_token: str | None = None,
        throttle_max_failures: int = 10,
        throttle_window_seconds: float = 60.0,
    ) -> None:
        self.url = _normalize_url(issuer_url)
        #: Where a logout without ``client_id`` may send the browser (exact match).
        self.allowed_logout_urls = logout_urls(allowed_logout_urls, "allowed_logout_urls")
        #: The APIs dynamically registered clients may ask for; ``None``: any API.
        self.registration_allowed_apis = _identifiers(
            registration_allowed_apis, "registration_allowed_apis"
        )
        _positive(access_token_lifetime_seconds, "access_token_lifetime")
        _positive(id_token_lifetime_seconds, "id_token_lifetime")
        _positive(action_budget_seconds, "action_budget_seconds")
        _positive(max_token_bytes, "max_token_bytes")
        self.clock: Callable[[], float] = clock or time.time
        self.action_logs_access = ActionLogsAccess(
            enabled=action_logs_enabled, token=action_logs_token
        )
        self.directory = Directory(
            throttle=AttemptThrottle(
                clock=self.clock,
                max_failures=throttle_max_failures,
                window_seconds=throttle_window_seconds,
            )
        )
        self.keys = KeyRing(
            alg=signing_alg,
            clock=self.clock,
            retention_seconds=max(access_token_lifetime_seconds, id_token_lifetime_seconds),
            data_dir=None if data_dir is None else Path(data_dir),
        )
        self._actions: dict[Trigger, list[Action]] = {"post_login": [], "credentials_exchange": []}
        self._secrets: dict[str, str] = {}
        self._log = ActionLog()
        self.refresh_tokens = RefreshStore(clock=self.clock)
        self.pipeline = LoginPipeline(
            directory=self.directory,
            minter=self._minter(
                access_token_lifetime_seconds, id_token_lifetime_seconds, max_token_bytes
            ),
            refresh_tokens=self.refresh_tokens,
            actions=lambda trigger: list(self._actions[trigger]),
            secrets=self._secrets,
            log=self._log,
            clock=self.clock,
            budget_seconds=action_budget_seconds,
        )
        self.codes = CodeStore(clock=self.clock, on_reuse=self._revoke_issued)
        self.token_endpoint = TokenEndpoint(
            directory=self.directory,
            pipeline=self.pipeline,
            codes=self.codes,
            refresh_tokens=self.refresh_tokens,
            clock=self.clock,
        )

    def _minter(self, access_lifetime: int, id_lifetime: int, max_bytes: int) -> TokenMinter:
        return TokenMinter(
            issuer_url=self.url,
            keys=self.keys,
            clock=self.clock,
            access_token_lifetime_seconds=access_lifetime,
            id_token_lifetime_seconds=id_lifetime,
            max_token_bytes=max_bytes,
        )

    def _revoke_issued(self, tokens: TokenSet, client_id: str) -> None:
        if tokens.refresh_token is not None:
            self.refresh_tokens.revoke(tokens.refresh_token, client_id=client_id)

    @classmethod
    def from_config(cls, path: str | Path, *, issuer_url: str | None = None) -> Issuer:
        """Build an issuer from a TOML file (DESIGN §2); ``issuer_url`` overrides its ``issuer``."""
        from ._config import load_config

        return load_config(Path(path), issuer_url=issuer_url)

    @classmethod
    @contextmanager
    def serving(
        cls,
        *,
        config: str | Path | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        **options: Any,
    ) -> Iterator[IssuerServer]:
        """Bind ``host:port`` first, build the issuer for that URL, and serve it with uvicorn.

        ``config`` is a TOML file; otherwise ``options`` go to :class:`Issuer`. The issuer
        can still be given users, clients and actions while it is served.
        """
        with bind_socket(host, port) as sock:
            url = socket_url(sock) + "/"
            issuer = (
                cls.from_config(config, issuer_url=url)
                if config
                else cls(issuer_url=url, **options)
            )
            with serve_in_thread(issuer.app, sock=sock):
                yield IssuerServer(url=issuer.url, issuer=issuer)

    @cached_property
    def app(self) -> Starlette:
        """The Starlette app with every endpoint: discovery, JWKS, authorize, token, …"""
        return build_app(self)

    def http_client(self, **kwargs: Any) -> httpx.AsyncClient:
        """An ``httpx.AsyncClient`` bound in-process to :attr:`app` (base URL: the issuer URL)."""
        kwargs.setdefault("base_url", self.url)
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), **kwargs)

    # -- registration ---------------------------------------------------------------

    def add_api(
        self,
        identifier: str,
        *,
        scopes: Sequence[str] = (),
        token_dialect: TokenDialect = "auth0",
        permissions: Mapping[str, Sequence[str]] | None = None,
        enforce_rbac: bool = False,
        add_permissions_in_token: bool | None = None,
    ) -> Api:
        """Register an API; its ``identifier`` is the audience of its access tokens.

        ``permissions`` maps a role to its permissions. ``enforce_rbac`` narrows the API
        scopes of user logins to the user's permissions; ``add_permissions_in_token`` adds
        the ``permissions`` claim (default ``None``: when ``permissions`` is non-empty).
        """
        return self.directory.add_api(
            identifier,
            scopes=scopes,
            token_dialect=token_dialect,
            permissions=permissions,
            enforce_rbac=enforce_rbac,
            add_permissions_in_token=add_permissions_in_token,
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
    ) -> User:
        """Register a user; ``user.user_id`` looks like Auth0's (``auth0|<hex>``)."""
        return self.directory.add_user(
            email,
            password=password,
            created_at=self.clock(),
            app_metadata=app_metadata,
            user_metadata=user_metadata,
            email_verified=email_verified,
            name=name,
            roles=roles,
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
        self, source: str | Path | ActionFunction, *, trigger: str = "post_login"
    ) -> Action:
        """Append an action: a ``.py`` file path or a (sync or async) function."""
        action = load_action(source, trigger=trigger)
        self._actions[action.trigger].append(action)
        return action

    def set_secret(self, name: str, value: str) -> None:
        """Make ``value`` readable to actions as ``event.secrets.<name>``."""
        self._secrets[name] = value

    # -- tokens and keys ------------------------------------------------------------

    async def login(
        self,
        email: str,
        *,
        client_id: str | None = None,
        audience: str | None = None,
        scope: str = DEFAULT_SCOPE,
        nonce: str | None = None,
    ) -> TokenSet:
        """Log ``email`` in through the real pipeline (actions included), without HTTP.

        Without ``client_id``/``audience`` the only registered client/API is used.
        Raises :class:`LoginDenied` or :class:`ActionFailed` when an action stops the login.
        """
        client = (
            self.directory.only_client()
            if client_id is None
            else self.directory.clients.get(client_id)
        )
        if client is None:
            raise IssuerError(f"no such client: {client_id!r}")
        api = (
            self.directory.only_api() if audience is None else resolve_api(self.directory, audience)
        )
        return await self.pipeline.login(
            LoginRequest(
                user=self.directory.user(email),
                client=client,
                api=api,
                requested_scopes=scope.split(),
                protocol="oidc-basic-profile",
                auth_time=self.clock(),
                nonce=nonce,
            )
        )

    def prepare_rotation(self) -> SigningKey:
        """Publish the next signing key in the JWKS without signing with it yet."""
        return self.keys.prepare_rotation()

    def rotate_keys(self) -> SigningKey:
        """Sign with the next key from now on (publishing it first if it was not prepared).

        The previous key stays in the JWKS until every token it signed has expired.
        """
        return self.keys.rotate()

    def action_logs(self) -> list[ExecutionRecord]:
        """Recent action executions, newest first."""
        return self._log.records()

    def verify_access_token(self, token: str, *, audience: str) -> dict[str, Any] | None:
        """The claims of an access token this issuer signed for ``audience``, or ``None``."""
        return verify_issued_token(
            token, keys=self.keys, issuer_url=self.url, audience=audience, now=self.clock()
        )
