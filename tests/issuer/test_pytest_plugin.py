"""The fixtures the ``pytest11`` entry point provides."""

import httpx
import pytest

from issuer import Issuer, IssuerServer
from issuer.dpop import DPoPKey

from .conftest import PREMIUM

pytestmark = pytest.mark.anyio


async def test_issuer_fixture_is_ready_with_the_premium_action(issuer: Issuer) -> None:
    alice = await issuer.login("alice@example.com")
    bob = await issuer.login("bob@example.com")
    assert issuer.verify_access_token(alice.access_token, audience="https://api.example.com")[
        PREMIUM
    ]  # type: ignore[index]
    assert PREMIUM not in issuer.verify_access_token(
        bob.access_token, audience="https://api.example.com"
    )  # type: ignore[operator]


@pytest.mark.issuer_config("../../examples/issuer/issuer.toml")
def test_the_marker_chooses_a_config(issuer: Issuer) -> None:
    assert "demo-app" in issuer.directory.clients


def test_issuer_server_serves_on_loopback(issuer_server: IssuerServer) -> None:
    discovery = httpx.get(f"{issuer_server.url}.well-known/openid-configuration").json()
    assert issuer_server.url.startswith("http://127.0.0.1:")
    assert discovery["issuer"] == issuer_server.url == issuer_server.issuer.url


async def test_dpop_key_fixture_gives_dpop_bound_tokens(issuer: Issuer, dpop_key: DPoPKey) -> None:
    tokens = await issuer.login("alice@example.com", dpop_key=dpop_key)
    claims = issuer.verify_access_token(tokens.access_token, audience="https://api.example.com")
    assert tokens.token_type == "DPoP"
    assert claims is not None
    assert claims["cnf"] == {"jkt": dpop_key.jkt}
