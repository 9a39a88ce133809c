"""The premium scenario, end to end on real loopback servers (``scripts/demo``).

The bundled issuer (``examples/issuer/issuer.toml``, with the premium post-login action) and
the example FastAPI API (``examples/fastapi_app.py``) each listen on a free 127.0.0.1 port.
alice (premium) and bob (not premium) log in through the issuer's token endpoint, the
actions run, and each token is sent to the API's public, authenticated and premium routes.
The outcome is printed as a table. ``--serve`` then keeps both servers running for a browser.

    .venv/bin/python -m examples.demo [--serve] [--issuer-port N] [--api-port N]
"""

from __future__ import annotations

import argparse
import re
import signal
import socket
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import httpx

from issuer import Issuer, IssuerError, bind_socket, serve_in_thread

from .browser_login import BrowserLogin, unverified_payload, with_callback
from .fastapi_app import AUDIENCE, NAMESPACE, create_app

__all__ = [
    "EXPECTED",
    "DemoError",
    "Outcome",
    "Servers",
    "main",
    "render_table",
    "run_scenario",
    "running",
]

CONFIG = Path(__file__).parent / "issuer" / "issuer.toml"
HOST = "127.0.0.1"
CLIENT_ID, CLIENT_SECRET = "demo-app", "demo-secret"  # a confidential client in CONFIG
BROWSER_CLIENT_ID = "demo-browser"
USERS = (
    ("alice", "alice@example.com", "alice-password"),
    ("bob", "bob@example.com", "bob-password"),
)
ROUTES = ("/public", "/me", "/premium")
NO_TOKEN = "(no token)"
EXPECTED = {
    (NO_TOKEN, "/public"): 200, (NO_TOKEN, "/me"): 401, (NO_TOKEN, "/premium"): 401,
    ("alice", "/public"): 200, ("alice", "/me"): 200, ("alice", "/premium"): 200,
    ("bob", "/public"): 200, ("bob", "/me"): 200, ("bob", "/premium"): 403,
}  # fmt: skip
"""The status every (user, route) pair must get; anything else fails the demo."""

Progress = Callable[[str], None]


class DemoError(Exception):
    """A failure the demo reports in one line, naming what failed."""


@dataclass(frozen=True)
class Servers:
    """The running issuer and API: their URLs, the issuer object, and the browser login."""

    issuer_url: str
    api_url: str
    issuer: Issuer
    browser: BrowserLogin


@dataclass(frozen=True)
class Outcome:
    """One API call: who made it, with which claims, and what came back."""

    user: str
    claims: str
    route: str
    status: int
    reason: str


def _listen(port: int, what: str, option: str) -> socket.socket:
    try:
        return bind_socket(HOST, port)
    except OSError as exc:
        raise DemoError(
            f"cannot listen on {HOST}:{port} for the {what}: {exc.strerror or exc} "
            f"(choose another port with {option}, or 0 for a free one)"
        ) from exc


def _url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://{host}:{port}"


def _check_answers(url: str, what: str, expect: Callable[[httpx.Response], bool]) -> None:
    try:
        response = httpx.get(url, timeout=5)
    except httpx.HTTPError as exc:
        raise DemoError(f"the {what} at {url} is not answering: {exc!r}") from exc
    if not expect(response):
        raise DemoError(f"the {what} at {url} answered {response.status_code}: {response.text!r}")


@contextmanager
def running(
    *, issuer_port: int = 0, api_port: int = 0, progress: Progress = print, console: bool = False
) -> Iterator[Servers]:
    """Start the issuer and the API on ``127.0.0.1`` (port 0: a free one) and stop them on exit.

    ``console`` turns on the issuer's developer console at ``/console``.
    """
    with ExitStack() as stack:
        progress("==> starting the issuer (examples/issuer/issuer.toml, premium action)")
        issuer_sock = stack.enter_context(_listen(issuer_port, "issuer", "--issuer-port"))
        issuer_url = _url(issuer_sock) + "/"
        issuer = Issuer.from_config(CONFIG, issuer_url=issuer_url, console=console)
        try:
            stack.enter_context(serve_in_thread(issuer.app, sock=issuer_sock))
        except IssuerError as exc:
            raise DemoError(f"the issuer did not start: {exc}") from exc
        discovery = issuer_url + ".well-known/openid-configuration"
        _check_answers(discovery, "issuer", lambda r: r.json().get("issuer") == issuer_url)
        progress(f"    issuer ready at {issuer_url}")

        progress("==> starting the API (examples/fastapi_app.py, FastAPI + claimguard)")
        api_sock = stack.enter_context(_listen(api_port, "API", "--api-port"))
        api_url = _url(api_sock)
        browser = BrowserLogin(
            issuer_url=issuer_url,
            api_url=api_url,
            client_id=BROWSER_CLIENT_ID,
            audience=AUDIENCE,
            namespace=NAMESPACE,
        )
        issuer.add_client(
            BROWSER_CLIENT_ID,
            redirect_uris=[browser.redirect_uri],
            grant_types=["authorization_code"],
            name="claimguard demo",
        )
        app = with_callback(create_app(issuer_url=issuer_url), browser)
        try:
            stack.enter_context(serve_in_thread(app, sock=api_sock))
        except IssuerError as exc:
            raise DemoError(f"the API did not start: {exc}") from exc
        _check_answers(api_url + "/public", "API", lambda r: r.status_code == 200)
        progress(f"    API ready at {api_url}")
        yield Servers(issuer_url, api_url, issuer, browser)
        progress("==> stopping both servers")


def login(issuer_url: str, email: str, password: str) -> str:
    """Log ``email`` in with the password grant over HTTP; the post-login actions run."""
    try:
        response = httpx.post(
            f"{issuer_url}oauth/token",
            data={
                "grant_type": "password",
                "username": email,
                "password": password,
                "audience": AUDIENCE,
                "scope": "openid profile email",
            },
            auth=(CLIENT_ID, CLIENT_SECRET),
            timeout=10,
        )
    except httpx.HTTPError as exc:
        raise DemoError(f"the issuer at {issuer_url} is not answering: {exc!r}") from exc
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    if response.status_code != 200 or "access_token" not in body:
        raise DemoError(
            f"login of {email} failed: {response.status_code} "
            f"{body.get('error', '')} {body.get('error_description', response.text)}"
        )
    return str(body["access_token"])


def added_claims(token: str) -> str:
    """The namespaced claims in ``token`` by short name, e.g. ``premium=true``."""
    payload = unverified_payload(token)
    pairs = [
        f"{name.removeprefix(NAMESPACE)}={'true' if value is True else value}"
        for name, value in payload.items()
        if name.startswith(NAMESPACE)
    ]
    return ", ".join(pairs) or "(none)"


_ERROR = re.compile(r'error="([^"]*)"')
_SCOPE = re.compile(r'scope="([^"]*)"')


def refusal_reason(response: httpx.Response) -> str:
    """Why the API refused: the RFC 6750 error code, the description and the missing scope."""
    if response.status_code < 400:
        return ""
    challenge = response.headers.get("www-authenticate", "")
    try:
        body = response.json()
    except ValueError:
        body = {}
    if isinstance(body, dict) and isinstance(body.get("detail"), dict):
        body = body["detail"]  # FastAPI wraps HTTPException details
    error = _ERROR.search(challenge)
    scope = _SCOPE.search(challenge)
    reason = error.group(1) if error else "no token sent"
    description = body.get("error_description") if isinstance(body, dict) else None
    if description:
        reason += f": {description}"
    if scope:
        reason += f' [scope="{scope.group(1)}"]'
    return reason


def run_scenario(servers: Servers, *, progress: Progress = print) -> list[Outcome]:
    """Log alice and bob in, then call every route without a token and with each token."""
    callers: list[tuple[str, str | None, str]] = [(NO_TOKEN, None, "-")]
    for name, email, password in USERS:
        token = login(servers.issuer_url, email, password)
        claims = added_claims(token)
        progress(f"==> {email} logged in; the post-login action added: {claims}")
        callers.append((name, token, claims))
    outcomes = []
    with httpx.Client(base_url=servers.api_url, timeout=10) as client:
        for name, token, claims in callers:
            headers = {} if token is None else {"Authorization": f"Bearer {token}"}
            for route in ROUTES:
                try:
                    response = client.get(route, headers=headers)
                except httpx.HTTPError as exc:
                    raise DemoError(
                        f"the API at {servers.api_url} is not answering: {exc!r}"
                    ) from exc
                reason = refusal_reason(response)
                outcomes.append(Outcome(name, claims, route, response.status_code, reason))
    return outcomes


def render_table(outcomes: Sequence[Outcome]) -> str:
    """The outcomes as an aligned plain-text table."""
    rows = [("user", "claims added by actions", "route", "status", "reason for refusal")]
    rows += [(o.user, o.claims, o.route, str(o.status), o.reason) for o in outcomes]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = []
    for index, row in enumerate(rows):
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        lines.append("  ".join([*cells, row[4]]).rstrip())
        if index == 0:
            lines.append("  ".join("-" * w for w in [*widths, len(row[4])]))
    return "\n".join(lines)


def unexpected(outcomes: Sequence[Outcome]) -> list[str]:
    """Every outcome whose status differs from :data:`EXPECTED`."""
    return [
        f"{o.user} {o.route}: expected {EXPECTED[(o.user, o.route)]}, got {o.status}"
        for o in outcomes
        if EXPECTED.get((o.user, o.route)) != o.status
    ]


def _serve_until_stopped(servers: Servers, stop: threading.Event | None) -> None:
    alice = login(servers.issuer_url, USERS[0][1], USERS[0][2])
    print(
        f"""
Both servers keep running. Press Ctrl-C to stop them.

  login page  {servers.browser.url}
              (alice@example.com / alice-password is premium, bob@example.com / bob-password is not;
               after the login the API's /callback page shows your access token)
  issuer      {servers.issuer_url}   (action logs: {servers.issuer_url}actions/logs)
  console     {servers.issuer_url}console   (live logins, try an action, tokens, directory)
  API         {servers.api_url}   (/public, /me, /premium; docs: {servers.api_url}/docs)

A token for alice:

  TOKEN={alice}
  curl -i -H "Authorization: Bearer $TOKEN" {servers.api_url}/premium
""",
        flush=True,
    )
    if stop is None:
        stop = threading.Event()

        def request_stop(signum: int, frame: FrameType | None) -> None:
            stop.set()

        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)
    while not stop.wait(0.5):
        pass


def main(argv: Sequence[str] | None = None, *, stop: threading.Event | None = None) -> int:
    """Run the demo; ``stop`` ends ``--serve`` (default: Ctrl-C or SIGTERM)."""
    parser = argparse.ArgumentParser(prog="scripts/demo", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--serve", action="store_true", help="keep both servers running until Ctrl-C"
    )
    parser.add_argument("--issuer-port", type=int, default=0, help="issuer port (default: free)")
    parser.add_argument("--api-port", type=int, default=0, help="API port (default: free)")
    args = parser.parse_args(argv)
    try:
        with running(
            issuer_port=args.issuer_port, api_port=args.api_port, console=args.serve
        ) as servers:
            outcomes = run_scenario(servers)
            print()
            print(render_table(outcomes))
            print(flush=True)
            problems = unexpected(outcomes)
            if problems:
                raise DemoError("unexpected answers: " + "; ".join(problems))
            print("alice gets the premium route (200); bob is refused (403 insufficient_scope).")
            if args.serve:
                _serve_until_stopped(servers, stop)
    except DemoError as exc:
        print(f"demo: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
