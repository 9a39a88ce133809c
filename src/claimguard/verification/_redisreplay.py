"""The DPoP replay store shared by replicas: one atomic Redis ``SET NX PX`` per proof.

RFC 9449 §11.1 asks a resource server to accept each proof once; behind a load balancer
"once" has to hold across every replica, so the record lives in Redis. ``SET key 1 NX PX
ttl`` writes the key only when it is absent and sets its lifetime in the same command, so
two replicas racing on one proof cannot both see it fresh, and no key outlives its window.

Failing closed: when Redis cannot answer (refused, timed out, an error reply) the proof
might be a replay, so :class:`ReplayStoreUnavailable` is raised (503 with
``Retry-After``) and the request is refused. Only a broken connection is retried, once
and at once (a pooled connection that died with a Redis restart); a timeout is not,
since the first ``SET`` may have landed. Either way a retry can only turn "fresh" into
"replay", never the other way.

redis-py is an optional dependency (the ``claimguard-asgi[redis]`` extra), imported only
when a store is built.
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlsplit

from .._clock import Clock, SystemClock
from .._errors import ConfigurationError, ReplayStoreUnavailable
from ._replay import replay_key

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["REPEAT_WINDOW_SECONDS", "RedisReplayStore"]

REPEAT_WINDOW_SECONDS = 60.0
"""During an outage a failure within this many seconds of the last one logged is counted,
not logged: under load the log would otherwise get one line per request."""

_logger = logging.getLogger("claimguard.dpop")

_MISSING_EXTRA = (
    "RedisReplayStore needs the redis package: install claimguard-asgi[redis] "
    "(pip install 'claimguard-asgi[redis]')"
)


class RedisReplayStore:
    """A :class:`~claimguard.dpop.ReplayStore` in Redis, shared by every replica.

    Give either ``url`` (``redis://``, ``rediss://`` or ``unix://``; the store creates
    its own client and :meth:`aclose` closes it) or ``client`` (a ``redis.asyncio.Redis``
    you built, configured and close yourself: its timeouts and retries apply), not both.
    Keys are ``key_prefix`` followed by a SHA-256 of the key thumbprint and proof id, so
    the attacker-chosen ``jti`` never reaches Redis and every key has the same size.

    ``socket_timeout_seconds`` bounds connecting and each reply for a client the store
    creates: a Redis that stops answering costs a request that long, then 503.
    ``retry_after_seconds`` goes into the 503's ``Retry-After``.
    """

    __slots__ = (
        "_client",
        "_clock",
        "_errors",
        "_failures",
        "_key_prefix",
        "_last_logged_at",
        "_last_message",
        "_muted",
        "_owns_client",
        "_password",
        "_retry_after_seconds",
        "_where",
    )

    def __init__(
        self,
        *,
        url: str | None = None,
        client: Redis | None = None,
        key_prefix: str = "claimguard:dpop:",
        socket_timeout_seconds: float = 0.5,
        retry_after_seconds: int = 5,
        clock: Clock | None = None,
    ) -> None:
        if (url is None) == (client is None):
            raise ConfigurationError(
                "RedisReplayStore needs exactly one of url= (a redis:// URL) or client= "
                "(a redis.asyncio.Redis)"
            )
        if not key_prefix:
            raise ConfigurationError(
                "key_prefix must not be empty: it keeps the proof ids apart from other keys"
            )
        if not socket_timeout_seconds > 0 or not math.isfinite(socket_timeout_seconds):
            raise ConfigurationError(
                f"socket_timeout_seconds must be a positive number, not {socket_timeout_seconds!r}"
            )
        if retry_after_seconds < 1:
            raise ConfigurationError(
                f"retry_after_seconds must be at least 1, not {retry_after_seconds!r}"
            )
        try:
            import redis.asyncio
            from redis.asyncio.retry import Retry
            from redis.backoff import NoBackoff
            from redis.exceptions import ConnectionError as RedisConnectionError
            from redis.exceptions import RedisError
        except ImportError as exc:
            raise ConfigurationError(_MISSING_EXTRA) from exc

        self._errors: tuple[type[BaseException], ...] = (RedisError, OSError)
        self._key_prefix = key_prefix
        self._retry_after_seconds = retry_after_seconds
        self._clock: Clock = clock or SystemClock()
        self._failures = 0
        self._muted = 0
        self._last_message: str | None = None
        self._last_logged_at = 0.0
        if url is not None:
            self._where, self._password = _describe_url(url)
            try:
                self._client: Redis = redis.asyncio.Redis.from_url(
                    url,
                    socket_timeout=socket_timeout_seconds,
                    socket_connect_timeout=socket_timeout_seconds,
                    # See the module docstring.
                    retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
                )
            except ValueError as exc:
                # redis-py's messages can quote the URL, password included.
                raise ConfigurationError(
                    f"RedisReplayStore url for {self._where} is not usable: "
                    f"{self._redact(str(exc))}"
                ) from None
            self._owns_client = True
        else:
            assert client is not None
            self._client = client
            self._where, self._password = _describe_client(client)
            self._owns_client = False

    def __repr__(self) -> str:
        return f"RedisReplayStore(at={self._where!r}, key_prefix={self._key_prefix!r})"

    async def first_use(self, jkt: str, jti: str, *, ttl_seconds: float) -> bool:
        """Record ``(jkt, jti)`` for ``ttl_seconds``; ``True`` if it was not seen before.

        Raises :class:`ReplayStoreUnavailable` when Redis does not answer.
        """
        key = self._key_prefix + replay_key(jkt, jti)
        # PX takes whole milliseconds; rounding up never shortens the replay window.
        ttl_ms = max(1, math.ceil(ttl_seconds * 1000))
        try:
            created = await self._client.set(key, b"1", nx=True, px=ttl_ms)
        except self._errors as exc:
            # Not chained: the detail carries the cause with the password taken out, and
            # redis-py's own exception may quote connection settings.
            raise self._unavailable(exc) from None
        if self._failures:
            _logger.info(
                "DPoP replay store at %s answers again after %d failed attempt(s)",
                self._where,
                self._failures,
            )
            self._failures = 0
            self._last_message = None
            self._muted = 0
        # SET ... NX answers OK when it wrote the key and nil when the key was there;
        # anything else is not taken as "fresh".
        return created is True or created == b"OK" or created == "OK"

    async def aclose(self) -> None:
        """Close the client this store created from ``url``; a ``client=`` is left open."""
        if self._owns_client:
            await self._client.aclose()

    def _unavailable(self, exc: BaseException) -> ReplayStoreUnavailable:
        reason = self._redact(f"{type(exc).__name__}: {exc}".rstrip(": "))
        detail = f"DPoP replay store at {self._where} cannot answer: {reason}"
        self._log_failure(detail)
        return ReplayStoreUnavailable(
            "The proof cannot be checked for replay right now.",
            retry_after_seconds=self._retry_after_seconds,
            detail=detail,
        )

    def _log_failure(self, message: str) -> None:
        self._failures += 1
        now = self._clock.time()
        if self._last_message is not None and now - self._last_logged_at < REPEAT_WINDOW_SECONDS:
            self._muted += 1
            return
        repeats = f" ({self._muted} failure(s) not logged since)" if self._muted else ""
        self._last_message = message
        self._last_logged_at = now
        self._muted = 0
        _logger.warning("%s; requests with DPoP proofs are refused (503)%s", message, repeats)

    def _redact(self, text: str) -> str:
        if self._password:
            for form in {self._password, quote(self._password, safe="")}:
                text = text.replace(form, "***")
        return text


def _describe_url(url: str) -> tuple[str, str | None]:
    """Where ``url`` points (``host:port`` or the socket path) and its password, if any."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError:
        raise ConfigurationError(
            "RedisReplayStore url is not a URL (expected redis://host:port/db)"
        ) from None
    password = unquote(parts.password) if parts.password else None
    if parts.scheme == "unix":
        return f"unix:{parts.path}", password
    if parts.scheme not in ("redis", "rediss") or not host:
        raise ConfigurationError(
            f"RedisReplayStore url must be redis://host:port/db, rediss://… or unix://…, "
            f"not a {parts.scheme or 'scheme-less'} URL"
        )
    database = parts.path.strip("/")
    if database and not database.isdigit():
        # redis-py would quietly use database 0, perhaps one another program writes to.
        raise ConfigurationError(
            f"RedisReplayStore url for {host}:{port or 6379} names database {database!r}; "
            "the database is a number (redis://host:port/0)"
        )
    return f"{host}:{port or 6379}", password


def _describe_client(client: Any) -> tuple[str, str | None]:
    """Where a caller's client points, read from its connection pool's settings."""
    settings: dict[str, Any] = getattr(
        getattr(client, "connection_pool", None), "connection_kwargs", {}
    )
    password = settings.get("password")
    if settings.get("path"):
        return f"unix:{settings['path']}", password if isinstance(password, str) else None
    where = f"{settings.get('host', 'localhost')}:{settings.get('port', 6379)}"
    return where, password if isinstance(password, str) else None
