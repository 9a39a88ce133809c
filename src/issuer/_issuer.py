"""``Issuer``: the directory, keys, actions and grants behind one Starlette app."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from starlette.applications import Starlette

from ._app import build_app
from ._config import load_config
from ._direct import DirectAccess
from ._setup import IssuerSetup
from .actions._actionlogs import ActionLogsAccess
from .actions._actions import Action, Trigger
from .actions._runtime import ActionLog
from .console._devconsole import check_console_url
from .core._activity import Activity
from .core._directory import Directory
from .core._errors import ConfigError
from .core._options import at_least, identifiers, logout_urls, normalize_url, positive
from .core._pending import DEFAULT_MAX_PENDING
from .core._serve import bind_socket, serve_in_thread, socket_url
from .core._throttle import AttemptThrottle
from .core._totp import CodeChecker
from .login._enrolment import TotpSecrets
from .login._login import LoginPipeline, TokenSet
from .login._sessions import DEFAULT_IDLE_TIMEOUT_SECONDS, DEFAULT_LIFETIME_SECONDS, SessionStore
from .login._signon import SessionCookie
from .oauth._codes import CodeStore
from .oauth._grants import TokenEndpoint
from .tokens._dpop import ProofChecker
from .tokens._keys import KeyRing, SigningAlg
from .tokens._nonces import NonceSource
from .tokens._refresh import RefreshStore
from .tokens._replay import ReplayCache
from .tokens._tokens import MIN_TOKEN_BYTES, TokenMinter

if TYPE_CHECKING:
    pass

__all__ = ["Issuer", "IssuerServer"]

MAX_CONTINUE_SECONDS = 3600


@dataclass(frozen=True)
class IssuerServer:
    """An issuer served on a real loopback port: ``url`` is its issuer identifier."""

    url: str
    issuer: Issuer


class Issuer(IssuerSetup, DirectAccess):
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
    oldest failure leaves the window. ``console=True`` serves the developer console under
    ``/console`` (a loopback ``issuer_url`` only; it answers loopback clients naming the
    issuer's host). After an interactive login the browser keeps a session for
    ``sessions_lifetime_seconds``, ended earlier after ``sessions_idle_timeout_seconds``
    without use; ``/authorize`` then logs it in without the password form.
    A login a redirect action paused may be continued at ``/continue``
    for ``redirect_continue_seconds`` (at most an hour). TOTP secrets users enrol at the
    login page are kept in ``data_dir`` too, or in memory without one;
    ``mfa_enrolment=False`` refuses a login that needs a code from a user without a secret
    instead of letting the password holder set one up (trust on first use).
    ``dpop_nonces=True`` makes every DPoP proof at the token endpoint carry
    a nonce the issuer handed out (RFC 9449 §8). At most ``max_pending_logins`` login
    forms, consent questions, code forms and logins sent away are held (each kind); past
    that the oldest is dropped and its browser must start the login again.
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
        console: bool = False,
        sessions_lifetime_seconds: float = DEFAULT_LIFETIME_SECONDS,
        sessions_idle_timeout_seconds: float = DEFAULT_IDLE_TIMEOUT_SECONDS,
        redirect_continue_seconds: float = 600.0,
        dpop_nonces: bool = False,
        mfa_enrolment: bool = True,
        max_pending_logins: int = DEFAULT_MAX_PENDING,
    ) -> None:
        self.url = normalize_url(issuer_url)
        if not isinstance(mfa_enrolment, bool):
            raise ConfigError(f"must be true or false, not {mfa_enrolment!r}", key="mfa.enrolment")
        #: Whether a user without a TOTP secret may set one up when a login needs a code.
        self.mfa_enrolment = mfa_enrolment
        if not isinstance(console, bool):
            raise ConfigError(f"must be true or false, not {console!r}", key="console")
        if console:
            check_console_url(self.url)
        #: Whether ``/console`` (the developer console) is served; loopback issuers only.
        self.console = console
        #: Where a logout without ``client_id`` may send the browser (exact match).
        self.allowed_logout_urls = logout_urls(allowed_logout_urls, "allowed_logout_urls")
        #: The APIs dynamically registered clients may ask for; ``None``: any API.
        self.registration_allowed_apis = identifiers(
            registration_allowed_apis, "registration_allowed_apis"
        )
        positive(access_token_lifetime_seconds, "access_token_lifetime")
        positive(id_token_lifetime_seconds, "id_token_lifetime")
        positive(action_budget_seconds, "action_budget_seconds")
        positive(redirect_continue_seconds, "redirects.continue_seconds")
        if redirect_continue_seconds > MAX_CONTINUE_SECONDS:
            raise ConfigError(
                f"must be at most {MAX_CONTINUE_SECONDS} (an hour), not"
                f" {redirect_continue_seconds!r}",
                key="redirects.continue_seconds",
            )
        #: How long a login sent away by a redirect action may be continued.
        self.redirect_continue_seconds = float(redirect_continue_seconds)
        at_least(max_token_bytes, MIN_TOKEN_BYTES, "max_token_bytes", unit=" bytes")
        at_least(max_pending_logins, 1, "max_pending_logins")
        #: How many logins of each kind (login form, consent, code form, sent away) are held.
        self.max_pending_logins = max_pending_logins
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
        #: TOTP secrets enrolled at the login page (a configured ``totp_secret`` wins).
        self.totp_secrets = TotpSecrets(data_dir=None if data_dir is None else Path(data_dir))
        #: Checks one-time codes; each time step is accepted once per user.
        self.otp_codes = CodeChecker(clock=self.clock)
        self._actions: dict[Trigger, list[Action]] = {"post_login": [], "credentials_exchange": []}
        self._secrets: dict[str, str] = {}
        self._log = ActionLog()
        #: Live events (requests, action output, login outcomes) for the ``serve`` console.
        self.activity = Activity()
        self.refresh_tokens = RefreshStore(clock=self.clock)
        #: Login sessions; an extra authentication step records itself with
        #: ``sessions.record_method(session, name)``.
        self.sessions = SessionStore(
            directory=self.directory,
            clock=self.clock,
            lifetime_seconds=sessions_lifetime_seconds,
            idle_timeout_seconds=sessions_idle_timeout_seconds,
        )
        self.session_cookie = SessionCookie(
            secure=self.url.startswith("https://"),
            max_age_seconds=math.ceil(self.sessions.lifetime_seconds),
        )
        minter = self._minter(
            access_token_lifetime_seconds, id_token_lifetime_seconds, max_token_bytes
        )
        self.pipeline = LoginPipeline(
            directory=self.directory,
            minter=minter,
            refresh_tokens=self.refresh_tokens,
            actions=lambda trigger: list(self._actions[trigger]),
            secrets=self._secrets,
            log=self._log,
            clock=self.clock,
            budget_seconds=action_budget_seconds,
            activity=self.activity,
        )
        self.codes = CodeStore(clock=self.clock, on_reuse=self._revoke_issued)
        self.token_endpoint = TokenEndpoint(
            directory=self.directory,
            pipeline=self.pipeline,
            codes=self.codes,
            refresh_tokens=self.refresh_tokens,
            clock=self.clock,
            proofs=self._proof_checker(dpop_nonces),
            minter=minter,
        )

    def _proof_checker(self, nonces: bool) -> ProofChecker:
        if not isinstance(nonces, bool):
            raise ConfigError(f"must be true or false, not {nonces!r}", key="dpop.nonces")
        #: The DPoP proof checks of the token endpoint (RFC 9449 §4.3, §5).
        self.dpop = ProofChecker(
            # §4.3 point 9: htu is compared with the token endpoint as discovery publishes it.
            url=f"{self.url}oauth/token",
            clock=self.clock,
            replay=ReplayCache(clock=self.clock),
            nonces=NonceSource(clock=self.clock) if nonces else None,
        )
        #: The DPoP proof checks of ``/userinfo``, a protected resource (§7), with a replay
        #: cache of its own so that neither endpoint's traffic can crowd out the other's.
        self.userinfo_dpop = ProofChecker(
            url=f"{self.url}userinfo", clock=self.clock, replay=ReplayCache(clock=self.clock)
        )
        return self.dpop

    def _minter(self, access_lifetime: int, id_lifetime: int, max_bytes: int) -> TokenMinter:
        return TokenMinter(
            issuer_url=self.url,
            keys=self.keys,
            clock=self.clock,
            access_token_lifetime_seconds=access_lifetime,
            id_token_lifetime_seconds=id_lifetime,
            max_token_bytes=max_bytes,
        )

    def configured_totp_secret(self, email: str) -> str | None:
        """The ``totp_secret`` configured for ``email``, if the user has one."""
        user = self.directory.find_user(email)
        return None if user is None else user.totp_secret

    def _revoke_issued(self, tokens: TokenSet, client_id: str) -> None:
        if tokens.refresh_token is not None:
            self.refresh_tokens.revoke(tokens.refresh_token, client_id=client_id)

    @classmethod
    def from_config(
        cls, path: str | Path, *, issuer_url: str | None = None, console: bool | None = None
    ) -> Issuer:
        """Build an issuer from a TOML file (DESIGN §2); ``issuer_url`` overrides its
        ``issuer`` and ``console``, when given, its ``console``."""
        return load_config(Path(path), build=cls, issuer_url=issuer_url, console=console)

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

        ``config`` is a TOML file (``console=True`` may still turn the console on);
        otherwise ``options`` go to :class:`Issuer`. The issuer
        can still be given users, clients and actions while it is served.
        """
        with bind_socket(host, port) as sock:
            url = socket_url(sock) + "/"
            issuer = (
                cls.from_config(config, issuer_url=url, console=options.get("console"))
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
