"""``ResolvedIssuers``: the issuers a resolver named, held least recently used out first,
and the ``iss`` values it refused, remembered for a cooldown."""

from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable

import anyio

from .._clock import Clock
from .._errors import ConfigurationError, KeySetUnavailable
from ._issuerconfig import IssuerConfig, IssuerResolver
from ._issuers import TrustedIssuer, iss_for_log, wrong_issuer

__all__ = ["ResolvedIssuers"]

_log = logging.getLogger("claimguard")

# Refused ``iss`` values are remembered by SHA-256 digest (32 bytes each, whatever the
# length of the string an attacker sent), this many at most, oldest forgotten first.
MAX_REFUSED_ISSUERS = 10_000


class ResolvedIssuers:
    """The issuers an :data:`IssuerResolver` accepted, least recently used out first.

    - at most ``max_issuers`` are held (each with its key set); the one pushed out is
      handed to ``on_evict``, which stops its key set and forgets its cached tokens;
    - a refusal (``None``, a configuration for another issuer, or one that does not pass
      the checks) is remembered for ``cooldown_seconds``: a flood of made-up ``iss``
      values costs one resolver call per distinct value per cooldown, and no fetch;
    - one resolver call at a time per ``iss``; concurrent tokens wait for its answer;
    - a resolver that raises is a 503 (:class:`KeySetUnavailable`), not remembered.
    """

    def __init__(
        self,
        resolver: IssuerResolver,
        *,
        build: Callable[[IssuerConfig], TrustedIssuer],
        on_evict: Callable[[TrustedIssuer], Awaitable[None]],
        max_issuers: int,
        cooldown_seconds: float,
        clock: Clock,
    ) -> None:
        self._resolver = resolver
        self._build = build
        self._on_evict = on_evict
        self._max = max_issuers
        self._cooldown = cooldown_seconds
        self._clock = clock
        self._held: OrderedDict[str, TrustedIssuer] = OrderedDict()
        self._refused: dict[bytes, float] = {}
        self._pending: dict[str, anyio.Event] = {}
        #: How many times the resolver was called (for tests and metrics).
        self.calls = 0

    def still_held(self, trusted: TrustedIssuer) -> bool:
        """Whether ``trusted`` (which accepted a cached token) is still trusted; a resolved
        issuer is marked as used now. An issuer pushed out since is not: its tokens are
        verified anew, so it is resolved again rather than fetched for from the side."""
        if not trusted.resolved:
            return True
        if self._held.get(trusted.issuer) is not trusted:
            return False
        self._held.move_to_end(trusted.issuer)
        return True

    def held_now(self, iss: str) -> TrustedIssuer | None:
        """The issuer held for ``iss``, marked as used now; ``None`` if none is held."""
        trusted = self._held.get(iss)
        if trusted is not None:
            self._held.move_to_end(iss)
        return trusted

    def held(self) -> tuple[TrustedIssuer, ...]:
        """The issuers held now, least recently used first."""
        return tuple(self._held.values())

    async def select(self, iss: str) -> TrustedIssuer:
        """The trust for ``iss``, asking the resolver only when the rules allow it."""
        while True:
            trusted = self._held.get(iss)
            if trusted is not None:
                self._held.move_to_end(iss)
                return trusted
            digest = hashlib.sha256(iss.encode("utf-8", "surrogatepass")).digest()
            until = self._refused.get(digest)
            if until is not None:
                if self._clock.time() < until:
                    raise wrong_issuer(iss)
                del self._refused[digest]
            pending = self._pending.get(iss)
            if pending is None:
                return await self._resolve(iss, digest)
            await pending.wait()

    async def _resolve(self, iss: str, digest: bytes) -> TrustedIssuer:
        done = self._pending[iss] = anyio.Event()
        try:
            self.calls += 1
            try:
                config = await self._resolver(iss)
            except Exception as exc:
                _log.warning("issuer resolver failed for iss %s: %r", iss_for_log(iss), exc)
                raise KeySetUnavailable.because(
                    "unreachable",
                    retry_after_seconds=max(1, int(self._cooldown)),
                    detail=f"the issuer resolver failed: {exc!r}",
                ) from exc
            trusted = self._accept(iss, config)
            if trusted is None:
                self._refuse(digest)
                raise wrong_issuer(iss)
            trusted.resolved = True
            self._held[iss] = trusted
            if len(self._held) > self._max:
                _, evicted = self._held.popitem(last=False)
                await self._on_evict(evicted)
            return trusted
        finally:
            del self._pending[iss]
            done.set()

    def _accept(self, iss: str, config: IssuerConfig | None) -> TrustedIssuer | None:
        if config is None:
            return None
        if not isinstance(config, IssuerConfig):
            _log.error(
                "issuer resolver returned %r for iss %s, not an IssuerConfig or None",
                type(config),
                iss_for_log(iss),
            )
            return None
        if config.issuer != iss:
            # The selected issuer must equal iss exactly: a resolver that maps several
            # spellings to one configuration must not widen what is accepted.
            _log.error(
                "issuer resolver returned issuer %r for another iss, %s",
                config.issuer,
                iss_for_log(iss),
            )
            return None
        try:
            return self._build(config)
        except ConfigurationError as exc:
            _log.error(
                "issuer resolver returned an unusable configuration for iss %s: %s",
                iss_for_log(iss),
                exc,
            )
            return None

    def _refuse(self, digest: bytes) -> None:
        refused = self._refused
        now = self._clock.time()
        # Every entry has the same cooldown, so the oldest inserted expire first.
        while refused and (
            len(refused) >= MAX_REFUSED_ISSUERS or next(iter(refused.values())) <= now
        ):
            del refused[next(iter(refused))]
        refused[digest] = now + self._cooldown
