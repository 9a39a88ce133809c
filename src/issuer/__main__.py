"""Command line: ``python -m issuer serve|token --config FILE ...``, ``... logs --url URL``.

``serve`` prints the issuer URL on one line once it accepts connections, then one line per
request, per action output line and per login (``--quiet``: none; ``--json``: JSON
lines). ``logs`` prints a running issuer's action log. ``token`` prints an access token
for a user. Both ``serve`` and ``token`` keep the signing keys in the file's ``data_dir``,
by default ``.issuer`` beside the file, so a restarted ``serve`` and a ``token`` of the
same file sign with the same key (``--ephemeral-keys`` keeps them in memory instead).
Configuration problems print ``error: FILE: key: problem`` and exit with status 2.
``serve --reload`` applies edits to the file and its actions without a restart.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import os
import signal
import sys
import threading
import tomllib
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from urllib.parse import urlsplit

from starlette.types import ASGIApp

from ._config import load_config
from ._issuer import Issuer
from .cli._console import console_app
from .cli._logscli import follow_logs
from .cli._reload import ConfigReloader
from .cli._tokencli import token_command
from .core._errors import ConfigError, IssuerError
from .core._serve import bind_socket, serve_in_thread, socket_url

DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 8765


def _port(text: str) -> int:
    """A TCP port from the command line; out of range is a usage error, not a traceback."""
    if not (text.isascii() and text.isdigit() and len(text) <= 5 and int(text) <= 65535):
        raise argparse.ArgumentTypeError(
            f"must be a whole number from 0 to 65535 (0 picks a free port), not {text!r}"
        )
    return int(text)


def _keys_option(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--ephemeral-keys",
        action="store_true",
        help="keep signing keys in memory (default: data_dir, or .issuer beside the file)",
    )


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value <= 3600:
        raise argparse.ArgumentTypeError(f"must be a number of seconds up to 3600, not {text!r}")
    return value


def _version() -> str:
    try:
        return importlib.metadata.version("claimguard-asgi")
    except importlib.metadata.PackageNotFoundError:
        return "unknown (not installed)"


def _prog() -> str:
    script = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    return "python -m issuer" if script in ("", "__main__.py", "-c") else script


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=_prog(),
        description="The bundled OAuth 2.0 / OpenID Connect issuer: serve it, or print a token.",
        epilog="A configuration problem prints 'error: FILE: key: problem' and exits with 2.",
    )
    parser.add_argument(
        "--version", action="version", version=f"issuer (claimguard-asgi) {_version()}"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the issuer over HTTP")
    serve.add_argument("--config", required=True, type=Path, help="TOML configuration file")
    serve.add_argument("--host", help=f"interface to listen on (default {DEFAULT_HOST})")
    serve.add_argument("--port", type=_port, help="port; 0 picks a free one (default from config)")
    _keys_option(serve)
    serve.add_argument(
        "--reload",
        action="store_true",
        help="reload the config and its action files when they change (keys and sessions stay)",
    )
    serve.add_argument(
        "--console",
        action="store_true",
        help="serve the developer console at /console (loopback issuers only)",
    )
    output = serve.add_mutually_exclusive_group()
    output.add_argument("--quiet", action="store_true", help="print only the URL, no console")
    output.add_argument("--json", action="store_true", help="console lines as JSON objects")
    logs = commands.add_parser("logs", help="print the action log of a running issuer")
    logs.add_argument("--url", required=True, help="the issuer's URL, as `serve` printed it")
    logs.add_argument("--token", help="the action log token (action_logs.token)")
    logs.add_argument("--follow", action="store_true", help="keep printing new executions")
    logs.add_argument("--json", action="store_true", help="one JSON record per line")
    logs.add_argument(
        "--interval", type=_seconds, default=1.0, help="seconds between polls (default 1)"
    )
    token = commands.add_parser("token", help="print an access token for a user")
    token.add_argument("--config", required=True, type=Path, help="TOML configuration file")
    token.add_argument("--user", required=True, help="the user's email")
    token.add_argument("--audience", help="API identifier (default: the only API)")
    token.add_argument("--client", help="client_id (default: the only client)")
    token.add_argument("--scope", default="openid profile email", help="requested scopes")
    token.add_argument("--id-token", action="store_true", help="print the ID token instead")
    token.add_argument(
        "--dpop-key-file",
        type=Path,
        metavar="PATH",
        help="bind the token to the DPoP key in PATH, a private JWK (created if missing)",
    )
    _keys_option(token)
    return parser


def _configured_url(path: Path) -> str | None:
    try:
        value = tomllib.loads(path.read_text(encoding="utf-8")).get("issuer")
    except (OSError, ValueError):
        return None  # the full load reports it properly
    return value if isinstance(value, str) else None


def _serve(args: argparse.Namespace) -> int:
    configured = _configured_url(args.config)
    parts = urlsplit(configured) if configured else None
    host = args.host or (parts.hostname if parts and parts.hostname else DEFAULT_HOST)
    port = (
        args.port
        if args.port is not None
        else (parts.port if parts and parts.port else DEFAULT_PORT)
    )
    keep_configured = configured is not None and args.host is None and args.port is None
    persist_keys = not args.ephemeral_keys
    console = True if args.console else None
    load_config(
        args.config, build=Issuer, persist_keys=persist_keys, console=console
    )  # report config errors before binding
    try:
        sock = bind_socket(host, port)
    except OSError as exc:
        print(f"error: cannot listen on {host}:{port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    with sock:
        url = configured if keep_configured and configured else socket_url(sock) + "/"
        issuer = load_config(
            args.config, build=Issuer, issuer_url=url, persist_keys=persist_keys, console=console
        )
        app: ASGIApp = issuer.app
        if not args.quiet:
            app = console_app(
                app, issuer.activity, json_lines=args.json, secret_values=issuer.secret_values
            )
        with serve_in_thread(app, sock=sock):
            print(issuer.url, flush=True)
            if issuer.console:
                print(f"developer console: {issuer.url}console", file=sys.stderr, flush=True)
            if configured and issuer.url.rstrip("/") != configured.rstrip("/"):
                # Tokens name the issuer they were signed by: `token` on this file, and
                # APIs configured with the file's URL, would not match this one.
                print(
                    f"note: serving as {issuer.url} because --host/--port were given; "
                    f"{args.config} names the issuer {configured}, so tokens from "
                    "`token --config` of that file carry another iss",
                    file=sys.stderr,
                    flush=True,
                )
            if args.reload:
                ConfigReloader(issuer, args.config, report=_report).run_until(stop)
            while not stop.wait(0.5):
                pass
    return 0


def _report(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _logs(args: argparse.Namespace) -> int:
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how --follow ends
        follow_logs(
            args.url,
            token=args.token,
            follow=args.follow,
            json_lines=args.json,
            interval_seconds=args.interval,
            stream=sys.stdout,
        )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = _parser().parse_args(argv)
    commands = {"serve": _serve, "token": token_command, "logs": _logs}
    try:
        return commands[args.command](args)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except IssuerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
