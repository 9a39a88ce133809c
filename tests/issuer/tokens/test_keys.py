"""Signing keys: algorithms, kid, persistence, rotation."""

import stat
from pathlib import Path
from typing import Any

import jwt
import pytest

from issuer import ConfigError, Issuer
from issuer.tokens._keys import KeyRing

from ..conftest import FakeClock
from ..flows import assert_config_error

pytestmark = pytest.mark.anyio


def verify_with_jwks(jwks: dict[str, Any], token: str, clock: FakeClock) -> dict[str, Any]:
    kid = jwt.get_unverified_header(token)["kid"]
    jwk = next(k for k in jwks["keys"] if k["kid"] == kid)
    key = jwt.PyJWK.from_dict(jwk)
    return dict(
        jwt.decode(
            token,
            key.key,
            algorithms=[jwk["alg"]],
            audience="https://api.example.com",
            options={"verify_exp": False, "verify_iat": False},
        )
    )


@pytest.mark.parametrize("alg", ["RS256", "ES256", "EdDSA"])
async def test_every_algorithm_signs_tokens_that_verify_against_the_jwks(
    alg: str, clock: FakeClock
) -> None:
    issuer = Issuer(signing_alg=alg, clock=clock)  # type: ignore[arg-type]
    issuer.add_api("https://api.example.com")
    issuer.add_client("app", client_secret="s")
    issuer.add_user("alice@example.com", password="pw")
    tokens = await issuer.login("alice@example.com")
    header = jwt.get_unverified_header(tokens.access_token)
    assert header["alg"] == alg
    assert header["kid"] == issuer.keys.active.kid
    jwks = issuer.keys.jwks()
    assert [k["use"] for k in jwks["keys"]] == ["sig"]
    assert all("d" not in k for k in jwks["keys"])
    assert verify_with_jwks(jwks, tokens.access_token, clock)["iss"] == issuer.url


def test_an_unknown_algorithm_is_a_config_error(clock: FakeClock) -> None:
    with pytest.raises(ConfigError, match="signing_alg"):
        Issuer(signing_alg="HS256", clock=clock)  # type: ignore[arg-type]


def test_keys_persist_with_mode_0600_and_survive_a_restart(
    tmp_path: Path, clock: FakeClock
) -> None:
    first = Issuer(data_dir=tmp_path / "state", clock=clock, signing_alg="ES256")
    files = list((tmp_path / "state").iterdir())
    assert len(files) == 1
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600
    second = Issuer(data_dir=tmp_path / "state", clock=clock, signing_alg="ES256")
    assert second.keys.active.kid == first.keys.active.kid


def test_prepare_rotation_publishes_the_next_key_before_it_signs(clock: FakeClock) -> None:
    ring = KeyRing(alg="ES256", clock=clock, retention_seconds=3600)
    current = ring.active.kid
    upcoming = ring.prepare_rotation()
    assert ring.active.kid == current
    assert [k["kid"] for k in ring.jwks()["keys"]] == [current, upcoming.kid]
    assert ring.prepare_rotation() is upcoming
    assert ring.rotate() is upcoming
    assert ring.active.kid == upcoming.kid


async def test_after_rotation_old_tokens_verify_until_they_expire(clock: FakeClock) -> None:
    issuer = Issuer(
        signing_alg="ES256",
        clock=clock,
        access_token_lifetime_seconds=600,
        id_token_lifetime_seconds=600,
    )
    issuer.add_api("https://api.example.com")
    issuer.add_client("app", client_secret="s")
    issuer.add_user("alice@example.com", password="pw")
    old = (await issuer.login("alice@example.com", scope="openid")).access_token
    old_kid = issuer.keys.active.kid
    issuer.rotate_keys()
    new = (await issuer.login("alice@example.com", scope="openid")).access_token
    assert jwt.get_unverified_header(new)["kid"] == issuer.keys.active.kid != old_kid
    clock.advance(599)
    jwks = issuer.keys.jwks()
    assert verify_with_jwks(jwks, old, clock)["sub"] == verify_with_jwks(jwks, new, clock)["sub"]
    assert issuer.verify_access_token(old, audience="https://api.example.com") is not None
    clock.advance(2)
    assert [k["kid"] for k in issuer.keys.jwks()["keys"]] == [issuer.keys.active.kid]


def test_rotation_state_persists(tmp_path: Path, clock: FakeClock) -> None:
    first = Issuer(data_dir=tmp_path, clock=clock, signing_alg="ES256")
    upcoming = first.prepare_rotation()
    second = Issuer(data_dir=tmp_path, clock=clock, signing_alg="ES256")
    assert [k["kid"] for k in second.keys.jwks()["keys"]] == [first.keys.active.kid, upcoming.kid]


def test_an_unreadable_key_file_is_a_config_error(tmp_path: Path, clock: FakeClock) -> None:
    (tmp_path / "signing-keys.json").write_text("{not json")
    with pytest.raises(ConfigError, match="data_dir"):
        Issuer(data_dir=tmp_path, clock=clock)


@pytest.mark.parametrize(
    ("data_dir", "problem"),
    [
        ("/proc/nope", "cannot create directory /proc/nope: No such file or directory"),
        ("a-file", "is not a directory"),
        ("a-file/keys", "cannot create directory"),
    ],
)
def test_a_data_dir_that_cannot_be_a_directory_is_a_config_error(
    tmp_path: Path, data_dir: str, problem: str
) -> None:
    (tmp_path / "a-file").write_text("")
    assert_config_error(tmp_path, f'data_dir = "{data_dir}"\n', "data_dir", problem)


def test_an_unwritable_key_file_is_a_config_error(tmp_path: Path, clock: FakeClock) -> None:
    (tmp_path / "signing-keys.tmp").mkdir()  # where the key file is written before its rename
    with pytest.raises(ConfigError) as error:
        Issuer(data_dir=tmp_path, clock=clock)
    assert error.value.key == "data_dir"
    assert f"cannot write key file {tmp_path / 'signing-keys.tmp'}" in error.value.problem
