"""pytest fixtures for the bundled issuer (loaded through the ``pytest11`` entry point).

Fixtures:

``issuer_config``
    Path of a TOML configuration, or ``None`` for the ready-made issuer. Defaults to the
    path given by the ``@pytest.mark.issuer_config("issuer.toml")`` marker (relative to
    the test file), else ``None``; override the fixture to choose per module or directory.
``issuer``
    An in-process :class:`issuer.Issuer`. Use ``issuer.app``, ``await issuer.login(email)``
    and ``issuer.http_client()``. Without a configuration it has API
    ``https://api.example.com`` (scope ``read:messages``), client ``test-app`` with secret
    ``test-secret`` (all grant types, redirect ``http://127.0.0.1/callback``, and a grant
    of ``read:messages`` on the API for ``client_credentials``), users
    ``alice@example.com`` / ``alice-password`` (``app_metadata.roles = ["premium"]``) and
    ``bob@example.com`` / ``bob-password``, and a post-login action adding
    ``https://myapp.example.com/premium: true`` for premium users.
``issuer_server``
    The same issuer served by uvicorn on a free 127.0.0.1 port, for the test's duration:
    an :class:`issuer.IssuerServer` with ``.url`` (the issuer identifier, trailing slash)
    and ``.issuer``.
``make_issuer_server``
    A factory for more issuers in one test (an API that trusts several):
    ``make_issuer_server()`` serves another ready-made issuer (same users, client and API,
    its own keys, URL and user ids), ``make_issuer_server(config=path)`` one built from a
    TOML file; each on its own free 127.0.0.1 port until the test ends. Give each one
    users, APIs and actions of its own through ``.issuer``.
``dpop_key``
    A fresh ES256 :class:`issuer.dpop.DPoPKey`. ``await issuer.login(email,
    dpop_key=dpop_key)`` gives DPoP-bound tokens (``cnf.jkt``); ``DPoPAuth(dpop_key,
    access_token=...)`` presents them with a proof per request.

The module imports nothing heavy; the issuer package is loaded when a fixture is used.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Callable

    from ._issuer import Issuer, IssuerServer
    from .dpop import DPoPKey


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "issuer_config(path): TOML configuration for the issuer fixtures"
    )


@pytest.fixture
def issuer_config(request: pytest.FixtureRequest) -> Path | None:
    """The configuration file for ``issuer`` and ``issuer_server`` (``None``: ready-made)."""
    marker = request.node.get_closest_marker("issuer_config")
    if marker is None:
        return None
    path = Path(marker.args[0])
    return path if path.is_absolute() else Path(request.path).parent / path


@pytest.fixture
def issuer(issuer_config: Path | None) -> Issuer:
    """An in-process issuer, built from ``issuer_config`` or ready-made."""
    from ._defaults import default_issuer
    from ._issuer import Issuer

    if issuer_config is not None:
        return Issuer.from_config(issuer_config)
    return default_issuer()


@pytest.fixture
def issuer_server(issuer_config: Path | None) -> Iterator[IssuerServer]:
    """The issuer served on a real 127.0.0.1 port; ``.url`` and ``.issuer``."""
    from ._defaults import default_issuer
    from ._issuer import Issuer, IssuerServer
    from .core._serve import bind_socket, serve_in_thread, socket_url

    with bind_socket("127.0.0.1", 0) as sock:
        url = socket_url(sock) + "/"
        built = (
            Issuer.from_config(issuer_config, issuer_url=url)
            if issuer_config is not None
            else default_issuer(issuer_url=url)
        )
        with serve_in_thread(built.app, sock=sock):
            yield IssuerServer(url=built.url, issuer=built)


@pytest.fixture
def make_issuer_server() -> Iterator[Callable[..., IssuerServer]]:
    """Serve another issuer on a real 127.0.0.1 port per call (ready-made, or
    ``config=path``); all of them stop when the test ends."""
    from contextlib import ExitStack

    from ._defaults import default_issuer
    from ._issuer import Issuer, IssuerServer
    from .core._serve import bind_socket, serve_in_thread, socket_url

    with ExitStack() as stack:

        def make(config: str | Path | None = None) -> IssuerServer:
            sock = stack.enter_context(bind_socket("127.0.0.1", 0))
            url = socket_url(sock) + "/"
            built = (
                Issuer.from_config(config, issuer_url=url)
                if config is not None
                else default_issuer(issuer_url=url)
            )
            stack.enter_context(serve_in_thread(built.app, sock=sock))
            return IssuerServer(url=built.url, issuer=built)

        yield make


@pytest.fixture
def dpop_key() -> DPoPKey:
    """A fresh ES256 DPoP key, for DPoP-bound tokens (``issuer.login(..., dpop_key=...)``)."""
    from .dpop import DPoPKey

    return DPoPKey()
