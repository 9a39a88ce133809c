"""The in-process DPoP replay store: once per key and id, bounded, never guessing fresh."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from claimguard import ConfigurationError, InvalidDPoPProof, ReplayStoreUnavailable
from claimguard.dpop import MemoryReplayStore, ReplayStore
from claimguard.verification._replay import replay_key

from ..conftest import FakeClock

pytestmark = pytest.mark.anyio


async def test_a_proof_id_is_fresh_once() -> None:
    store = MemoryReplayStore(clock=FakeClock())
    assert await store.first_use("jkt-a", "id-1", ttl_seconds=65)
    assert not await store.first_use("jkt-a", "id-1", ttl_seconds=65)


async def test_the_same_id_under_another_key_is_another_proof() -> None:
    store = MemoryReplayStore(clock=FakeClock())
    assert await store.first_use("jkt-a", "id-1", ttl_seconds=65)
    assert await store.first_use("jkt-b", "id-1", ttl_seconds=65)


async def test_an_id_is_forgotten_only_after_its_lifetime() -> None:
    clock = FakeClock()
    store = MemoryReplayStore(clock=clock)
    await store.first_use("jkt", "id", ttl_seconds=65)
    clock.advance(64.9)
    assert not await store.first_use("jkt", "id", ttl_seconds=65)
    clock.advance(0.2)
    assert await store.first_use("jkt", "id", ttl_seconds=65)


async def test_a_full_store_fails_closed_instead_of_forgetting_live_ids() -> None:
    clock = FakeClock()
    store = MemoryReplayStore(max_entries=2, clock=clock)
    assert await store.first_use("jkt-a", "1", ttl_seconds=60)
    assert await store.first_use("jkt-b", "2", ttl_seconds=60)
    with pytest.raises(ReplayStoreUnavailable) as raised:
        await store.first_use("jkt-c", "3", ttl_seconds=60)
    assert raised.value.status == 503
    assert raised.value.retry_after_seconds >= 1
    # The live ids are still known: neither became replayable to make room.
    assert not await store.first_use("jkt-a", "1", ttl_seconds=60)
    clock.advance(61)
    assert await store.first_use("jkt-c", "3", ttl_seconds=60)
    assert len(store) == 1


async def test_expired_entries_with_mixed_lifetimes_are_swept_when_full() -> None:
    clock = FakeClock()
    store = MemoryReplayStore(max_entries=2, max_entries_per_key=2, clock=clock)
    await store.first_use("jkt", "long", ttl_seconds=600)
    await store.first_use("jkt", "short", ttl_seconds=10)
    clock.advance(11)
    assert await store.first_use("jkt", "new", ttl_seconds=10)


def test_store_keys_are_fixed_size_and_hide_the_id() -> None:
    key = replay_key("jkt", "x" * 10_000)
    assert len(key) == 64
    assert "xxxx" not in key
    assert replay_key("a", "b\x00c") != replay_key("a\x00b", "c")


def test_the_memory_store_meets_the_protocol() -> None:
    assert isinstance(MemoryReplayStore(), ReplayStore)


def test_a_store_with_no_room_is_refused_when_built() -> None:
    with pytest.raises(ConfigurationError, match="max_entries"):
        MemoryReplayStore(max_entries=0)


async def test_one_key_cannot_take_more_than_its_share_of_the_store(caplog: Any) -> None:
    clock = FakeClock()
    store = MemoryReplayStore(max_entries=10, max_entries_per_key=3, clock=clock)
    for jti in "123":
        assert await store.first_use("greedy", jti, ttl_seconds=60)
    with (
        caplog.at_level(logging.WARNING, logger="claimguard.dpop"),
        pytest.raises(InvalidDPoPProof) as raised,
    ):
        await store.first_use("greedy", "4", ttl_seconds=60)
    assert raised.value.code == "too_many_proofs"
    assert raised.value.status == 401
    assert "max_entries_per_key" in caplog.text
    # The store still has room for every other key, and the greedy key's ids stay known.
    for number in range(7):
        assert await store.first_use(f"other-{number}", "1", ttl_seconds=60)
    assert not await store.first_use("greedy", "1", ttl_seconds=60)
    clock.advance(61)
    assert await store.first_use("greedy", "4", ttl_seconds=60)


async def test_a_key_with_no_share_is_refused_when_built() -> None:
    with pytest.raises(ConfigurationError, match="max_entries_per_key"):
        MemoryReplayStore(max_entries_per_key=0)


async def test_the_default_share_of_a_key_is_one_percent_of_the_store() -> None:
    store = MemoryReplayStore(max_entries=500, clock=FakeClock())
    for number in range(5):
        assert await store.first_use("greedy", str(number), ttl_seconds=60)
    with pytest.raises(InvalidDPoPProof):
        await store.first_use("greedy", "5", ttl_seconds=60)
