"""Suite-wide settings.

Under CI (``CI`` set) Hypothesis runs derandomized, so a run is reproducible from the
commit alone; elsewhere every run explores new examples. ``redis_server`` is a real
Redis for the tests that need one (skipped, with the reason, where none can run).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import settings

from .redis_server import RedisServer, redis_server_missing

settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A real ``redis-server`` on a free loopback port for the whole session.

    Tests that stop it must start it again before they end.
    """
    missing = redis_server_missing()
    if missing:
        pytest.skip(missing)
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    try:
        yield server
    finally:
        server.stop()
