"""Stateless DPoP server nonces (RFC 9449 §9)."""

from __future__ import annotations

import re

import pytest

from claimguard import ConfigurationError
from claimguard.verification._dpopnonce import DPoPNonces

SECRET = "x" * 32


def test_a_nonce_is_accepted_in_its_step_and_the_next_only() -> None:
    nonces = DPoPNonces(SECRET, step_seconds=300)
    nonce = nonces.current(1000.0)
    assert nonces.accepts(nonce, 1000.0)
    assert nonces.accepts(nonce, 1199.0)  # next step
    assert not nonces.accepts(nonce, 1500.0)  # two steps on


def test_nonces_need_the_same_secret() -> None:
    nonce = DPoPNonces(SECRET, step_seconds=300).current(1000.0)
    assert DPoPNonces(SECRET, step_seconds=300).accepts(nonce, 1000.0)
    assert not DPoPNonces("y" * 32, step_seconds=300).accepts(nonce, 1000.0)


def test_a_nonce_is_nqchar_and_junk_is_refused() -> None:
    nonces = DPoPNonces(SECRET.encode(), step_seconds=60)
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", nonces.current(0.0))
    for junk in (None, 5, "", "é", "x" * 500):
        assert not nonces.accepts(junk, 0.0)


@pytest.mark.parametrize(("secret", "step"), [("short", 300), (SECRET, 0), (SECRET, float("nan"))])
def test_bad_settings_are_refused(secret: str, step: float) -> None:
    with pytest.raises(ConfigurationError):
        DPoPNonces(secret, step_seconds=step)
