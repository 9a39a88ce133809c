"""DPoP proof replay: the store protocol and the in-process store.

RFC 9449 §11.1: a resource server should accept each proof ``jti`` once for as long as
the proof's ``iat`` window would accept it. A store records "this key's proof id was
used" for ``ttl_seconds`` and tells whether it was new. Stores are shared by every
request of a verifier; one shared across replicas (Redis) stops a proof captured on one
replica from being replayed to another.
"""

from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict
from typing import Protocol, runtime_checkable

from .._clock import Clock, SystemClock
from .._errors import ConfigurationError, InvalidDPoPProof, ReplayStoreUnavailable

__all__ = ["MemoryReplayStore", "ReplayStore", "replay_key"]

_logger = logging.getLogger("claimguard.dpop")


def replay_key(jkt: str, jti: str) -> str:
    """The fixed-size name of one (key, proof id) pair.

    Hashing keeps attacker-chosen ``jti`` strings out of store keys and bounds their
    size; the thumbprint scopes the id to its key, as §11.1 allows.
    """
    # Length-prefixed, so no (jkt, jti) pair can spell another pair's key.
    framed = f"{len(jkt)}:{jkt}{jti}".encode("utf-8", "surrogatepass")
    return hashlib.sha256(framed).hexdigest()


@runtime_checkable
class ReplayStore(Protocol):
    """Where DPoP proof ids are recorded.

    ``first_use`` records the pair for ``ttl_seconds`` and returns ``True`` when it was
    not recorded already (the proof is fresh) and ``False`` when it was (a replay). The
    check and the write must be one atomic step, or two concurrent requests could both
    see "fresh". A store that cannot answer raises :class:`ReplayStoreUnavailable`; it
    never answers ``True`` when unsure. A store may refuse to record a pair by raising
    :class:`InvalidDPoPProof` (the proof is then refused, 401), as
    :class:`MemoryReplayStore` does for a key over its share.
    """

    async def first_use(self, jkt: str, jti: str, *, ttl_seconds: float) -> bool:
        """Record ``(jkt, jti)`` for ``ttl_seconds``; ``True`` if it was not seen before."""
        ...


class MemoryReplayStore:
    """A bounded in-process :class:`ReplayStore`; the default, one per verifier.

    Entries expire after their ``ttl_seconds``. Forgetting a live entry would reopen its
    replay window, so the store never evicts one to make room:

    - one key (``jkt``) holds at most ``max_entries_per_key`` live entries (default 1% of
      ``max_entries``: 1,000); a proof beyond
      that share is refused (:class:`InvalidDPoPProof` ``too_many_proofs``, 401), so one
      client with one token cannot fill the store for everyone;
    - when ``max_entries`` live entries are held in all, a new proof is not guessed fresh:
      :class:`ReplayStoreUnavailable` is raised (503 with ``Retry-After``) until entries
      expire. Filling the store takes ``max_entries / max_entries_per_key`` keys (100 by
      default), each with its own valid token.

    The defaults let one key make about 1,000 requests per replay window (the verifier's
    ``dpop_iat_window_seconds + dpop_iat_future_seconds + dpop_replay_skew_seconds``, 75 s
    by default: about 13 requests a second, sustained); raise ``max_entries_per_key`` for
    clients that send more with one key.
    """

    __slots__ = ("_clock", "_entries", "_logged", "_max_entries", "_max_per_key", "_per_key")

    def __init__(
        self,
        *,
        max_entries: int = 100_000,
        max_entries_per_key: int | None = None,
        clock: Clock | None = None,
    ) -> None:
        if max_entries < 1:
            raise ConfigurationError(f"max_entries must be at least 1, not {max_entries!r}")
        if max_entries_per_key is None:
            max_entries_per_key = max(1, max_entries // 100)
        elif max_entries_per_key < 1:
            raise ConfigurationError(
                f"max_entries_per_key must be at least 1, not {max_entries_per_key!r}"
            )
        self._max_entries = max_entries
        self._max_per_key = min(max_entries_per_key, max_entries)
        self._clock: Clock = clock or SystemClock()
        # key -> (expiry time, jkt); insertion order is close to expiry order because every
        # entry of one verifier has the same lifetime, so pruning looks at the front.
        self._entries: OrderedDict[str, tuple[float, str]] = OrderedDict()
        # jkt -> its live entries, and the keys refused since they last had room (logged once).
        self._per_key: dict[str, int] = {}
        self._logged: set[str] = set()

    def __len__(self) -> int:
        return len(self._entries)

    async def first_use(self, jkt: str, jti: str, *, ttl_seconds: float) -> bool:
        now = self._clock.time()
        key = replay_key(jkt, jti)
        entry = self._entries.get(key)
        if entry is not None and entry[0] > now:
            return False
        self._prune(now)
        if self._per_key.get(jkt, 0) >= self._max_per_key:
            self._refuse_key(jkt)
        if len(self._entries) >= self._max_entries:
            raise ReplayStoreUnavailable(
                "The proof cannot be checked for replay right now.",
                retry_after_seconds=max(1, int(ttl_seconds)),
                detail=f"in-memory DPoP replay store is full ({self._max_entries} live entries)",
            )
        self._entries[key] = (now + ttl_seconds, jkt)
        self._entries.move_to_end(key)
        self._per_key[jkt] = self._per_key.get(jkt, 0) + 1
        return True

    def _refuse_key(self, jkt: str) -> None:
        if jkt not in self._logged:
            self._logged.add(jkt)
            _logger.warning(
                "DPoP key %s holds %d live proof ids, its max_entries_per_key share: its "
                "proofs are refused until some expire",
                jkt,
                self._max_per_key,
            )
        raise InvalidDPoPProof(
            "too_many_proofs", "Too many recent DPoP proofs by this key; try again later."
        )

    def _drop(self, key: str, jkt: str) -> None:
        del self._entries[key]
        left = self._per_key[jkt] - 1
        if left:
            self._per_key[jkt] = left
        else:
            del self._per_key[jkt]
        if left < self._max_per_key:
            self._logged.discard(jkt)

    def _prune(self, now: float) -> None:
        entries = self._entries
        while entries:
            key, (expiry, jkt) = next(iter(entries.items()))
            if expiry > now:
                break
            self._drop(key, jkt)
        if len(entries) >= self._max_entries:
            # Lifetimes may differ (a verifier reconfigured, a store shared): sweep all.
            for key, (_, jkt) in [(k, e) for k, e in entries.items() if e[0] <= now]:
                self._drop(key, jkt)
