"""Salted scrypt hashes, and checking them off the event loop, a bounded number at once."""

import threading
from functools import partial

import anyio
import anyio.to_thread
import pytest
from anyio.lowlevel import checkpoint

from issuer import Issuer
from issuer.core import _hashing as hashing_module
from issuer.core._hashing import hash_secret, verify_secret


def test_a_hash_verifies_only_its_secret() -> None:
    hashed = hash_secret("correct horse")
    assert hashed.startswith("scrypt$")
    assert "correct horse" not in hashed
    assert verify_secret("correct horse", hashed)
    assert not verify_secret("correct horse!", hashed)


def test_salts_differ_and_malformed_hashes_never_verify() -> None:
    assert hash_secret("same") != hash_secret("same")
    assert not verify_secret("x", "scrypt$bad")
    assert not verify_secret("x", "md5$1$1$1$AA$AA")


@pytest.mark.anyio
async def test_a_secret_check_leaves_the_event_loop_free(
    bare_issuer: Issuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    hashing, keys_served = threading.Event(), threading.Event()
    served_meanwhile: list[bool] = []

    def slow_verify(secret: str, hashed: str) -> bool:
        hashing.set()
        # Waits for the JWKS request below; on the event loop it could never be served.
        served_meanwhile.append(keys_served.wait(timeout=5))
        return verify_secret(secret, hashed)

    monkeypatch.setattr(hashing_module, "verify_secret", slow_verify)
    async with bare_issuer.http_client() as client, anyio.create_task_group() as tasks:
        tasks.start_soon(
            partial(
                client.post,
                "oauth/token",
                data={"grant_type": "client_credentials"},
                auth=("app", "wrong"),
            )
        )
        assert await anyio.to_thread.run_sync(hashing.wait, 5)
        assert (await client.get(".well-known/jwks.json")).status_code == 200
        keys_served.set()
    assert served_meanwhile == [True]


@pytest.mark.anyio
async def test_hashings_run_a_bounded_number_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    slots = hashing_module.MAX_CONCURRENT_HASHES
    hashed = hash_secret("s")
    entered, release = threading.Semaphore(0), threading.Event()
    inside: list[int] = []

    def blocking_verify(secret: str, hashed: str) -> bool:
        inside.append(1)
        entered.release()
        release.wait(timeout=5)
        inside.pop()
        return verify_secret(secret, hashed)

    monkeypatch.setattr(hashing_module, "verify_secret", blocking_verify)
    results: list[bool] = []

    async def check() -> None:
        results.append(await hashing_module.check_secret("s", hashed))

    async with anyio.create_task_group() as tasks:
        for _ in range(3 * slots):
            tasks.start_soon(check)
        for _ in range(slots):
            assert await anyio.to_thread.run_sync(partial(entered.acquire, timeout=5))
        await anyio.wait_all_tasks_blocked()
        await checkpoint()
        running, waiting = len(inside), hashing_module.hashing_slots().statistics().tasks_waiting
        release.set()
    assert (running, waiting) == (slots, 2 * slots)
    assert results == [True] * 3 * slots


@pytest.mark.anyio
async def test_an_unknown_account_is_checked_against_a_decoy_hash() -> None:
    assert not await hashing_module.check_secret("anything", None)
    assert hashing_module.decoy_hash().startswith("scrypt$")
