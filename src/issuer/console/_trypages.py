"""The developer console's "Try an action" page: the pick, the event, the result."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING

from ._devpages import CSRF_SLOT, facts, options, pre

if TYPE_CHECKING:
    from ..actions._actions import Action
    from ..core._directory import Directory
    from ._tryaction import TryResult

__all__ = ["Offered", "TryChoice", "try_form", "try_result"]


@dataclass(frozen=True)
class Offered:
    """What the page lets one pick from: the directory's users, clients and APIs, and the
    registered actions."""

    directory: Directory
    actions: Sequence[Action]


@dataclass(frozen=True)
class TryChoice:
    """The action, user, client and API picked on the "Try an action" page."""

    action: str
    email: str
    client_id: str
    audience: str | None

    @classmethod
    def of(cls, params: Mapping[str, str], offered: Offered) -> TryChoice:
        """What ``params`` pick, the first of each when they pick nothing."""
        d, actions = offered.directory, offered.actions
        first_api = next(iter(d.apis), None)
        return cls(
            action=params.get("action") or (actions[0].name if actions else ""),
            email=params.get("email") or next(iter(d.users), ""),
            client_id=params.get("client_id") or next(iter(d.clients), ""),
            audience=params.get("audience", first_api) or None,
        )


def _choices(offered: Offered, chosen: TryChoice) -> str:
    d = offered.directory
    actions = [(a.name, f"{a.name} ({a.trigger})") for a in offered.actions]
    apis = [("", "no API"), *((a, a) for a in d.apis)]
    return (
        f'<label>Action <select name="action">{options(actions, chosen.action)}</select></label>'
        f'<label>User <select name="email">{options([(u, u) for u in d.users], chosen.email)}'
        "</select></label>"
        f'<label>Client <select name="client_id">'
        f"{options([(c, c) for c in d.clients], chosen.client_id)}</select></label>"
        f'<label>API <select name="audience">{options(apis, chosen.audience or "")}'
        "</select></label>"
    )


def try_form(offered: Offered, chosen: TryChoice, event: str) -> str:
    """Pick, load the event, edit it, run: a GET form reloads the event for a new pick."""
    choices = _choices(offered, chosen)
    return (
        f'<form method="get" action="/console/try" class="inline">{choices}'
        '<button type="submit" class="secondary">Load event</button></form>'
        f'<form method="post" action="/console/try" id="try">{CSRF_SLOT}'
        + "".join(
            f'<input type="hidden" name="{n}" value="{escape(v or "")}">'
            for n, v in (
                ("action", chosen.action),
                ("email", chosen.email),
                ("client_id", chosen.client_id),
                ("audience", chosen.audience),
            )
        )
        + '<div class="field"><label for="event">Event (JSON; secrets are filled in by the'
        " issuer)</label>"
        f'<textarea id="event" name="event" rows="12">{escape(event)}</textarea></div>'
        f'<div class="actions"><button type="submit">Run {escape(chosen.action)}</button></div>'
        "</form>"
    )


def try_result(action: str, result: TryResult) -> str:
    """Claims per token, output, metadata and scope changes, deny or error."""
    rows = [
        ("ID token claims", pre(result.claims.get("id_token", {}))),
        ("access token claims", pre(result.claims.get("access_token", {}))),
        ("output", pre("\n".join(result.logs)) if result.logs else "none"),
        ("metadata changes (not applied)", pre(result.metadata)),
        ("scope changes", pre(result.scopes)),
    ]
    if result.deny_reason is not None:
        rows.append(("denied", f'<span class="outcome-denied">{escape(result.deny_reason)}</span>'))
    if result.error is not None:
        where = "" if result.error_at is None else f" at <code>{escape(result.error_at)}</code>"
        rows.append(("error", f'<span class="outcome-failed">{escape(result.error)}</span>{where}'))
    return (
        f'<section class="entry" id="result"><h2>Result of {escape(action)}</h2>'
        f"{facts(rows)}</section>"
    )
