"""The command line, run as a real subprocess."""

import importlib.metadata
import json
import os
import queue
import signal
import socket
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import jwt
import pytest

from issuer import bind_socket
from issuer.__main__ import main
from issuer.dpop import DPoPKey

from .conftest import PREMIUM, SEED_CONFIG

GOOD_USER = 'email = "a@example.com"\npassword = "pw"\n'


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "issuer", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ("colour = 'red'\n", "colour: unknown key"),
        ("access_token_lifetime = 'long'\n", "access_token_lifetime: must be an integer, not str"),
        (f"[[users]]\n{GOOD_USER}roles = 'admin'\n", "users[0].roles: must be an array, not str"),
        ("[actions]\npost_login = ['missing.py']\n", "actions.post_login[0]: action file"),
        (
            "[actions]\npost_login = ['wrong.py']\n",
            "does not define on_execute_post_login(event, api)",
        ),
        (
            "[[clients]]\nclient_id = 'x'\ngrant_types = ['implicit']\n",
            "unknown grant type 'implicit'",
        ),
        ("signing_alg = 'none'\n", "signing_alg: must be one of RS256, ES256, EdDSA"),
        ("issuer = [\n", "invalid TOML"),
        ("data_dir = '/proc/nope'\n", "data_dir: cannot create directory /proc/nope"),
        ("issuer = 'http://127.0.0.1:99999/'\n", "issuer: has a bad port"),
    ],
)
def test_bad_config_is_one_clear_line_and_exit_code_2(
    tmp_path: Path, config: str, expected: str
) -> None:
    (tmp_path / "wrong.py").write_text(
        "def on_execute_credentials_exchange(event, api):\n    pass\n"
    )
    path = tmp_path / "issuer.toml"
    path.write_text(config)
    result = run_cli("serve", "--config", str(path), "--port", "0")
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"error: {path}: ")
    assert expected in lines[0]


@pytest.mark.parametrize("port", ["99999", "65536", "-1", "http"])
def test_a_port_out_of_range_is_a_usage_error(port: str) -> None:
    result = run_cli("serve", "--config", str(SEED_CONFIG), "--port", port)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith("usage: python -m issuer serve")
    assert result.stderr.endswith(
        f"error: argument --port: must be a whole number from 0 to 65535"
        f" (0 picks a free port), not {port!r}\n"
    )


def test_token_prints_an_access_token_with_the_premium_claim() -> None:
    result = run_cli(
        "token", "--config", str(SEED_CONFIG), "--user", "alice@example.com", "--ephemeral-keys"
    )
    assert result.returncode == 0, result.stderr
    claims = jwt.decode(result.stdout.strip(), options={"verify_signature": False})
    assert claims[PREMIUM] is True
    assert "https://api.example.com" in claims["aud"]


def test_token_for_an_unknown_user_fails_cleanly() -> None:
    result = run_cli(
        "token", "--config", str(SEED_CONFIG), "--user", "carol@example.com", "--ephemeral-keys"
    )
    assert result.returncode == 1
    assert result.stderr == "error: no such user: 'carol@example.com'\n"


API = '[[apis]]\nidentifier = "https://api.example.com"\n'
CLIENT = '[[clients]]\nclient_id = "{}"\ngrant_types = ["password"]\n'


def test_token_with_no_clients_says_the_config_has_none(tmp_path: Path) -> None:
    path = tmp_path / "issuer.toml"
    path.write_text(f"{API}[[users]]\n{GOOD_USER}")
    result = run_cli("token", "--config", str(path), "--user", "a@example.com")
    assert result.returncode == 2
    assert result.stderr == (
        f"error: {path}: the file has no [[clients]]; token needs one to log in through\n"
    )


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        (API + CLIENT.format("one") + CLIENT.format("two"), "2 clients; name one with --client"),
        (API + API.replace("api.", "other.") + CLIENT.format("one"),
         "2 APIs; name one with --audience"),
    ],
)  # fmt: skip
def test_token_names_the_option_that_picks_a_client_or_api(
    tmp_path: Path, config: str, expected: str
) -> None:
    path = tmp_path / "issuer.toml"
    path.write_text(f"{config}[[users]]\n{GOOD_USER}")
    result = run_cli("token", "--config", str(path), "--user", "a@example.com")
    assert result.returncode == 1
    assert result.stderr == f"error: {path} configures {expected}\n"


def launch(*args: str) -> "subprocess.Popen[str]":
    """``python -m issuer ARGS`` with its output piped and unbuffered."""
    return subprocess.Popen(
        [sys.executable, "-m", "issuer", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def test_serve_prints_its_url_once_listening_and_stops_on_sigterm() -> None:
    with launch(
        "serve", "--config", str(SEED_CONFIG), "--port", "0", "--ephemeral-keys"
    ) as process:
        try:
            assert process.stdout is not None
            url = process.stdout.readline().strip()
            assert url.startswith("http://127.0.0.1:")
            assert url.endswith("/")
            discovery = httpx.get(f"{url}.well-known/openid-configuration").json()
            assert discovery["issuer"] == url
            assert httpx.get(discovery["jwks_uri"]).json()["keys"]
        finally:
            process.send_signal(signal.SIGTERM)
            _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr


@contextmanager
def serve(config: Path, *args: str) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """``serve --config config`` in a subprocess; yields its URL once it listens."""
    with launch("serve", "--config", str(config), *args) as process:
        try:
            assert process.stdout is not None
            url = process.stdout.readline().strip()
            assert url.startswith("http://"), process.stderr and process.stderr.read()
            yield url, process
        finally:
            process.send_signal(signal.SIGTERM)
            process.communicate(timeout=30)


def free_port() -> int:
    with bind_socket() as sock:
        port: int = sock.getsockname()[1]
    return port


def password_config(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "issuer.toml"
    path.write_text(
        f'issuer = "http://127.0.0.1:{free_port()}/"\n{extra}{API}'
        f"{CLIENT.format('app')}[[users]]\n{GOOD_USER}"
    )
    return path


def password_token(url: str) -> str:
    data = {"grant_type": "password", "username": "a@example.com", "password": "pw",
            "client_id": "app"}  # fmt: skip
    response = httpx.post(f"{url}oauth/token", data=data)
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def verify_with_jwks(token: str, url: str) -> dict[str, object]:
    jwks = jwt.PyJWKSet.from_dict(httpx.get(f"{url}.well-known/jwks.json").json())
    key = next(k for k in jwks.keys if k.key_id == jwt.get_unverified_header(token)["kid"])
    claims: dict[str, object] = jwt.decode(
        token, key.key, algorithms=["RS256"], audience="https://api.example.com", issuer=url
    )
    return claims


def test_serve_keeps_its_signing_key_across_a_restart(tmp_path: Path) -> None:
    config = password_config(tmp_path)
    with serve(config) as (url, _):
        token = password_token(url)
    with serve(config) as (again, _):
        assert again == url
        assert verify_with_jwks(token, again)["sub"]
    keys = tmp_path / ".issuer"
    assert stat.S_IMODE(keys.stat().st_mode) == 0o700
    assert stat.S_IMODE((keys / "signing-keys.json").stat().st_mode) == 0o600


def test_token_then_serve_share_the_signing_key(tmp_path: Path) -> None:
    config = password_config(tmp_path)
    result = run_cli("token", "--config", str(config), "--user", "a@example.com")
    assert result.returncode == 0, result.stderr
    with serve(config) as (url, _):
        assert verify_with_jwks(result.stdout.strip(), url)["sub"]


@pytest.mark.parametrize(
    ("extra", "option"),
    [("", "--ephemeral-keys"), ("data_dir = false\n", None), ("data_dir = 'keys'\n", None)],
)
def test_where_token_keeps_its_keys(tmp_path: Path, extra: str, option: str | None) -> None:
    config = password_config(tmp_path, extra)
    options = [option] if option else []
    result = run_cli("token", "--config", str(config), "--user", "a@example.com", *options)
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / ".issuer").exists()
    assert (tmp_path / "keys").exists() == ("keys" in extra)


def stderr_lines(process: subprocess.Popen[str]) -> "queue.Queue[str]":
    """The process's stderr, line by line, read in a thread so waiting can be bounded."""
    lines: queue.Queue[str] = queue.Queue()
    assert process.stderr is not None
    stream = process.stderr
    threading.Thread(target=lambda: [lines.put(line) for line in stream], daemon=True).start()
    return lines


def test_serve_reload_applies_an_edited_action_and_keeps_serving_a_broken_one(
    tmp_path: Path,
) -> None:
    claim = "https://myapp.example.com/version"
    action = tmp_path / "version.py"
    source = (
        "def on_execute_post_login(event, api):\n"
        "    api.access_token.set_custom_claim({!r}, {!r})\n"
    )
    action.write_text(source.format(claim, "v1"))
    config = password_config(tmp_path, "[actions]\npost_login = ['version.py']\n")
    with serve(config, "--reload") as (url, process):
        stderr = stderr_lines(process)
        claims = jwt.decode(password_token(url), options={"verify_signature": False})
        assert claims[claim] == "v1"
        action.write_text(source.format(claim, "version 2"))
        assert stderr.get(timeout=20) == f"{config}: reloaded\n"
        claims = jwt.decode(password_token(url), options={"verify_signature": False})
        assert claims[claim] == "version 2"
        action.write_text("def on_execute_post_login(event, api)\n")
        line = stderr.get(timeout=20)
        assert line.startswith(f"error: {config}: actions.post_login[0]: action file '{action}'")
        assert "SyntaxError" in line
        claims = jwt.decode(password_token(url), options={"verify_signature": False})
        assert claims[claim] == "version 2"


class Served:
    """``serve`` running as a subprocess; ``url`` is the line it printed when ready (read
    off its output, which then holds what came after)."""

    def __init__(self, process: "subprocess.Popen[str]") -> None:
        self.process = process
        assert process.stdout is not None
        self.url = process.stdout.readline().strip()

    def stop(self) -> tuple[str, str]:
        self.process.send_signal(signal.SIGTERM)
        stdout, stderr = self.process.communicate(timeout=30)
        assert self.process.returncode == 0, stderr
        return stdout, stderr


def serve_seed(*flags: str) -> Served:
    port = [] if "--port" in flags else ["--port", "0"]
    return Served(launch("serve", "--config", str(SEED_CONFIG), "--ephemeral-keys", *flags, *port))


def log_in(url: str, email: str, password: str) -> httpx.Response:
    return httpx.post(
        f"{url}oauth/token?hint=query-secret",
        data={"grant_type": "password", "username": email, "password": password},
        auth=("demo-app", "demo-secret"),
    )


def test_serve_prints_requests_action_output_and_login_outcomes() -> None:
    served = serve_seed()
    try:
        assert log_in(served.url, "bob@example.com", "bob-password").status_code == 200
        assert log_in(served.url, "alice@example.com", "wrong").status_code == 400
    finally:
        stdout, stderr = served.stop()
    lines = stdout.splitlines()
    assert served.url.startswith("http://127.0.0.1:")
    assert "[premium] bob@example.com: bob@example.com is not premium (roles: [])" in lines
    assert any(
        line.startswith("login bob@example.com via password for client demo-app: ok")
        and "(actions: premium)" in line
        for line in lines
    )
    assert any(line.startswith("POST /oauth/token 200 ") for line in lines)
    assert any(line.startswith("POST /oauth/token 400 ") for line in lines)
    for secret in ("query-secret", "bob-password", "demo-secret", "eyJ"):
        assert secret not in stdout + stderr
    # uvicorn's own access log stays off: one line per request, not two.
    assert "HTTP/1.1" not in stdout + stderr


def test_serving_at_another_port_than_the_file_names_says_so() -> None:
    served = serve_seed("--quiet")  # the seed file names http://127.0.0.1:8765/
    _, stderr = served.stop()
    assert stderr.splitlines() == [
        f"note: serving as {served.url} because --host/--port were given; {SEED_CONFIG} "
        "names the issuer http://127.0.0.1:8765/, so tokens from `token --config` of that "
        "file carry another iss"
    ]


def test_serve_quiet_prints_only_its_url() -> None:
    served = serve_seed("--quiet")
    try:
        assert log_in(served.url, "bob@example.com", "bob-password").status_code == 200
    finally:
        stdout, _ = served.stop()
    assert served.url.startswith("http://127.0.0.1:")
    assert stdout == ""


def test_serve_json_prints_one_object_per_line() -> None:
    served = serve_seed("--json")
    try:
        assert log_in(served.url, "alice@example.com", "alice-password").status_code == 200
    finally:
        stdout, _ = served.stop()
    assert served.url.startswith("http://127.0.0.1:")
    output, login, request = (json.loads(line) for line in stdout.splitlines())
    assert output["event"] == "action_output"
    assert (output["action"], output["user"]) == ("premium", "alice@example.com")
    assert "premium claim added for alice@example.com" in output["line"]
    assert login["event"] == "login"
    assert (login["outcome"], login["grant"], login["actions"]) == ("ok", "password", ["premium"])
    assert (request["event"], request["path"], request["status"]) == (
        "request",
        "/oauth/token",
        200,
    )


def test_logs_prints_the_action_log_of_a_served_issuer() -> None:
    served = serve_seed("--quiet")
    try:
        log_in(served.url, "bob@example.com", "bob-password")
        result = run_cli("logs", "--url", served.url)
        as_json = run_cli("logs", "--url", served.url, "--json")
    finally:
        served.stop()
    assert result.returncode == 0, result.stderr
    assert "[premium] bob@example.com via password for client demo-app: ok" in result.stdout
    assert "  | bob@example.com is not premium (roles: [])" in result.stdout
    (record,) = (json.loads(line) for line in as_json.stdout.splitlines())
    assert (record["action"], record["user_email"], record["outcome"]) == (
        "premium",
        "bob@example.com",
        "ok",
    )


def test_logs_follow_prints_a_new_login() -> None:
    served = serve_seed("--quiet")
    follower = launch("logs", "--url", served.url, "--follow", "--interval", "0.05")
    try:
        assert log_in(served.url, "alice@example.com", "alice-password").status_code == 200
        assert follower.stdout is not None
        assert "[premium] alice@example.com via password" in follower.stdout.readline()
    finally:
        follower.send_signal(signal.SIGINT)
        _, stderr = follower.communicate(timeout=30)
        served.stop()
    assert follower.returncode == 0, stderr
    assert stderr == ""


def test_logs_against_nothing_is_one_clear_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = run_cli("logs", "--url", f"http://127.0.0.1:{port}/")
    assert result.returncode == 1
    assert result.stderr.startswith(f"error: cannot reach http://127.0.0.1:{port}/")
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "command", [[sys.executable, "-m", "issuer"], [str(Path(sys.executable).parent / "issuer")]]
)
def test_version_on_the_module_and_the_console_script(command: list[str]) -> None:
    result = subprocess.run(
        [*command, "--version"], capture_output=True, text=True, timeout=60, check=False
    )
    version = importlib.metadata.version("claimguard-asgi")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"issuer (claimguard-asgi) {version}\n"


def test_serve_console_turns_the_developer_console_on() -> None:
    served = serve_seed("--console", "--quiet")
    try:
        page = httpx.get(f"{served.url}console/directory")
    finally:
        _, stderr = served.stop()
    assert page.status_code == 200
    assert "Development tool." in page.text
    assert f"developer console: {served.url}console" in stderr.splitlines()


DPOP_CONFIG = (
    'data_dir = false\n[[apis]]\nidentifier = "https://api.example.com"\nrequire_dpop = true\n'
    + CLIENT.format("app")
    + f"[[users]]\n{GOOD_USER}"
)


def test_token_for_an_api_that_requires_dpop_names_the_option_that_binds_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "issuer.toml"
    path.write_text(DPOP_CONFIG)
    assert main(["token", "--config", str(path), "--user", "a@example.com"]) == 1
    error = capsys.readouterr().err
    assert "requires a DPoP proof: pass --dpop-key-file PATH" in error
    assert "issuer.dpop.DPoPKey" in error


def test_token_with_a_dpop_key_file_binds_the_token_to_the_key_kept_there(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, key_file = tmp_path / "issuer.toml", tmp_path / "dpop.json"
    path.write_text(DPOP_CONFIG)
    command = ["token", "--config", str(path), "--user", "a@example.com"]
    assert main([*command, "--dpop-key-file", str(key_file)]) == 0
    first = capsys.readouterr()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = DPoPKey.from_private_jwk(json.loads(key_file.read_text()))
    assert main([*command, "--dpop-key-file", str(key_file)]) == 0
    second = capsys.readouterr().out
    for token in (first.out, second):
        assert jwt.decode(token.strip(), options={"verify_signature": False})["cnf"] == {
            "jkt": key.jkt
        }
    assert f"bound to the DPoP key in {key_file} (jkt {key.jkt})" in first.err


def test_token_refuses_a_dpop_key_file_that_holds_no_private_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, key_file = tmp_path / "issuer.toml", tmp_path / "dpop.json"
    path.write_text(DPOP_CONFIG)
    key_file.write_text(json.dumps({**DPoPKey().public_jwk, "alg": "ES256"}))
    command = ["token", "--config", str(path), "--user", "a@example.com"]
    assert main([*command, "--dpop-key-file", str(key_file)]) == 1
    assert capsys.readouterr().err == (
        f"error: {key_file}: not a private DPoP key (a JWK): not a private ES256 key\n"
    )


def test_token_prints_the_warnings_of_the_actions_on_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "iss.py").write_text(
        "def on_execute_post_login(event, api):\n"
        "    api.access_token.set_custom_claim('iss', 'x')\n"
    )
    path = tmp_path / "issuer.toml"
    path.write_text(
        f"data_dir = false\n{API}{CLIENT.format('app')}[[users]]\n{GOOD_USER}"
        '[actions]\npost_login = ["iss.py"]\n'
    )
    assert main(["token", "--config", str(path), "--user", "a@example.com"]) == 0
    assert capsys.readouterr().err == (
        "warning: action 'iss': access_token claim refused: 'iss' is a reserved claim\n"
    )
