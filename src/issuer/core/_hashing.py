"""Salted scrypt hashes for passwords and client secrets, checked in constant time, in a
worker thread, a bounded number at once."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from collections.abc import Callable
from functools import cache

import anyio
import anyio.to_thread
from anyio.lowlevel import RunVar

__all__ = [
    "MAX_CONCURRENT_HASHES",
    "check_secret",
    "decoy_hash",
    "hash_secret",
    "hashing_slots",
    "verify_secret",
]

# Modest cost: this issuer serves tests and local development, not a user base.
_N, _R, _P = 2**14, 8, 1
_LENGTH = 32
# Each check holds a thread, a core and 16 MiB (128 * r * N bytes) for tens of
# milliseconds. A burst of checks queues for half the cores (at least one) instead of
# taking every worker thread and core; the other half stays for the event loop.
MAX_CONCURRENT_HASHES = max(1, (os.cpu_count() or 2) // 2)
_slots: RunVar[anyio.CapacityLimiter] = RunVar("issuer_hashing_slots")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_secret(secret: str) -> str:
    """Hash ``secret`` with a fresh salt; the result encodes the scrypt parameters."""
    salt = os.urandom(16)
    digest = hashlib.scrypt(secret.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=_LENGTH)
    return f"scrypt${_N}${_R}${_P}${_b64(salt)}${_b64(digest)}"


def verify_secret(secret: str, hashed: str) -> bool:
    """Whether ``secret`` matches ``hashed``; the final comparison takes constant time."""
    try:
        scheme, n, r, p, salt, digest = hashed.split("$")
        expected = _unb64(digest)
        actual = hashlib.scrypt(
            secret.encode(), salt=_unb64(salt), n=int(n), r=int(r), p=int(p), dklen=len(expected)
        )
    except ValueError:
        return False
    return scheme == "scrypt" and hmac.compare_digest(actual, expected)


@cache
def decoy_hash() -> str:
    """A hash of a random secret nobody knows, checked for unknown accounts so that their
    refusal costs the same scrypt work as a wrong password (OWASP ASVS V2.2)."""
    return hash_secret(secrets.token_urlsafe(16))


def _verify(secret: str, hashed: str | None) -> bool:
    return verify_secret(secret, decoy_hash() if hashed is None else hashed)


def hashing_slots() -> anyio.CapacityLimiter:
    """This event loop's limiter of concurrent checks (``MAX_CONCURRENT_HASHES`` tokens)."""
    try:
        return _slots.get()
    except LookupError:
        limiter = anyio.CapacityLimiter(MAX_CONCURRENT_HASHES)
        _slots.set(limiter)
        return limiter


def _admit_all() -> None:
    return None


async def check_secret(
    secret: str, hashed: str | None, *, admit: Callable[[], None] = _admit_all
) -> bool:
    """:func:`verify_secret` in a worker thread, so scrypt never blocks the event loop.

    ``hashed=None`` checks against :func:`decoy_hash` and is always false. ``admit`` runs
    once a hashing slot is free, just before the work; it may raise to refuse the attempt
    without it (the throttle checks again there, as failures may have landed meanwhile).
    """
    async with hashing_slots():
        admit()
        return await anyio.to_thread.run_sync(_verify, secret, hashed)
