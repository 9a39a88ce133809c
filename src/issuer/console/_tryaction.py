"""Running one action against an event without logging anyone in, as Auth0's "Test" does.

The action runs through :func:`run_flow` on a copy of the event with its own cache and
log, so nothing is kept: metadata updates are reported, never applied to the user.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..actions._actions import Action
from ..actions._runtime import ActionLog, FlowContext, run_flow
from ..core._activity import MASK, mask
from ..core._errors import ActionFailed
from ..login._loginevent import post_login_event
from ..login._loginrequest import LoginRequest
from ..oauth._grants import resolve_api

if TYPE_CHECKING:
    from .._issuer import Issuer

__all__ = ["TryResult", "parse_event", "sample_event", "try_action"]


@dataclass
class TryResult:
    """What one trial run did; every text already has the secrets masked."""

    claims: dict[str, dict[str, Any]] = field(default_factory=dict)
    logs: list[str] = field(default_factory=list)
    metadata: dict[str, dict[str, Any]] = field(default_factory=dict)
    scopes: dict[str, list[str]] = field(default_factory=dict)
    deny_reason: str | None = None
    error: str | None = None
    error_at: str | None = None


def sample_event(issuer: Issuer, email: str, client_id: str, audience: str | None) -> str:
    """The event a login of ``email`` at ``client_id`` for ``audience`` would get, as JSON,
    with each secret's value masked."""
    client = issuer.directory.clients[client_id]
    api = None if not audience else resolve_api(issuer.directory, audience)
    request = LoginRequest(
        user=issuer.directory.user(email),
        client=client,
        api=api,
        requested_scopes=["openid", "profile", "email"],
        protocol="oidc-basic-profile",
        auth_time=issuer.clock(),
    )
    secrets = dict.fromkeys(issuer.secret_names(), MASK)
    return json.dumps(post_login_event(request, request.requested_scopes, secrets), indent=2)


def parse_event(text: str) -> dict[str, Any]:
    """The event a developer edited, which must be a JSON object."""
    try:
        event = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"the event is not valid JSON: {exc}") from None
    except RecursionError:
        raise ValueError("the event is nested too deeply") from None
    if not isinstance(event, dict):
        raise ValueError("the event must be a JSON object")
    for name in _OBJECT_MEMBERS:
        if name in event and not isinstance(event[name], dict):
            raise ValueError(f"event.{name} must be a JSON object")
    return event


# The members of Auth0's post-login event that actions read as objects (event.user.email).
_OBJECT_MEMBERS = (
    "user",
    "client",
    "request",
    "transaction",
    "authorization",
    "resource_server",
    "stats",
    "secrets",
    "connection",
    "tenant",
)


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


async def try_action(
    action: Action,
    event: Mapping[str, Any],
    *,
    secrets: Mapping[str, str],
    budget_seconds: float,
    clock: Callable[[], float],
) -> TryResult:
    """Run ``action`` once on a copy of ``event`` (its ``secrets`` are the issuer's)."""
    trial = copy.deepcopy(dict(event))
    trial["secrets"] = dict(secrets)  # the page never shows them, so it never sends them
    user = _object(trial.get("user"))
    client = _object(trial.get("client"))
    context = FlowContext(
        client_id=str(client.get("client_id", "")),
        protocol="console-test",
        user_id=None if user.get("user_id") is None else str(user.get("user_id")),
        user_email=None if user.get("email") is None else str(user.get("email")),
    )
    log = ActionLog(max_records=1)
    hidden: Sequence[str] = list(secrets.values())
    result = TryResult()
    try:
        changes = await run_flow(
            [action],
            trigger=action.trigger,
            event=trial,
            budget_seconds=budget_seconds,
            caches={},
            log=log,
            clock=clock,
            context=context,
        )
    except ActionFailed:
        changes = None
    record = log.records()[0]
    result.logs = [mask(line, hidden) for line in record.logs]
    result.claims = record.claims_added
    if record.error is not None:
        result.error = mask(record.error, hidden)
        if record.error_file and record.error_line:
            result.error_at = f"{record.error_file}:{record.error_line}"
    if changes is not None:
        result.deny_reason = (
            None if changes.deny_reason is None else mask(changes.deny_reason, hidden)
        )
        result.metadata = {
            "app_metadata": changes.app_metadata,
            "user_metadata": changes.user_metadata,
        }
        result.scopes = {"added": changes.scopes_added, "removed": changes.scopes_removed}
    return result
