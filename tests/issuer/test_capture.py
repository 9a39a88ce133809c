"""Capturing action output must not swallow the process's other output."""

from __future__ import annotations

import subprocess
import sys
import textwrap


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
