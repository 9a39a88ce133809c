"""DPoP proof replay: the store protocol and the in-process store.

RFC 9449 §11.1: a resource server should accept each proof ``jti`` once for as long as
the proof's ``iat`` window would accept it. A store records "this key's proof id was
used" for ``ttl_seconds`` and tells whether it was new. Stores are shared by every
request of a verifier; one shared across replicas (Redis) stops a proof captured on one
replica from being replayed to another.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from typing import Protocol, runtime_checkable

from ._clock import Clock, SystemClock
from ._errors import ConfigurationError, ReplayStoreUnavailable

__all__ = ["MemoryReplayStore", "ReplayStore", "replay_key"]


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
    never answers ``True`` when unsure.
    """

    async def first_use(self, jkt: str, jti: str, *, ttl_seconds: float) -> bool:
        """Record ``(jkt, jti)`` for ``ttl_seconds``; ``True`` if it was not seen before."""
        ...


class MemoryReplayStore:
    """A bounded in-process :class:`ReplayStore`; the default, one per verifier.

    Entries expire after their ``ttl_seconds``. When ``max_entries`` live entries are
    held, a new proof is not guessed fresh: :class:`ReplayStoreUnavailable` is raised
    (503 with ``Retry-After``) until entries expire, because forgetting a live entry
    would reopen its replay window.
    """

    __slots__ = ("_clock", "_entries", "_max_entries")

    def __init__(self, *, max_entries: int = 100_000, clock: Clock | None = None) -> None:
        if max_entries < 1:
            raise ConfigurationError(f"max_entries must be at least 1, not {max_entries!r}")
        self._max_entries = max_entries
        self._clock: Clock = clock or SystemClock()
        # key -> expiry time; insertion order is close to expiry order because every
        # entry of one verifier has the same lifetime, so pruning looks at the front.
        self._entries: OrderedDict[str, float] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    async def first_use(self, jkt: str, jti: str, *, ttl_seconds: float) -> bool:
        now = self._clock.time()
        key = replay_key(jkt, jti)
        expiry = self._entries.get(key)
        if expiry is not None and expiry > now:
            return False
        self._prune(now)
        if len(self._entries) >= self._max_entries:
            raise ReplayStoreUnavailable(
                "The proof cannot be checked for replay right now.",
                retry_after_seconds=max(1, int(ttl_seconds)),
                detail=f"in-memory DPoP replay store is full ({self._max_entries} live entries)",
            )
        self._entries[key] = now + ttl_seconds
        self._entries.move_to_end(key)
        return True

    def _prune(self, now: float) -> None:
        entries = self._entries
        while entries:
            key, expiry = next(iter(entries.items()))
            if expiry > now:
                break
            del entries[key]
        if len(entries) >= self._max_entries:
            # Lifetimes may differ (a verifier reconfigured, a store shared): sweep all.
            for key in [k for k, e in entries.items() if e <= now]:
                del entries[key]
