"""Capturing action output must not swallow the process's other output."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import threading

import pytest

from issuer import ActionFailed, Issuer


def test_warnings_still_reach_stderr_after_an_action_ran_without_logging_configured() -> None:
    # Under pytest the root logger has handlers; a process of its own has none, which is
    # where Python's last-resort output prints warnings (python -m issuer serve, scripts).
    code = textwrap.dedent(
        """
        import asyncio, logging
        from issuer import Issuer

        def chatty(event, api):
            print("inside the action")
            logging.getLogger("issuer.actions.chatty").warning("captured, not printed")

        idp = Issuer()
        idp.add_api("https://api.example.com", scopes=[])
        idp.add_client("app", client_secret="s", grant_types=["password"])
        idp.add_user("a@example.com", password="pw")
        idp.add_action(chatty)
        asyncio.run(idp.login("a@example.com", client_id="app"))
        logging.getLogger("issuer.logout").warning("logout redirect refused: example")
        logging.getLogger("issuer.logout").info("below the last resort's level")
        print("after the action")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stderr.strip().splitlines() == ["logout redirect refused: example"]
    assert result.stdout.strip().splitlines() == ["after the action"]


def test_an_abandoned_action_prints_nothing_after_its_budget(
    capfd: pytest.CaptureFixture[str],
) -> None:
    # A sync action past its budget is abandoned in its worker thread: what it prints then
    # belongs to no execution, and must not reach the console bare.
    release, printed = threading.Event(), threading.Event()

    def slow(event: object, api: object) -> None:
        print("within the budget")
        release.wait(5)
        print("after the budget")
        printed.set()

    idp = Issuer(action_budget_seconds=0.2)
    idp.add_api("https://api.example.com", scopes=[])
    idp.add_client("app", client_secret="s", grant_types=["password"])
    idp.add_user("a@example.com", password="pw")
    idp.add_action(slow)
    try:
        asyncio.run(idp.login("a@example.com", client_id="app"))
    except ActionFailed:
        pass
    else:
        raise AssertionError("the login should have failed at the budget")
    release.set()
    assert printed.wait(5)
    out, err = capfd.readouterr()
    assert "after the budget" not in out + err
    assert idp.action_logs()[0].logs == ["within the budget"]
