from __future__ import annotations

import math

import pytest

from claimguard import Claims
from claimguard.verification._tokencache import CachedToken, VerifiedTokenCache, validity_window


def _entry(thumbprint: str = "t1") -> CachedToken:
    return CachedToken(Claims({"sub": "u"}), 0.0, 100.0, thumbprint)


def test_window_without_nbf_or_iat_is_open_until_exp_plus_leeway() -> None:
    window = validity_window(exp=100, nbf=None, iat=None, leeway_seconds=30, max_age_seconds=None)
    assert window == (-math.inf, 130)


def test_window_starts_at_the_later_of_nbf_and_iat_minus_leeway() -> None:
    window = validity_window(exp=1000, nbf=200, iat=150, leeway_seconds=30, max_age_seconds=None)
    assert window == (170, 1030)


def test_max_age_can_end_the_window_before_exp() -> None:
    window = validity_window(exp=10_000, nbf=None, iat=100, leeway_seconds=30, max_age_seconds=300)
    assert window == (70, 430)


def test_cache_is_bounded_and_evicts_the_oldest_first() -> None:
    cache = VerifiedTokenCache(2)
    cache.put("a", _entry())
    cache.put("b", _entry())
    cache.put("c", _entry())
    assert len(cache) == 2
    assert cache.get("a") is None
    assert cache.get("b") is not None
    assert cache.get("c") is not None


def test_putting_a_present_token_again_evicts_nothing() -> None:
    cache = VerifiedTokenCache(2)
    cache.put("a", _entry())
    cache.put("b", _entry())
    cache.put("b", _entry())
    assert cache.get("a") is not None


def test_size_zero_disables_the_cache() -> None:
    cache = VerifiedTokenCache(0)
    cache.put("a", _entry())
    assert len(cache) == 0
    assert cache.get("a") is None


@pytest.mark.parametrize("gone", [frozenset({"t1"}), frozenset({"t1", "t3"})])
def test_forget_keys_drops_only_their_entries(gone: frozenset[str]) -> None:
    cache = VerifiedTokenCache(10)
    cache.put("a", _entry("t1"))
    cache.put("b", _entry("t2"))
    cache.forget_keys(gone)
    assert cache.get("a") is None
    assert cache.get("b") is not None
