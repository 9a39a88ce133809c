"""``examples/dpop_app.py`` as one process behind real uvicorn, with the example issuer.

Running it as two replicas sharing Redis is ``test_dpop_replicas.py``.
"""

from __future__ import annotations

import httpx
import pytest
from examples.dpop_app import create_app

from claimguard import ConfigurationError
from issuer import IssuerServer
from issuer.dpop import DPoPAuth, DPoPKey

from .conftest import AUDIENCE, Serve, bearer

pytestmark = pytest.mark.anyio

SETTINGS = (
    "CLAIMGUARD_ISSUER",
    "CLAIMGUARD_DPOP",
    "CLAIMGUARD_REDIS_URL",
    "CLAIMGUARD_DPOP_NONCE_SECRET",
    "CLAIMGUARD_PUBLIC_ORIGIN",
)


@pytest.fixture(autouse=True)
def no_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)


async def test_account_needs_a_bound_premium_token_and_a_fresh_proof(
    example_issuer: IssuerServer, serve: Serve
) -> None:
    key = DPoPKey()
    alice = await example_issuer.issuer.login("alice@example.com", dpop_key=key)
    bob = await example_issuer.issuer.login("bob@example.com", dpop_key=key)
    unbound = await example_issuer.issuer.login("alice@example.com")
    with serve(create_app(issuer_url=example_issuer.url)) as url:
        async with httpx.AsyncClient(base_url=url) as client:
            own = DPoPAuth(key, access_token=alice.access_token)
            accepted = await client.get("/account", auth=own)
            replayed = await client.get("/account", headers=accepted.request.headers, auth=None)
            as_bearer = await client.get("/account", headers=bearer(alice.access_token))
            other_key = DPoPAuth(DPoPKey(), access_token=alice.access_token)
            stolen = await client.get("/account", auth=other_key)
            plain = await client.get("/account", headers=bearer(unbound.access_token))
            not_premium = await client.get(
                "/account", auth=DPoPAuth(key, access_token=bob.access_token)
            )
            public = await client.get("/public")
    assert accepted.status_code == 200, accepted.text
    claims = example_issuer.issuer.verify_access_token(alice.access_token, audience=AUDIENCE)
    assert claims is not None
    assert accepted.json() == {"sub": claims["sub"], "jkt": key.jkt}
    refusals = {
        "replayed": (replayed.status_code, replayed.json()["error"]),
        "as_bearer": (as_bearer.status_code, as_bearer.json()["error"]),
        "stolen": (stolen.status_code, stolen.json()["error"]),
        "plain": (plain.status_code, plain.json()["error"]),
        "not_premium": (not_premium.status_code, not_premium.json()["error"]),
    }
    assert refusals == {
        "replayed": (401, "invalid_dpop_proof"),
        "as_bearer": (401, "invalid_token"),
        "stolen": (401, "invalid_dpop_proof"),
        # dpop="required" by default: a plain bearer token is refused too.
        "plain": (401, "invalid_token"),
        "not_premium": (403, "insufficient_scope"),
    }
    assert public.status_code == 200


@pytest.mark.parametrize(
    ("name", "value", "named"),
    [
        ("CLAIMGUARD_DPOP", "sometimes", "dpop"),
        ("CLAIMGUARD_REDIS_URL", "http://redis.internal/", "RedisReplayStore url"),
        ("CLAIMGUARD_DPOP_NONCE_SECRET", "short", "dpop_nonce_secret"),
        ("CLAIMGUARD_PUBLIC_ORIGIN", "https://api.example.com/v1", "public_origin"),
    ],
)
def test_each_setting_is_read_from_the_environment_and_a_refusal_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, named: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit) as caught:
        create_app()
    message = str(caught.value.code)
    assert message.startswith(f"examples.dpop_app: {name} is refused: ")
    assert named in message
    assert "\n" not in message


def test_a_refused_argument_raises_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="dpop_nonce_secret"):
        create_app(nonce_secret="short")
