"""The ``issuer token`` command: a token for a configured user, printed for a shell."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import anyio

from .._config import load_config
from .._issuer import Issuer
from ..core._errors import ActionFailed, ConfigError, IssuerError, OAuthError
from ..dpop import DPoPKey

__all__ = ["token_command"]


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


def token_command(args: argparse.Namespace) -> int:
    """``issuer token``: log a configured user in and print the token; the exit status."""
    issuer = load_config(args.config, build=Issuer, persist_keys=not args.ephemeral_keys)
    _pick_client_and_api(issuer, args)
    key = None if args.dpop_key_file is None else _dpop_key(args.dpop_key_file)
    try:
        tokens = anyio.run(
            lambda: issuer.login(
                args.user,
                client_id=args.client,
                audience=args.audience,
                scope=args.scope,
                dpop_key=key,
                via="`issuer token`",
            )
        )
    except ActionFailed as exc:
        # What the action's exception said, not its class name.
        said = f": {exc.message}" if exc.message else ""
        raise IssuerError(f"action {exc.action!r} failed{said}") from None
    except OAuthError as exc:
        if exc.error != "invalid_dpop_proof" or key is not None:
            raise
        raise IssuerError(
            f"{exc.description}: pass --dpop-key-file PATH to bind the token to a key"
            " (in Python: issuer.dpop.DPoPKey and Issuer.login(dpop_key=...))"
        ) from None
    finally:
        # Warnings such as a refused claim go to each action's log, not to the terminal.
        for record in reversed(issuer.action_logs()):
            for warning in record.warnings:
                print(f"warning: action {record.action!r}: {warning}", file=sys.stderr)
    if args.id_token and tokens.id_token is None:
        print("error: no ID token (request the openid scope)", file=sys.stderr)
        return 1
    print(tokens.id_token if args.id_token else tokens.access_token, flush=True)
    if key is not None and not args.id_token:
        print(
            f"note: the token is bound to the DPoP key in {args.dpop_key_file} (jkt {key.jkt});"
            " send it as 'Authorization: DPoP <token>' with a proof from"
            " issuer.dpop.DPoPKey.from_private_jwk(json.load(file))",
            file=sys.stderr,
        )
    return 0


def _dpop_key(path: Path) -> DPoPKey:
    """The key in ``path`` (a private JWK), or a new ES256 key written there, readable by the
    user only: whoever holds it can use the tokens bound to it (RFC 9449 §2)."""
    try:
        with open(path, "x", encoding="utf-8", opener=_private_file) as file:
            key = DPoPKey()
            json.dump(key.private_jwk(), file)
            return key
    except FileExistsError:
        pass
    except OSError as exc:
        raise IssuerError(f"{path}: cannot write the DPoP key: {exc.strerror or exc}") from None
    try:
        return DPoPKey.from_private_jwk(json.loads(path.read_text(encoding="utf-8")))
    except OSError as exc:
        raise IssuerError(f"{path}: cannot read the DPoP key: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise IssuerError(f"{path}: not a private DPoP key (a JWK): {exc}") from None


def _private_file(path: str, flags: int) -> int:
    return os.open(path, flags, 0o600)
