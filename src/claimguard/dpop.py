"""DPoP (RFC 9449) for resource servers: where proof ids are remembered.

Pass a store to ``TokenVerifier(dpop_replay_store=...)``. :class:`MemoryReplayStore` is
the default (one process); share a Redis store between replicas so a proof accepted by
one replica cannot be replayed to another.
"""

from ._errors import ReplayStoreUnavailable
from ._replay import MemoryReplayStore, ReplayStore

__all__ = ["MemoryReplayStore", "ReplayStore", "ReplayStoreUnavailable"]
