"""Failed-attempt throttling per client and per account: after ``max_failures`` failures in
``window_seconds`` further attempts get 429 with ``Retry-After`` (RFC 6585 §4) without any
scrypt work. Driven by the fake clock; nothing sleeps."""

import logging
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from issuer import ConfigError, Issuer
from issuer.core import _hashing as hashing_module
from issuer.core._errors import TooManyAttempts
from issuer.core._hashing import verify_secret
from issuer.core._throttle import AttemptThrottle, Subject

from ..conftest import FakeClock
from ..flows import assert_config_error, password_grant, submit_login

pytestmark = pytest.mark.anyio
API = "https://api.example.com"
CALLBACK = "http://127.0.0.1:3000/callback"


@pytest.fixture
def scrypt_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every scrypt verification from now on, by the hash it checked against."""
    calls: list[str] = []

    def counting(secret: str, hashed: str) -> bool:
        calls.append(hashed)
        return verify_secret(secret, hashed)

    monkeypatch.setattr(hashing_module, "verify_secret", counting)
    return calls


async def client_credentials(client: httpx.AsyncClient, secret: str) -> httpx.Response:
    return await client.post(
        "oauth/token",
        data={"grant_type": "client_credentials", "audience": API},
        auth=("app", secret),
    )


async def test_wrong_client_secrets_are_throttled_until_the_window_passes(
    bare_issuer: Issuer, clock: FakeClock, scrypt_calls: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    async with bare_issuer.http_client() as client:
        for _ in range(10):
            assert (await client_credentials(client, "wrong")).status_code == 401
            clock.advance(1)
        hashed = len(scrypt_calls)
        throttled = await client_credentials(client, "wrong")
        right_secret = await client_credentials(client, "app-secret")
        assert len(scrypt_calls) == hashed == 10  # refused before any scrypt work
        clock.advance(49)  # the first failure is now 59 s old
        later = await client_credentials(client, "app-secret")
        clock.advance(1)  # the first failure has left the window; nine remain
        allowed = await client_credentials(client, "app-secret")
    assert throttled.status_code == right_secret.status_code == later.status_code == 429
    assert throttled.json() == {
        "error": "too_many_attempts",
        "error_description": "too many failed attempts for this client; try again in 50 s",
    }
    assert throttled.headers["retry-after"] == "50"
    assert throttled.headers["cache-control"] == "no-store"
    assert later.headers["retry-after"] == "1"
    assert allowed.status_code == 200
    assert any(r.name == "issuer.throttle" and "'app'" in r.getMessage() for r in caplog.records)


async def test_a_success_resets_the_count(bare_issuer: Issuer) -> None:
    async with bare_issuer.http_client() as client:
        for _ in range(9):
            await client_credentials(client, "wrong")
        assert (await client_credentials(client, "app-secret")).status_code == 200
        statuses = [(await client_credentials(client, "wrong")).status_code for _ in range(10)]
        final = await client_credentials(client, "app-secret")
    assert statuses == [401] * 10
    assert final.status_code == 429


async def test_an_unknown_account_is_throttled_exactly_like_a_known_one(
    bare_issuer: Issuer, scrypt_calls: list[str]
) -> None:
    answers: dict[str, list[Any]] = {}
    async with bare_issuer.http_client() as client:
        for email in ("alice@example.com", "nobody@example.com"):
            scrypt_calls.clear()
            seen = []
            for password in ["wrong"] * 11 + ["alice-pw"]:
                response = await password_grant(client, email, password, auth=("app", "app-secret"))
                seen.append(
                    (response.status_code, response.json(), response.headers.get("retry-after"))
                )
            # Client secret and password for the first ten; the client secret alone after.
            answers[email] = [*seen, len(scrypt_calls)]
        bob = await password_grant(client, "BOB@example.com", "bob-pw", auth=("app", "app-secret"))
    assert answers["alice@example.com"] == answers["nobody@example.com"]
    statuses = [status for status, _, _ in answers["alice@example.com"][:-1]]
    assert statuses == [400] * 10 + [429, 429]
    assert answers["alice@example.com"][10][1] == {
        "error": "too_many_attempts",
        "error_description": "too many failed attempts for this account; try again in 60 s",
    }
    assert answers["alice@example.com"][-1] == 10 * 2 + 2
    assert bob.status_code == 200  # another account, and the client itself, are not throttled


async def test_the_login_page_shares_the_account_count_and_says_so(bare_issuer: Issuer) -> None:
    query = {"client_id": "app", "response_type": "code", "redirect_uri": CALLBACK}
    url = f"authorize?{httpx.QueryParams(query)}"
    async with bare_issuer.http_client() as client:
        for _ in range(5):
            await password_grant(client, "Alice@example.com", "wrong", auth=("app", "app-secret"))
        pages = [await submit_login(client, url, "alice@example.com", "wrong") for _ in range(6)]
    assert [page.status_code for page in pages] == [200] * 5 + [429]
    assert "Wrong email or password." in pages[4].text
    throttled = pages[5]
    assert throttled.headers["retry-after"] == "60"
    assert throttled.headers["content-type"].startswith("text/html")
    assert "Too many failed attempts for this account. Try again in 60 seconds." in throttled.text
    assert '<form method="post"' in throttled.text


async def test_a_burst_runs_scrypt_only_until_the_limit(
    bare_issuer: Issuer, scrypt_calls: list[str]
) -> None:
    statuses: list[int] = []
    async with bare_issuer.http_client() as client:

        async def attempt() -> None:
            statuses.append((await client_credentials(client, "wrong")).status_code)

        async with anyio.create_task_group() as tasks:
            for _ in range(60):
                tasks.start_soon(attempt)
    # Each attempt is checked again once it has a hashing slot, so only the attempts
    # already hashing when the tenth failure lands can add to it.
    assert 10 <= len(scrypt_calls) < 10 + hashing_module.MAX_CONCURRENT_HASHES
    assert statuses.count(401) == len(scrypt_calls)
    assert statuses.count(429) == 60 - len(scrypt_calls)


async def test_overlong_emails_cost_no_scrypt_and_no_memory(
    bare_issuer: Issuer, scrypt_calls: list[str]
) -> None:
    async with bare_issuer.http_client() as client:
        for n in range(20):
            email = f"{n}{'x' * 60_000}@example.com"
            response = await password_grant(client, email, "pw", auth=("app", "app-secret"))
            assert response.status_code in (400, 401)
            assert response.json()["error"] == "invalid_grant"
    # Only the client's own secret was checked, never a password or the decoy hash.
    assert set(scrypt_calls) == {bare_issuer.directory.clients["app"].secret_hash}
    assert bare_issuer.directory.throttle.tracked == 0


async def test_the_limits_come_from_python_and_toml(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "issuer.toml"
    path.write_text(
        '[[clients]]\nclient_id = "app"\nclient_secret = "s"\n'
        'grant_types = ["client_credentials"]\n[[apis]]\nidentifier = "https://api.example.com"\n'
        "[throttle]\nmax_failures = 2\nwindow_seconds = 5\n"
    )
    from_toml = Issuer.from_config(path)
    from_python = Issuer(throttle_max_failures=2, throttle_window_seconds=5, clock=clock)
    from_python.add_api(API)
    from_python.add_client("app", client_secret="s", grant_types=["client_credentials"])
    for issuer in (from_toml, from_python):
        async with issuer.http_client() as client:
            statuses = [(await client_credentials(client, "x")).status_code for _ in range(3)]
            retry = (await client_credentials(client, "s")).headers["retry-after"]
        assert statuses == [401, 401, 429]
        assert 1 <= int(retry) <= 5


@pytest.mark.parametrize(
    ("table", "key", "problem"),
    [
        ("max_failures = 0", "throttle.max_failures", "must be a positive integer"),
        ("max_failures = 2.5", "throttle.max_failures", "must be an integer"),
        ("window_seconds = -1", "throttle.window_seconds", "must be a positive number"),
        ("window_seconds = true", "throttle.window_seconds", "must be a number"),
        ("max_failures = 10000000000000000000000", "throttle.max_failures", "at most 1000"),
        ("max_failures = 1001", "throttle.max_failures", "must be at most 1000, not 1001"),
        ("window_seconds = 1e308", "throttle.window_seconds", "must be at most 86400"),
        ("window_seconds = 86401", "throttle.window_seconds", "at most 86400 (a day), not 86401"),
        ("lockout = 1", "throttle.lockout", "unknown key"),
    ],
)
def test_throttle_config_errors_name_the_key(
    tmp_path: Path, table: str, key: str, problem: str
) -> None:
    assert_config_error(tmp_path, f"[throttle]\n{table}\n", key, problem)


def test_the_limits_have_upper_bounds_in_python_too() -> None:
    with pytest.raises(ConfigError, match=r"throttle\.max_failures: must be at most 1000"):
        Issuer(throttle_max_failures=10**22)
    with pytest.raises(ConfigError, match=r"throttle\.window_seconds: must be at most 86400"):
        Issuer(throttle_window_seconds=1e308)


async def test_the_highest_limits_work(clock: FakeClock) -> None:
    issuer = Issuer(throttle_max_failures=1000, throttle_window_seconds=86400, clock=clock)
    issuer.add_api(API)
    issuer.add_client("app", client_secret="s", grant_types=["client_credentials"])
    async with issuer.http_client() as client:
        assert (await client_credentials(client, "x")).status_code == 401
    issuer = Issuer(throttle_max_failures=1, throttle_window_seconds=86400, clock=clock)
    issuer.add_api(API)
    issuer.add_client("app", client_secret="s", grant_types=["client_credentials"])
    async with issuer.http_client() as client:
        assert (await client_credentials(client, "x")).status_code == 401
        clock.advance(0.5)
        refused = await client_credentials(client, "s")
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "86400"


def fail_round(throttle: AttemptThrottle, subject: Subject, name: str, count: int) -> None:
    for _ in range(count):
        throttle.check(subject, name)
        throttle.record(subject, name, succeeded=False)


def test_wrong_codes_lock_out_twice_as_long_each_round_up_to_a_day(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    throttle = AttemptThrottle(clock=clock, max_failures=10, window_seconds=60)
    waits = []
    with caplog.at_level(logging.WARNING, logger="issuer.throttle"):
        for _ in range(13):
            fail_round(throttle, "otp", "alice@example.com", 10)
            wait = throttle.retry_after_seconds("otp", "alice@example.com")
            assert wait is not None
            waits.append(wait)
            clock.advance(wait - 1)
            with pytest.raises(TooManyAttempts):
                throttle.check("otp", "alice@example.com")
            clock.advance(1)
    assert waits == [60, 120, 240, 480, 960, 1920, 3840, 7680, 15360, 30720, 61440, 86400, 86400]
    assert "'alice@example.com' locked out for 86400 s: 13 rounds" in caplog.text


def test_a_right_code_or_a_quiet_day_starts_the_lockout_over(clock: FakeClock) -> None:
    throttle = AttemptThrottle(clock=clock, max_failures=3, window_seconds=60)
    for _ in range(3):
        fail_round(throttle, "otp", "alice@example.com", 3)
        clock.advance(throttle.retry_after_seconds("otp", "alice@example.com") or 0)
    throttle.record("otp", "alice@example.com", succeeded=True)
    fail_round(throttle, "otp", "alice@example.com", 3)
    assert throttle.retry_after_seconds("otp", "alice@example.com") == 60
    clock.advance(60)
    fail_round(throttle, "otp", "alice@example.com", 3)
    assert throttle.retry_after_seconds("otp", "alice@example.com") == 120
    clock.advance(120 + 86_400 + 1)
    fail_round(throttle, "otp", "alice@example.com", 3)
    assert throttle.retry_after_seconds("otp", "alice@example.com") == 60


def test_passwords_keep_a_fixed_window(clock: FakeClock) -> None:
    throttle = AttemptThrottle(clock=clock, max_failures=3, window_seconds=60)
    for _ in range(5):
        fail_round(throttle, "account", "alice@example.com", 3)
        assert throttle.retry_after_seconds("account", "alice@example.com") == 60
        clock.advance(60)
