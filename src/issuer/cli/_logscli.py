"""``python -m issuer logs``: print a running issuer's action log, and follow it.

It reads ``GET /actions/logs`` (newest first) and prints oldest first, so the newest
execution ends up at the bottom of the terminal, as in a log file.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any, TextIO

import httpx

from ..core._activity import grant_of
from ..core._errors import IssuerError
from ._console import printable

__all__ = ["fetch_records", "follow_logs", "record_lines"]

_REFUSALS = {
    401: "{url} wants the action log token: pass --token (action_logs.token in its config)",
    404: "{url} does not serve an action log (is it an issuer? action_logs.enabled = false?)",
    421: (
        "{url} serves its action log only under its own host name: use the URL that `serve` printed"
    ),
}


def _endpoint(url: str) -> str:
    return url.rstrip("/") + "/actions/logs"


def fetch_records(client: httpx.Client, url: str, token: str | None) -> list[dict[str, Any]]:
    """The records ``url`` serves, oldest first; a refusal or a dead server is an
    :class:`IssuerError` saying what to do."""
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    try:
        response = client.get(_endpoint(url), headers=headers)
    except httpx.HTTPError as exc:
        raise IssuerError(f"cannot reach {url}: {exc}") from exc
    if response.status_code == 401 and token is not None:
        raise IssuerError(f"{url} refused the action log token (401): check --token")
    if response.status_code in _REFUSALS:
        message = _REFUSALS[response.status_code].format(url=url)
        raise IssuerError(f"{message} ({response.status_code})")
    try:
        executions = response.json()["executions"] if response.status_code == 200 else None
    except (ValueError, KeyError, TypeError):
        executions = None
    if not isinstance(executions, list):
        raise IssuerError(f"{url} answered {response.status_code} without an action log")
    return [record for record in reversed(executions) if isinstance(record, dict)]


def _header(record: dict[str, Any]) -> str:
    who = record.get("user_email") or f"client {record.get('client_id')}"
    via = f" via {grant_of(record['protocol'])}" if record.get("protocol") else ""
    client = f" for client {record['client_id']}" if record.get("user_email") else ""
    outcome = record.get("outcome") or ("failed" if record.get("error") else "ok")
    duration = float(record.get("duration_ms") or 0)
    return (
        f"{record.get('timestamp', record.get('started_at'))} [{record.get('action')}]"
        f" {who}{via}{client}: {outcome} {duration:.1f} ms"
        f" (execution {record.get('execution_id')})"
    )


def record_lines(record: dict[str, Any]) -> list[str]:
    """One record as text: a header, then its output, claims, warnings, deny and error."""
    lines = [_header(record)]
    lines += [f"  | {line}" for line in record.get("logs") or []]
    for target, claims in (record.get("claims_added") or {}).items():
        lines.append(f"  claims added to {target}: {json.dumps(claims, sort_keys=True)}")
    lines += [f"  warning: {warning}" for warning in record.get("warnings") or []]
    if record.get("deny_reason") is not None:
        lines.append(f"  denied: {record['deny_reason']}")
    if record.get("error") is not None:
        where = (
            f" (at {record['error_file']}:{record.get('error_line')})"
            if record.get("error_file")
            else ""
        )
        lines.append(f"  error: {record['error']}{where}")
    return [printable(line) for line in lines]


def _key(record: dict[str, Any]) -> tuple[Any, ...]:
    return (record.get("execution_id"), record.get("action"), record.get("started_at"))


def follow_logs(
    url: str,
    *,
    token: str | None = None,
    follow: bool = False,
    json_lines: bool = False,
    interval_seconds: float = 1.0,
    stream: TextIO,
    stop: threading.Event | None = None,
    client_factory: Callable[[], httpx.Client] = lambda: httpx.Client(timeout=10.0),
) -> None:
    """Print the action log of the issuer at ``url``; with ``follow``, keep polling every
    ``interval_seconds`` and print only records not seen yet, until ``stop`` is set."""
    stop = stop or threading.Event()
    seen: set[tuple[Any, ...]] = set()
    with client_factory() as client:
        while True:
            records = fetch_records(client, url, token)
            for record in records:
                if _key(record) in seen:
                    continue
                if json_lines:
                    stream.write(json.dumps(record, sort_keys=True) + "\n")
                else:
                    stream.write("\n".join(record_lines(record)) + "\n")
            stream.flush()
            # Only what the server still holds can come back; older keys can go.
            seen = {_key(record) for record in records}
            if not follow or stop.wait(interval_seconds):
                return
