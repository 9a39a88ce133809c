from pathlib import Path
from typing import Any

import pytest

from issuer import Issuer

EXAMPLES = Path(__file__).parents[2] / "examples" / "issuer"
SEED_CONFIG = EXAMPLES / "issuer.toml"
PREMIUM = "https://myapp.example.com/premium"


class FakeClock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def seed_issuer() -> Issuer:
    return Issuer.from_config(SEED_CONFIG)


@pytest.fixture
def bare_issuer(clock: FakeClock) -> Issuer:
    return make_bare_issuer(clock)


def make_bare_issuer(clock: FakeClock, **options: Any) -> Issuer:
    """The ``bare_issuer`` fixture's issuer, built with further ``Issuer`` ``options``."""
    issuer = Issuer(clock=clock, signing_alg="ES256", action_budget_seconds=0.5, **options)
    issuer.add_api("https://api.example.com", scopes=["read:messages"])
    issuer.add_client(
        "app",
        client_secret="app-secret",
        redirect_uris=["http://127.0.0.1:3000/callback"],
        grant_types=["authorization_code", "refresh_token", "password", "client_credentials"],
        grants={"https://api.example.com": ["read:messages"]},
    )
    issuer.add_user("alice@example.com", password="alice-pw", app_metadata={"roles": ["premium"]})
    issuer.add_user("bob@example.com", password="bob-pw", app_metadata={"roles": []})
    return issuer
