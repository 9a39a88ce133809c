"""TOTP codes (RFC 6238): window, replay, format; secrets in the configuration."""

from pathlib import Path

import pyotp
import pytest

from issuer import ConfigError, Issuer
from issuer.core._totp import CodeChecker, new_secret, validate_secret

from ..conftest import FakeClock
from ..flows import assert_config_error

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def code(now: float, steps: int = 0) -> str:
    return str(pyotp.TOTP(SECRET).at(int(now) + 30 * steps))


def test_a_code_is_good_one_step_either_side_and_no_further(clock: FakeClock) -> None:
    for steps in (-1, 1):
        assert CodeChecker(clock=clock).check("a", SECRET, code(clock(), steps))
    for steps in (-2, 2):
        assert not CodeChecker(clock=clock).check("a", SECRET, code(clock(), steps))


def test_a_code_is_accepted_once_per_time_step(clock: FakeClock) -> None:
    checker = CodeChecker(clock=clock)
    assert checker.check("alice", SECRET, code(clock()))
    assert not checker.check("alice", SECRET, code(clock()))
    # Another user with the same secret is counted apart.
    assert checker.check("bob", SECRET, code(clock()))


def test_an_older_step_is_refused_after_a_newer_one(clock: FakeClock) -> None:
    checker = CodeChecker(clock=clock)
    assert checker.check("alice", SECRET, code(clock()))
    assert not checker.check("alice", SECRET, code(clock(), -1))
    clock.advance(30)
    assert checker.check("alice", SECRET, code(clock()))


@pytest.mark.parametrize("sent", ["", "12345", "1234567", "abcdef", "١٢٣٤٥٦"])
def test_malformed_codes_are_refused(clock: FakeClock, sent: str) -> None:
    assert not CodeChecker(clock=clock).check("a", SECRET, sent)


def test_a_wrong_code_is_refused(clock: FakeClock) -> None:
    wrong = f"{(int(code(clock())) + 1) % 10**6:06d}"
    assert not CodeChecker(clock=clock).check("a", SECRET, wrong)


def test_new_secrets_are_160_bit_base32() -> None:
    secret = new_secret()
    assert validate_secret(secret) == secret
    assert len(secret) == 32


def test_secrets_are_normalised() -> None:
    assert validate_secret("jbsw y3dp ehpk 3pxp jbsw y3dp ehpk 3pxp") == SECRET


@pytest.mark.parametrize(
    ("secret", "problem"), [("not base32!", "is not base32"), ("JBSWY3DP", "needs at least 16")]
)
def test_bad_secrets_are_refused(secret: str, problem: str) -> None:
    with pytest.raises(ConfigError) as error:
        validate_secret(secret)
    assert problem in error.value.problem


def test_a_bad_totp_secret_in_the_config_names_file_and_key(tmp_path: Path) -> None:
    assert_config_error(
        tmp_path,
        '[[users]]\nemail = "a@example.com"\npassword = "p"\ntotp_secret = "JBSWY3DP"\n',
        "users[0].totp_secret",
        "needs at least 16",
    )


def test_a_totp_secret_in_the_config_is_the_users(tmp_path: Path) -> None:
    path = tmp_path / "issuer.toml"
    path.write_text(
        f'[[users]]\nemail = "a@example.com"\npassword = "p"\ntotp_secret = "{SECRET}"\n'
    )
    assert Issuer.from_config(path).directory.user("a@example.com").totp_secret == SECRET


def test_redirect_continue_seconds_is_bounded(tmp_path: Path) -> None:
    assert_config_error(
        tmp_path, "[redirects]\ncontinue_seconds = 7200\n", "redirects.continue_seconds", "at most"
    )
