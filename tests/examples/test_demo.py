"""The demo's own code path (``examples.demo``, what ``scripts/demo`` runs) on real servers."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import urljoin

import httpx
import pytest

from examples import demo
from issuer import bind_socket

from ..browser import chromium, require_chromium
from .conftest import ROOT

FORM_ACTION = re.compile(r'<form method="post" action="([^"]+)"')
HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"')


def test_main_prints_the_table_and_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    assert demo.main([]) == 0
    out = capsys.readouterr().out
    rows = {
        (cells[0], cells[2]): cells
        for line in out.splitlines()
        if (cells := line.split()) and cells[0] in ("alice", "bob") and len(cells) > 3
    }
    assert rows[("alice", "/premium")][3] == "200"
    assert rows[("bob", "/premium")][3] == "403"
    assert "insufficient_scope" in " ".join(rows[("bob", "/premium")])
    assert rows[("alice", "/premium")][1] == "premium=true"
    assert "issuer ready at http://127.0.0.1:" in out


def test_scenario_outcomes_match_the_expectations() -> None:
    with demo.running(progress=lambda line: None) as servers:
        outcomes = demo.run_scenario(servers, progress=lambda line: None)
    by_call = {(o.user, o.route): o for o in outcomes}
    assert {key: o.status for key, o in by_call.items()} == demo.EXPECTED
    assert by_call[("alice", "/premium")].claims == "premium=true"
    assert by_call[("bob", "/premium")].claims == "(none)"
    assert by_call[("bob", "/premium")].reason.startswith("insufficient_scope: ")
    assert by_call[("bob", "/premium")].reason.endswith('[scope="claim:premium"]')
    assert by_call[(demo.NO_TOKEN, "/me")].reason.startswith("no token sent")
    assert by_call[("alice", "/me")].reason == ""
    assert demo.unexpected(outcomes) == []


def test_serve_prints_the_login_url_the_api_and_a_token(capsys: pytest.CaptureFixture[str]) -> None:
    stop = threading.Event()
    stop.set()
    assert demo.main(["--serve"], stop=stop) == 0
    out = capsys.readouterr().out
    login_url = re.search(r"login page  (\S+)", out)
    assert login_url is not None
    assert "/authorize?response_type=code" in login_url.group(1)
    assert "code_challenge_method=S256" in login_url.group(1)
    assert re.search(r"API         http://127\.0\.0\.1:\d+", out)
    assert re.search(r"TOKEN=[\w-]+\.[\w-]+\.[\w-]+", out)
    assert re.search(r"console     http://127\.0\.0\.1:\d+/console ", out)


def test_the_demo_serves_the_console_only_when_asked() -> None:
    with demo.running(progress=lambda line: None, console=True) as servers:
        shown = httpx.get(f"{servers.issuer_url}console/directory")
    with demo.running(progress=lambda line: None) as servers:
        absent = httpx.get(f"{servers.issuer_url}console/directory")
    assert shown.status_code == 200
    assert "Development tool." in shown.text
    assert absent.status_code == 404


def test_browser_login_from_the_printed_url_shows_a_working_token() -> None:
    with demo.running(progress=lambda line: None) as servers, httpx.Client() as browser:
        page = browser.get(servers.browser.url)
        assert page.status_code == 200
        action = FORM_ACTION.search(page.text)
        assert action is not None
        fields = dict(HIDDEN.findall(page.text))
        fields.update(email="alice@example.com", password="alice-password")
        posted = browser.post(urljoin(str(page.url), action.group(1)), data=fields)
        assert posted.status_code == 303
        callback = browser.get(posted.headers["location"])
        assert callback.status_code == 200
        token = re.search(r"TOKEN=([\w-]+\.[\w-]+\.[\w-]+)", callback.text)
        assert token is not None
        premium = browser.get(
            f"{servers.api_url}/premium", headers={"Authorization": f"Bearer {token.group(1)}"}
        )
        assert premium.status_code == 200


def test_the_callback_page_names_the_user_by_email() -> None:
    with demo.running(progress=lambda line: None) as servers, httpx.Client() as browser:
        page = browser.get(servers.browser.url)
        action = FORM_ACTION.search(page.text)
        assert action is not None
        fields = dict(HIDDEN.findall(page.text))
        fields.update(email="bob@example.com", password="bob-password")
        posted = browser.post(urljoin(str(page.url), action.group(1)), data=fields)
        callback = browser.get(posted.headers["location"])
    assert '<strong id="user">bob@example.com</strong>' in callback.text
    policy = callback.headers["content-security-policy"]
    assert policy.startswith("default-src 'none'; style-src 'sha256-")


@pytest.mark.anyio
@pytest.mark.browser
async def test_the_callback_page_wraps_the_token_at_phone_width(tmp_path: Path) -> None:
    require_chromium()
    console: list[str] = []
    with demo.running(progress=lambda line: None) as servers:
        async with chromium() as browser:
            page = await browser.new_page(viewport={"width": 375, "height": 740})
            page.on("console", lambda message: console.append(message.text))
            await page.goto(servers.browser.url)
            await page.fill("#email", "alice@example.com")
            await page.fill("#password", "alice-password")
            await page.click("button[type=submit]")
            await page.wait_for_url(f"{servers.api_url}/callback?*")
            await page.screenshot(path=tmp_path / "callback-phone.png", full_page=True)
            shown = await page.evaluate(
                """() => {
                    const token = document.querySelector('#token').getBoundingClientRect();
                    return {scrollWidth: document.documentElement.scrollWidth,
                            innerWidth: window.innerWidth, tokenRight: token.right,
                            tokenHeight: token.height,
                            user: document.querySelector('#user').textContent};
                }"""
            )
    assert shown["user"] == "alice@example.com"
    assert shown["scrollWidth"] <= shown["innerWidth"]
    assert shown["tokenRight"] <= shown["innerWidth"]
    assert shown["tokenHeight"] > 200  # the token wraps onto many lines
    assert console == []


def test_a_forged_callback_is_refused() -> None:
    with demo.running(progress=lambda line: None) as servers:
        answer = httpx.get(f"{servers.api_url}/callback?code=x&state=forged")
    assert answer.status_code == 400


def test_a_busy_port_is_named_without_a_traceback() -> None:
    with bind_socket("127.0.0.1", 0) as busy:
        port = busy.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "examples.demo", "--issuer-port", str(port)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port} for the issuer" in result.stderr
    assert "--issuer-port" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_an_issuer_that_does_not_answer_is_named() -> None:
    with pytest.raises(demo.DemoError, match="not answering"):
        demo.login("http://127.0.0.1:9/", "alice@example.com", "alice-password")
