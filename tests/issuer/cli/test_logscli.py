"""``logs``: reading a running issuer's action log, its refusals, and following it."""

import io
import threading
from typing import Any

import anyio
import httpx
import pytest

from issuer import ActionFailed, Issuer, IssuerError, bind_socket
from issuer.cli._logscli import follow_logs, record_lines

from ..conftest import SEED_CONFIG
from ..mfaflows import http, log_in


def test_logs_prints_records_oldest_first_with_their_output() -> None:
    with Issuer.serving(config=SEED_CONFIG) as served:
        anyio.run(lambda: served.issuer.login("bob@example.com"))
        anyio.run(lambda: served.issuer.login("alice@example.com"))
        out = io.StringIO()
        follow_logs(served.url, stream=out)
    lines = out.getvalue().splitlines()
    headers = [line for line in lines if not line.startswith("  ")]
    assert "[premium] bob@example.com via authorization_code for client demo-app: ok" in headers[0]
    assert "[premium] alice@example.com" in headers[1]
    assert "  | bob@example.com is not premium (roles: [])" in lines
    assert any(line.startswith("  claims added to access_token: ") for line in lines)


def test_logs_shows_where_an_action_failed() -> None:
    def broken(event: Any, api: Any) -> None:
        raise RuntimeError("boom")

    with Issuer.serving(config=SEED_CONFIG) as served:
        served.issuer.add_action(broken)
        with pytest.raises(ActionFailed, match="boom"):
            anyio.run(lambda: served.issuer.login("alice@example.com"))
        out = io.StringIO()
        follow_logs(served.url, stream=out)
    line = broken.__code__.co_firstlineno + 1
    assert f"  error: RuntimeError: boom (at {__file__}:{line})" in out.getvalue()


def test_logs_needs_the_token_when_the_issuer_sets_one() -> None:
    with Issuer.serving(action_logs_token="log-token") as served:
        with pytest.raises(IssuerError, match=r"pass --token .*\(401\)"):
            follow_logs(served.url, stream=io.StringIO())
        with pytest.raises(IssuerError, match=r"refused the action log token \(401\)"):
            follow_logs(served.url, token="wrong", stream=io.StringIO())
        follow_logs(served.url, token="log-token", stream=io.StringIO())


def test_logs_explains_a_misdirected_request() -> None:
    misdirected = pytest.raises(IssuerError, match=r"only under its own host name.*\(421\)")
    with Issuer.serving() as served, misdirected:
        follow_logs(
            served.url,
            stream=io.StringIO(),
            client_factory=lambda: httpx.Client(headers={"Host": "evil.example"}),
        )


def test_logs_explains_a_turned_off_endpoint() -> None:
    turned_off = pytest.raises(IssuerError, match=r"action_logs.enabled = false.*\(404\)")
    with Issuer.serving(action_logs_enabled=False) as served, turned_off:
        follow_logs(served.url, stream=io.StringIO())


def test_logs_says_when_nothing_listens() -> None:
    with bind_socket() as sock:  # bound, never served: the port is ours and closed after
        port = sock.getsockname()[1]
    with pytest.raises(IssuerError, match=f"cannot reach http://127.0.0.1:{port}/"):
        follow_logs(f"http://127.0.0.1:{port}/", stream=io.StringIO())


class Lines(io.StringIO):
    """Collects output; ``wait_for`` blocks until some text has been written."""

    def __init__(self) -> None:
        super().__init__()
        self.changed = threading.Condition()

    def write(self, text: str) -> int:
        with self.changed:
            written = super().write(text)
            self.changed.notify_all()
            return written

    def wait_for(self, text: str) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: text in self.getvalue(), timeout=30)


def test_follow_prints_each_new_execution_once() -> None:
    with Issuer.serving(config=SEED_CONFIG) as served:
        anyio.run(lambda: served.issuer.login("bob@example.com"))
        out, stop = Lines(), threading.Event()
        follower = threading.Thread(
            target=follow_logs,
            args=(served.url,),
            kwargs={"follow": True, "interval_seconds": 0.01, "stream": out, "stop": stop},
        )
        follower.start()
        try:
            assert out.wait_for("bob@example.com via")
            anyio.run(lambda: served.issuer.login("alice@example.com"))
            assert out.wait_for("alice@example.com via")
        finally:
            stop.set()
            follower.join(30)
    assert out.getvalue().count("[premium] bob@example.com") == 1
    assert out.getvalue().count("[premium] alice@example.com") == 1


@pytest.mark.anyio
async def test_an_action_that_sent_the_browser_away_reads_as_paused(bare_issuer: Issuer) -> None:
    def send_away(event: Any, api: Any) -> None:
        api.redirect.send_user_to("https://verify.example.com/check")

    bare_issuer.add_action(send_away, on_continue=lambda event, api: None)
    async with http(bare_issuer) as client:
        await log_in(client, "bob@example.com", "bob-pw")
    (record,) = bare_issuer.action_logs()
    header = record_lines(record.to_dict())[0]
    assert "[send_away] bob@example.com via authorization_code for client app: paused" in header
