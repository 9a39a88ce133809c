"""The Redis DPoP replay store, against a real ``redis-server``; the replay contract, against
both stores: once per key and id, atomic under concurrency, fail closed when unsure."""

from __future__ import annotations

import logging
import socket
import sys
import uuid
from collections.abc import AsyncIterator, Iterator

import anyio
import pytest
import redis.asyncio

from claimguard import ConfigurationError, ReplayStoreUnavailable
from claimguard.dpop import MemoryReplayStore, RedisReplayStore, ReplayStore
from claimguard.verification._replay import replay_key

from ...redis_server import RedisServer, free_port
from ..conftest import FakeClock

pytestmark = pytest.mark.anyio

# A guard against a hang, not a performance claim: every failure here is a refused
# connection or a 0.2 s socket timeout.
HANG_GUARD_SECONDS = 10


def _messages(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [
        r.getMessage() for r in caplog.records if r.name == "claimguard.dpop" and r.levelno == level
    ]


@pytest.fixture
def prefix() -> str:
    return f"claimguard-test:{uuid.uuid4().hex}:"


@pytest.fixture
async def redis_store(redis_server: RedisServer, prefix: str) -> AsyncIterator[RedisReplayStore]:
    store = RedisReplayStore(url=redis_server.url, key_prefix=prefix)
    yield store
    await store.aclose()


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[ReplayStore]:
    if request.param == "memory":
        yield MemoryReplayStore()
        return
    server: RedisServer = request.getfixturevalue("redis_server")
    redis_store = RedisReplayStore(
        url=server.url, key_prefix=f"claimguard-test:{uuid.uuid4().hex}:"
    )
    yield redis_store
    await redis_store.aclose()


# The contract, for both stores.


async def test_a_proof_id_is_fresh_once(store: ReplayStore) -> None:
    assert await store.first_use("jkt-a", "id-1", ttl_seconds=65)
    assert not await store.first_use("jkt-a", "id-1", ttl_seconds=65)


async def test_the_same_id_under_another_key_is_fresh(store: ReplayStore) -> None:
    assert await store.first_use("jkt-a", "id-1", ttl_seconds=65)
    assert await store.first_use("jkt-b", "id-1", ttl_seconds=65)
    assert not await store.first_use("jkt-b", "id-1", ttl_seconds=65)


async def test_of_many_concurrent_uses_of_one_proof_exactly_one_is_fresh(
    store: ReplayStore,
) -> None:
    answers: list[bool] = []

    async def use() -> None:
        answers.append(await store.first_use("jkt", "raced", ttl_seconds=65))

    async with anyio.create_task_group() as tasks:
        for _ in range(50):
            tasks.start_soon(use)
    assert len(answers) == 50
    assert answers.count(True) == 1


async def test_the_store_meets_the_protocol(store: ReplayStore) -> None:
    assert isinstance(store, ReplayStore)


# Redis: what is stored.


async def test_the_stored_key_is_prefixed_and_hashed_and_lives_as_long_as_the_window(
    redis_server: RedisServer, redis_store: RedisReplayStore, prefix: str
) -> None:
    jti = "raw-proof-id-" + uuid.uuid4().hex
    assert await redis_store.first_use("the-jkt", jti, ttl_seconds=60)
    client = redis.asyncio.Redis.from_url(redis_server.url)
    try:
        keys = [key.decode() for key in await client.keys(prefix + "*")]
        assert keys == [prefix + replay_key("the-jkt", jti)]
        assert all(
            jti not in key and "the-jkt" not in key
            for key in [key.decode() for key in await client.keys("*")]
        )
        assert 55_000 < await client.pttl(keys[0]) <= 60_000
    finally:
        await client.aclose()


async def test_a_lifetime_under_a_millisecond_is_rounded_up_not_to_zero(
    redis_store: RedisReplayStore,
) -> None:
    # PX 0 is an error reply; rounding down would turn every such proof into a 503.
    assert await redis_store.first_use("jkt", "short", ttl_seconds=0.0004)


async def test_a_callers_client_is_used_and_left_open(
    redis_server: RedisServer, prefix: str
) -> None:
    client = redis.asyncio.Redis.from_url(redis_server.url)
    try:
        store = RedisReplayStore(client=client, key_prefix=prefix)
        assert await store.first_use("jkt", "id", ttl_seconds=60)
        await store.aclose()
        assert await client.exists(prefix + replay_key("jkt", "id")) == 1
        assert f"127.0.0.1:{redis_server.port}" in repr(store)
    finally:
        await client.aclose()


# Redis: failing closed.


async def test_a_stopped_redis_fails_closed_and_the_store_recovers_when_it_returns(
    redis_server: RedisServer, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="claimguard.dpop")
    clock = FakeClock()
    store = RedisReplayStore(url=redis_server.url, key_prefix=prefix, clock=clock)
    try:
        assert await store.first_use("jkt", "before", ttl_seconds=60)
        redis_server.stop()
        try:
            with anyio.fail_after(HANG_GUARD_SECONDS):
                for attempt in range(3):
                    with pytest.raises(ReplayStoreUnavailable) as raised:
                        await store.first_use("jkt", f"during-{attempt}", ttl_seconds=60)
                    error = raised.value
                    assert error.status == 503
                    assert error.retry_after_seconds == 5
                    assert error.detail is not None
                    assert f"127.0.0.1:{redis_server.port}" in error.detail
        finally:
            redis_server.start()
        # An outage is one warning, not one per request.
        warnings = _messages(caplog, logging.WARNING)
        assert len(warnings) == 1
        assert f"127.0.0.1:{redis_server.port}" in warnings[0]
        assert "503" in warnings[0]
        # The pool's connections died with the server; the next call connects afresh.
        assert await store.first_use("jkt", "after", ttl_seconds=60)
        assert _messages(caplog, logging.INFO) == [
            f"DPoP replay store at 127.0.0.1:{redis_server.port} answers again "
            "after 3 failed attempt(s)"
        ]
    finally:
        await store.aclose()


async def test_a_repeated_failure_is_logged_again_after_the_window_with_its_count(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="claimguard.dpop")
    clock = FakeClock()
    store = RedisReplayStore(url=f"redis://127.0.0.1:{free_port()}/0", clock=clock)
    try:
        for _ in range(3):
            with pytest.raises(ReplayStoreUnavailable):
                await store.first_use("jkt", "id", ttl_seconds=60)
        clock.advance(61)
        with pytest.raises(ReplayStoreUnavailable):
            await store.first_use("jkt", "id", ttl_seconds=60)
        warnings = _messages(caplog, logging.WARNING)
        assert len(warnings) == 2
        assert warnings[1].endswith("(2 failure(s) not logged since)")
    finally:
        await store.aclose()


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections (the kernel's backlog) and never answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield listener.getsockname()[1]


async def test_a_redis_that_never_answers_is_a_503_after_the_socket_timeout(
    silent_port: int,
) -> None:
    store = RedisReplayStore(url=f"redis://127.0.0.1:{silent_port}/0", socket_timeout_seconds=0.2)
    try:
        with anyio.fail_after(HANG_GUARD_SECONDS), pytest.raises(ReplayStoreUnavailable) as raised:
            await store.first_use("jkt", "id", ttl_seconds=60)
        assert raised.value.detail is not None
        assert "Timeout" in raised.value.detail
    finally:
        await store.aclose()


async def test_the_password_in_the_url_never_reaches_errors_or_logs(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "pa$$-w0rd-s3cret"
    urls = [
        # Nothing listens: connection refused.
        f"redis://:pa%24%24-w0rd-s3cret@127.0.0.1:{free_port()}/0",
        # The server has no password: AUTH is refused.
        f"redis://someone:pa%24%24-w0rd-s3cret@127.0.0.1:{redis_server.port}/0",
    ]
    for url in urls:
        store = RedisReplayStore(url=url)
        try:
            with (
                anyio.fail_after(HANG_GUARD_SECONDS),
                pytest.raises(ReplayStoreUnavailable) as raised,
            ):
                await store.first_use("jkt", "id", ttl_seconds=60)
            shown = [str(raised.value), raised.value.detail or "", repr(store), caplog.text]
            assert raised.value.detail
            for text in shown:
                assert secret not in text
                assert "pa%24%24-w0rd-s3cret" not in text
        finally:
            await store.aclose()


# Configuration.


async def test_exactly_one_of_url_or_client_is_required() -> None:
    with pytest.raises(ConfigurationError, match=r"exactly one of url= .* or client="):
        RedisReplayStore()
    url = f"redis://127.0.0.1:{free_port()}/0"
    client = redis.asyncio.Redis.from_url(url)
    try:
        with pytest.raises(ConfigurationError, match="exactly one of url="):
            RedisReplayStore(url=url, client=client)
    finally:
        await client.aclose()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"socket_timeout_seconds": 0}, "socket_timeout_seconds must be a positive number"),
        ({"socket_timeout_seconds": float("nan")}, "socket_timeout_seconds"),
        ({"retry_after_seconds": 0}, "retry_after_seconds must be at least 1"),
        ({"key_prefix": ""}, "key_prefix must not be empty"),
    ],
)
def test_unusable_options_are_refused_when_built(options: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        RedisReplayStore(url="redis://127.0.0.1:6379/0", **options)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "url",
    [
        "http://:hunter2-secret@127.0.0.1:6379/0",
        "redis://:hunter2-secret@127.0.0.1:99999/0",
        "127.0.0.1:6379",
        "redis://:hunter2-secret@127.0.0.1:6379/not-a-db",
    ],
)
def test_a_url_that_is_not_a_redis_url_is_refused_without_its_password(url: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        RedisReplayStore(url=url)
    assert "url" in str(raised.value)
    assert "hunter2-secret" not in str(raised.value)


def test_without_redis_py_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    # What `import redis` does where the package is not installed.
    for name in [m for m in sys.modules if m == "redis" or m.startswith("redis.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "redis", None)
    with pytest.raises(ConfigurationError, match=r"claimguard-asgi\[redis\]"):
        RedisReplayStore(url="redis://127.0.0.1:6379/0")


async def test_a_redis_restarted_between_requests_costs_no_request(
    redis_server: RedisServer, redis_store: RedisReplayStore
) -> None:
    # Pooled connections from before the restart are dead; using one must not fail.
    assert await redis_store.first_use("jkt", "before", ttl_seconds=60)
    redis_server.stop()
    redis_server.start()
    with anyio.fail_after(HANG_GUARD_SECONDS):
        assert await redis_store.first_use("jkt", "after", ttl_seconds=60)
