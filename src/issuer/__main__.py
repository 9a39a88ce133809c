"""Command line: ``python -m issuer serve|token --config FILE ...``.

``serve`` prints the issuer URL on one line once it accepts connections. ``token`` prints
an access token for a user. Both keep the signing keys in the file's ``data_dir``, by
default ``.issuer`` beside the file, so a restarted ``serve`` and a ``token`` of the same
file sign with the same key (``--ephemeral-keys`` keeps them in memory instead).
Configuration problems print ``error: FILE: key: problem`` and exit with status 2.
``serve --reload`` applies edits to the file and its actions without a restart.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import tomllib
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from urllib.parse import urlsplit

import anyio

from ._config import load_config
from ._errors import ConfigError, IssuerError
from ._issuer import Issuer
from ._reload import ConfigReloader
from ._serve import bind_socket, serve_in_thread, socket_url

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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m issuer",
        description="The bundled OAuth 2.0 / OpenID Connect issuer: serve it, or print a token.",
        epilog="A configuration problem prints 'error: FILE: key: problem' and exits with 2.",
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
    token = commands.add_parser("token", help="print an access token for a user")
    token.add_argument("--config", required=True, type=Path, help="TOML configuration file")
    token.add_argument("--user", required=True, help="the user's email")
    token.add_argument("--audience", help="API identifier (default: the only API)")
    token.add_argument("--client", help="client_id (default: the only client)")
    token.add_argument("--scope", default="openid profile email", help="requested scopes")
    token.add_argument("--id-token", action="store_true", help="print the ID token instead")
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
    load_config(args.config, persist_keys=persist_keys)  # report config errors before binding
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
        issuer = load_config(args.config, issuer_url=url, persist_keys=persist_keys)
        with serve_in_thread(issuer.app, sock=sock):
            print(issuer.url, flush=True)
            if args.reload:
                ConfigReloader(issuer, args.config, report=_report).run_until(stop)
            while not stop.wait(0.5):
                pass
    return 0


def _report(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _pick_client_and_api(issuer: Issuer, args: argparse.Namespace) -> None:
    """Refuse, naming the option that settles it, when the file does not single out the
    client or API that ``token`` would otherwise take as the only one."""
    clients, apis = len(issuer.directory.clients), len(issuer.directory.apis)
    if args.client is None and clients == 0:
        raise ConfigError(
            "the file has no [[clients]]; token needs one to log in through", file=str(args.config)
        )
    if args.client is None and clients > 1:
        raise IssuerError(f"{args.config} configures {clients} clients; name one with --client")
    if args.audience is None and apis > 1:
        raise IssuerError(f"{args.config} configures {apis} APIs; name one with --audience")


def _token(args: argparse.Namespace) -> int:
    issuer = load_config(args.config, persist_keys=not args.ephemeral_keys)
    _pick_client_and_api(issuer, args)
    tokens = anyio.run(
        lambda: issuer.login(
            args.user, client_id=args.client, audience=args.audience, scope=args.scope
        )
    )
    if args.id_token and tokens.id_token is None:
        print("error: no ID token (request the openid scope)", file=sys.stderr)
        return 1
    print(tokens.id_token if args.id_token else tokens.access_token, flush=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _serve(args) if args.command == "serve" else _token(args)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except IssuerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
