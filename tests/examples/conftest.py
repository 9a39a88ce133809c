"""Fixtures for the example tests: the example issuer on a real loopback port, and a fixture
that serves an example app next to it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest

from issuer import Issuer, IssuerServer, serve_in_thread

ROOT = Path(__file__).parents[2]
EXAMPLES = ROOT / "examples"
CONFIG = EXAMPLES / "issuer" / "issuer.toml"
AUDIENCE = "https://api.example.com"
NAMESPACE = "https://myapp.example.com/"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def example_issuer() -> Iterator[IssuerServer]:
    """The example configuration (premium action) served on a free 127.0.0.1 port."""
    with Issuer.serving(config=CONFIG) as server:
        yield server


Serve = Callable[[Any], AbstractContextManager[str]]


@pytest.fixture
def serve() -> Serve:
    """``with serve(app) as url``: the app under uvicorn on a free 127.0.0.1 port."""
    return serve_in_thread


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
