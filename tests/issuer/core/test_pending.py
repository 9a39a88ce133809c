"""``PendingStore``: records lapse on the injected clock and the oldest go first past the cap."""

import logging

import pytest

from issuer.core._pending import PendingStore

from ..conftest import FakeClock

_logger = logging.getLogger("issuer.authorize")


def _store(clock: FakeClock, max_entries: int = 2) -> PendingStore[str]:
    return PendingStore[str](
        clock=clock, lifetime_seconds=60, max_entries=max_entries, logger=_logger
    )


def test_a_record_lapses_after_its_lifetime_and_leaves_memory(clock: FakeClock) -> None:
    store = _store(clock)
    store.add("a", "first")
    clock.advance(59)
    assert store.get("a") == "first"
    clock.advance(1)
    assert store.get("a") is None
    assert len(store) == 0


def test_past_the_cap_the_oldest_record_is_dropped(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    store = _store(clock)
    with caplog.at_level(logging.WARNING, logger="issuer.authorize"):
        for key in "abc":
            store.add(key, key)
    assert (store.get("a"), store.get("b"), store.get("c")) == (None, "b", "c")
    assert len(store) == 2
    assert "the oldest was dropped" in caplog.text


def test_a_record_is_taken_once(clock: FakeClock) -> None:
    store = _store(clock)
    store.add("a", "first")
    assert store.pop("a") == "first"
    assert store.pop("a") is None


def test_the_cap_must_be_positive(clock: FakeClock) -> None:
    with pytest.raises(ValueError, match="max_entries"):
        _store(clock, max_entries=0)
