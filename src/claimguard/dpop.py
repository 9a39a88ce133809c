"""DPoP (RFC 9449) for resource servers: where proof ids are remembered.

Pass a store to ``TokenVerifier(dpop_replay_store=...)``. :class:`MemoryReplayStore` is
the default (one process); share a :class:`RedisReplayStore` between replicas so a proof
accepted by one replica cannot be replayed to another (extra ``claimguard-asgi[redis]``).
"""

from ._errors import ReplayStoreUnavailable
from .verification._redisreplay import RedisReplayStore
from .verification._replay import MemoryReplayStore, ReplayStore

__all__ = ["MemoryReplayStore", "RedisReplayStore", "ReplayStore", "ReplayStoreUnavailable"]
