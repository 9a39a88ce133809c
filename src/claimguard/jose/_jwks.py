"""Fetching and caching the issuer's signing keys (JWKS), with each caching rule named.

- discovery: ``{issuer without trailing slash}/.well-known/openid-configuration``
  (OpenID Connect Discovery §4), whose ``issuer`` must equal the configured one exactly
  (§4.3); or an explicit ``jwks_uri``;
- one in-flight fetch at a time, shared by every caller that needs it (single flight);
- ``max_age_seconds``: keys older than this are refetched; ``refresh_ahead_seconds``
  before that, a request that finds its key starts a refresh without waiting for it;
- ``cooldown_seconds``: after a fetch (good or bad) an unknown ``kid`` does not cause
  another fetch until the cooldown has passed — made-up kids cost one fetch per window;
- ``stale_seconds``: when a refetch fails, the last good keys keep serving this long;
- after a successful refresh only the refreshed keys count, on every event loop;
- a signature that fails under a key held for longer than the cooldown causes one
  refetch, since the issuer may have put new key material under the same ``kid``;
- keys that cannot be used are skipped; a JWKS with no usable key is a failed fetch
  (reading the document is :func:`~claimguard.jose._jwkset.read_jwk_set`).

Keys leaving the set are announced by RFC 7638 thumbprint (``on_keys_removed``), never by
``kid``: a ``kid`` is only a name, and a reused one must not keep a retired key's tokens.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import anyio

from .._clock import Clock
from .._errors import InvalidToken, KeySetUnavailable, UnavailableCause
from ._discovery import discover
from ._fetch import FetchError, JSONFetcher
from ._jwk import VerificationKey
from ._jwkset import read_jwk_set
from ._keylog import KeySetLog

__all__ = ["KeySet", "KeySetState"]


@dataclass(frozen=True)
class KeySetState:
    """A snapshot of the cache for logs, health checks and tests."""

    jwks_uri: str | None
    kids: tuple[str | None, ...]
    fetched_at: float | None
    last_attempt_at: float | None
    last_error: str | None
    fetch_count: int
    skipped_keys: tuple[str, ...] = field(default=())
    last_cause: UnavailableCause | None = None
    """The kind of the last failure (see :class:`KeySetUnavailable`), ``None`` after a
    good fetch."""


class KeySet:
    """The issuer's signing keys, fetched on demand and cached by ``kid``."""

    def __init__(
        self,
        *,
        issuer: str,
        jwks_uri: str | None,
        fetcher: JSONFetcher,
        clock: Clock,
        allowed_algorithms: frozenset[str],
        max_age_seconds: float,
        refresh_ahead_seconds: float,
        cooldown_seconds: float,
        stale_seconds: float,
    ) -> None:
        self._issuer = issuer
        self._configured_jwks_uri = jwks_uri
        self._jwks_uri = jwks_uri
        self._fetcher = fetcher
        self._clock = clock
        self._allowed = allowed_algorithms
        self._max_age = max_age_seconds
        self._refresh_ahead = refresh_ahead_seconds
        self._fresh_for = max_age_seconds - refresh_ahead_seconds
        #: Until when the keys need neither a fetch nor a refresh (``-inf`` before the first).
        self.fresh_until = -math.inf
        self._cooldown = cooldown_seconds
        self._stale = stale_seconds
        self._keys: dict[str | None, VerificationKey] = {}
        self._fetched_at: float | None = None
        self._last_attempt_at: float | None = None
        self._last_error: str | None = None
        self._last_cause: UnavailableCause | None = None
        self._log = KeySetLog(issuer=issuer, clock=clock)
        self._fetch_count = 0
        self._skipped: tuple[str, ...] = ()
        self._in_flight: anyio.Event | None = None
        self._background: set[asyncio.Task[None]] = set()
        self.on_keys_removed: Callable[[frozenset[str]], None] | None = None
        # Told of every fetch attempt: True when it gave a usable key set.
        self.on_fetch: Callable[[bool], None] | None = None

    # -- lookup -------------------------------------------------------------------------

    def fresh(self, kid: str | None, now: float) -> VerificationKey | None:
        """Return the key for ``kid`` when no fetch or refresh is due at ``now``; else ``None``.

        The synchronous fast path of :meth:`get`, for the common case.
        """
        if now >= self.fresh_until:
            return None
        return self._keys.get(kid) if kid is not None else self._find(None)

    async def get(self, kid: str | None) -> VerificationKey:
        """Return the key for ``kid``, fetching the JWKS only when the rules allow it.

        Raises :class:`InvalidToken` for a kid the issuer does not publish and
        :class:`KeySetUnavailable` when no keys can be had at all.
        """
        now = self._clock.time()
        if self._fetched_at is not None:
            age = now - self._fetched_at
            key = self._find(kid)
            if key is not None and age <= self._max_age + self._stale:
                # Known keys never wait for the network: refresh beside the request,
                # or inline only where no background task can be started.
                if (
                    age >= self._max_age - self._refresh_ahead
                    and self._cooldown_over(now)
                    and not self._refresh_in_background()
                    and age >= self._max_age
                ):
                    await self._refresh()
                    # Only the set as it is now counts: a key the refresh removed is gone
                    # (a failed refresh leaves the set, and so the key, as it was).
                    refreshed = self._find(kid)
                    if refreshed is None:
                        raise self._unknown_kid(kid)
                    return refreshed
                return key
            # A miss while a fetch is under way shares that fetch (single flight) instead
            # of being answered from the keys as they were before it.
            if key is None and not self._cooldown_over(now) and self._in_flight is None:
                raise self._unknown_kid(kid)
        elif (
            self._last_attempt_at is not None
            and not self._cooldown_over(now)
            and self._in_flight is None
        ):
            raise self._unavailable(now)

        await self._refresh()
        key = self._find(kid)
        if self._fetched_at is None or (
            self._clock.time() - self._fetched_at > self._max_age + self._stale
        ):
            raise self._unavailable(self._clock.time())
        if key is None:
            raise self._unknown_kid(kid)
        return key

    async def replacement(self, key: VerificationKey) -> VerificationKey | None:
        """After a signature failed under ``key``: the new key material now published under
        its ``kid``, or ``None``.

        The issuer may have put a new key under an old ``kid``. When ``key`` has been held
        for at least the cooldown, the JWKS is fetched once (shared with any fetch under
        way); a flood of bad signatures thus costs at most one fetch per cooldown window.
        """
        if not self._cooldown_over(self._clock.time()) and self._in_flight is None:
            return None
        await self._refresh()
        current = self._find(key.kid)
        if current is None or current.thumbprint == key.thumbprint:
            return None
        return current

    def _find(self, kid: str | None) -> VerificationKey | None:
        key = self._keys.get(kid)
        if key is None and kid is None and len(self._keys) == 1:
            # RFC 7515 §4.1.4: kid is optional; without one, only a single key is unambiguous.
            return next(iter(self._keys.values()))
        return key

    def _cooldown_over(self, now: float) -> bool:
        return self._last_attempt_at is None or now - self._last_attempt_at >= self._cooldown

    def _unknown_kid(self, kid: str | None) -> InvalidToken:
        if kid is None:
            return InvalidToken(
                "kid_required", "The token has no 'kid' and the issuer has several keys."
            )
        return InvalidToken(
            "unknown_kid", "The token is signed with a key the issuer does not publish."
        )

    def _unavailable(self, now: float) -> KeySetUnavailable:
        wait = self._cooldown
        if self._last_attempt_at is not None:
            wait = max(1.0, self._cooldown - (now - self._last_attempt_at))
        return KeySetUnavailable.because(
            self._last_cause or "unreachable",
            retry_after_seconds=math.ceil(wait),
            detail=self._last_error,
        )

    # -- fetching -----------------------------------------------------------------------

    async def _refresh(self) -> None:
        """Fetch the JWKS once, however many callers ask at the same time."""
        if self._in_flight is not None:
            await self._in_flight.wait()
            return
        self._in_flight = done = anyio.Event()
        try:
            await self._fetch_and_store()
        finally:
            self._in_flight = None
            done.set()

    def _refresh_in_background(self) -> bool:
        if self._in_flight is not None:
            return True
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # not on asyncio (trio): the caller refreshes inline
            return False
        task = loop.create_task(self._refresh())
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return True

    async def _fetch_and_store(self) -> None:
        self._last_attempt_at = self._clock.time()
        self._fetch_count += 1
        stage: UnavailableCause = "bad_discovery"
        try:
            if self._jwks_uri is None:
                self._jwks_uri = await discover(self._fetcher, self._issuer)
            stage = "no_usable_keys"
            document = await self._fetcher.get_json(self._jwks_uri)
            keys, skipped = read_jwk_set(document, self._jwks_uri, self._allowed)
        except FetchError as exc:
            self._last_error = str(exc)
            self._last_cause = "unreachable" if exc.unreachable else stage
            self._log.failed(self._last_error)
            if self.on_fetch is not None:
                self.on_fetch(False)
            return
        before = None if self._fetched_at is None else _by_kid(self._keys)
        removed = _thumbprints(self._keys) - _thumbprints(keys)
        self._keys = keys
        self._skipped = skipped
        self._fetched_at = self._clock.time()
        self.fresh_until = self._fetched_at + self._fresh_for
        self._last_error = None
        self._last_cause = None
        self._log.fetched(self._jwks_uri, before, _by_kid(keys), skipped)
        if self.on_fetch is not None:
            self.on_fetch(True)
        if removed and self.on_keys_removed is not None:
            self.on_keys_removed(removed)

    async def fetch_now(self) -> None:
        """Fetch discovery and keys now, whatever the cooldown says (a startup check)."""
        await self._refresh()

    # -- inspection ---------------------------------------------------------------------

    def state(self) -> KeySetState:
        """Return a snapshot: kids, last fetch, last error, fetch count, skipped keys."""
        return KeySetState(
            jwks_uri=self._jwks_uri,
            kids=tuple(self._keys),
            fetched_at=self._fetched_at,
            last_attempt_at=self._last_attempt_at,
            last_error=self._last_error,
            fetch_count=self._fetch_count,
            skipped_keys=self._skipped,
            last_cause=self._last_cause,
        )

    def __contains__(self, kid: str | None) -> bool:
        return kid in self._keys

    async def aclose(self) -> None:
        for task in list(self._background):
            task.cancel()


def _thumbprints(keys: dict[str | None, VerificationKey]) -> frozenset[str]:
    return frozenset(key.thumbprint for key in keys.values())


def _by_kid(keys: dict[str | None, VerificationKey]) -> dict[str | None, str]:
    return {kid: key.thumbprint for kid, key in keys.items()}
