"""Token contents per dialect."""

from pathlib import Path

import jwt
import pytest

from issuer import ConfigError, Issuer

from ..conftest import FakeClock
from ..flows import assert_config_error

pytestmark = pytest.mark.anyio


@pytest.fixture
def issuer(clock: FakeClock) -> Issuer:
    issuer = Issuer(signing_alg="ES256", clock=clock, access_token_lifetime_seconds=900)
    issuer.add_api("https://auth0.example", scopes=["read:x"], permissions={"admin": ["delete:x"]})
    issuer.add_api("https://rfc.example", scopes=["read:x"], token_dialect="rfc9068")
    issuer.add_client("app", client_secret="s")
    issuer.add_user("alice@example.com", password="pw", roles=["admin"], name="Alice")
    return issuer


async def test_auth0_dialect_has_azp_permissions_and_userinfo_audience(
    issuer: Issuer, clock: FakeClock
) -> None:
    tokens = await issuer.login(
        "alice@example.com", audience="https://auth0.example", scope="openid read:x"
    )
    header = jwt.get_unverified_header(tokens.access_token)
    claims = jwt.decode(tokens.access_token, options={"verify_signature": False})
    assert header["typ"] == "JWT"
    assert claims["azp"] == "app"
    assert claims["permissions"] == ["delete:x"]
    assert claims["aud"] == ["https://auth0.example", "http://127.0.0.1:8765/userinfo"]
    assert claims["exp"] - claims["iat"] == 900
    assert claims["iat"] == int(clock())
    assert tokens.expires_in == 900
    assert tokens.scope == "openid read:x"
    assert tokens.refresh_token is None


async def test_rfc9068_dialect_has_at_jwt_type_and_client_id(issuer: Issuer) -> None:
    tokens = await issuer.login("alice@example.com", audience="https://rfc.example", scope="read:x")
    header = jwt.get_unverified_header(tokens.access_token)
    claims = jwt.decode(tokens.access_token, options={"verify_signature": False})
    assert header["typ"] == "at+jwt"
    assert claims["client_id"] == "app"
    assert "azp" not in claims
    assert claims["aud"] == "https://rfc.example"
    assert tokens.id_token is None


async def test_id_token_has_nonce_at_hash_and_profile(issuer: Issuer) -> None:
    tokens = await issuer.login(
        "alice@example.com",
        audience="https://rfc.example",
        scope="openid profile email",
        nonce="n-42",
    )
    assert tokens.id_token is not None
    claims = jwt.decode(tokens.id_token, options={"verify_signature": False})
    assert claims["aud"] == "app"
    assert claims["nonce"] == "n-42"
    assert claims["name"] == "Alice"
    assert claims["email"] == "alice@example.com"
    assert len(claims["at_hash"]) == 22


async def test_unrequested_api_scopes_are_not_granted(issuer: Issuer) -> None:
    tokens = await issuer.login(
        "alice@example.com", audience="https://rfc.example", scope="read:x write:x"
    )
    assert tokens.scope == "read:x"


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("10", "must be an integer of at least 1024 bytes, not 10"),
        ("1023", "at least 1024"),
        ("0", "at least 1024"),
        ("8192.5", "must be an integer"),
    ],
)
def test_a_token_budget_no_token_fits_in_is_a_config_error(
    tmp_path: Path, value: str, problem: str
) -> None:
    assert_config_error(tmp_path, f"max_token_bytes = {value}\n", "max_token_bytes", problem)


def test_a_token_budget_no_token_fits_in_is_refused_in_python_too() -> None:
    with pytest.raises(ConfigError, match="max_token_bytes: must be an integer of at least 1024"):
        Issuer(max_token_bytes=10)
    with pytest.raises(ConfigError, match="max_token_bytes: must be an integer"):
        Issuer(max_token_bytes=2048.5)  # type: ignore[arg-type]


async def test_the_smallest_token_budget_still_holds_a_token(clock: FakeClock) -> None:
    issuer = Issuer(signing_alg="ES256", clock=clock, max_token_bytes=1024)
    issuer.add_api("https://api.example.com")
    issuer.add_client("app", client_secret="s")
    issuer.add_user("alice@example.com", password="pw")
    tokens = await issuer.login("alice@example.com")
    assert len(tokens.access_token) <= 1024
    assert tokens.id_token is not None
    assert len(tokens.id_token) <= 1024
