"""The ``issuer token`` command, run as a real subprocess."""

import subprocess
import sys
from pathlib import Path

CONFIG = """
data_dir = false
[[apis]]
identifier = "https://api.example.com"
[[clients]]
client_id = "app"
client_secret = "s"
[[users]]
email = "a@example.com"
password = "pw"
[actions]
post_login = ["terms.py"]
"""
TERMS = """
def on_execute_post_login(event, api):
    api.redirect.send_user_to("https://terms.example.com/")

def on_continue_post_login(event, api):
    pass
"""


def test_a_redirect_action_names_the_command_and_no_exception_class(tmp_path: Path) -> None:
    (tmp_path / "terms.py").write_text(TERMS)
    config = tmp_path / "issuer.toml"
    config.write_text(CONFIG)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "issuer",
            "token",
            "--config",
            str(config),
            "--user",
            "a@example.com",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.endswith(
        "error: action 'terms' failed: api.redirect.send_user_to needs a browser login"
        " (/authorize); this login came through `issuer token`, which has no browser to send"
        " anywhere: use the authorization code flow\n"
    )
    assert "Error" not in result.stderr
    assert "Issuer.login()" not in result.stderr
