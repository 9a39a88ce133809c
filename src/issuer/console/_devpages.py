"""The developer console's HTML: every value escaped, secrets never written."""

from __future__ import annotations

import json
from html import escape
from typing import TYPE_CHECKING, Any

from ._inspect import TokenReport

if TYPE_CHECKING:
    from ..core._directory import Directory
    from ..login._login import TokenSet
    from ..tokens._keys import KeyRing

__all__ = [
    "CSRF_SLOT",
    "alert",
    "csrf_field",
    "directory",
    "execution",
    "facts",
    "frame",
    "inspector",
    "live",
    "options",
    "pre",
    "token_set",
]

# Where a form's hidden CSRF field goes; the console fills in this browser's token.
CSRF_SLOT = "<!--csrf-->"
_TABS = (
    ("live", "/console/live", "Live logins"),
    ("try", "/console/try", "Try an action"),
    ("tokens", "/console/tokens", "Tokens"),
    ("directory", "/console/directory", "Directory"),
)
_BANNER = (
    '<p class="devtool" role="note"><strong>Development tool.</strong> This console shows'
    " users, tokens and action output of a local issuer. Never expose it.</p>"
)


def csrf_field(token: str) -> str:
    return f'<input type="hidden" name="csrf_token" value="{escape(token)}">'


def frame(title: str, current: str, body: str) -> str:
    """The banner, the tabs and ``body`` under ``title``."""
    current_mark = ' aria-current="page"'
    tabs = "".join(
        f'<a href="{href}"{current_mark if name == current else ""}>{label}</a>'
        for name, href, label in _TABS
    )
    return f'{_BANNER}<nav class="tabs">{tabs}</nav><h1>{escape(title)}</h1>\n{body}'


def alert(text: str) -> str:
    return f'<p class="alert" role="alert">{escape(text)}</p>'


def pre(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, indent=2, sort_keys=True)
    return f"<pre>{escape(text)}</pre>"


def facts(rows: list[tuple[str, str]]) -> str:
    items = "".join(f"<div><dt>{escape(k)}</dt><dd>{v}</dd></div>" for k, v in rows)
    return f'<dl class="facts">{items}</dl>'


def _codes(words: Any) -> str:
    return ", ".join(f"<code>{escape(str(w))}</code>" for w in words) or "none"


def options(values: list[tuple[str, str]], selected: str | None = None) -> str:
    mark = {True: " selected", False: ""}
    return "".join(
        f'<option value="{escape(v)}"{mark[v == selected]}>{escape(label)}</option>'
        for v, label in values
    )


def directory(d: Directory, keys: KeyRing) -> str:
    """Users (with "get tokens"), clients, APIs and keys; client secrets never shown."""
    clients = options([(c.client_id, c.name) for c in d.clients.values()])
    apis = options([("", "no API"), *((a.identifier, a.identifier) for a in d.apis.values())])
    parts = ["<h2>Users</h2>"]
    for user in d.users.values():
        parts.append(
            f'<section class="entry" data-user="{escape(user.email)}"><h3>{escape(user.email)}</h3>'
            + facts(
                [
                    ("user_id", f"<code>{escape(user.user_id)}</code>"),
                    ("roles", _codes(user.roles)),
                    ("app_metadata", pre(user.app_metadata)),
                    ("user_metadata", pre(user.user_metadata)),
                ]
            )
            + f'<form method="post" action="/console/login-as" class="inline">{CSRF_SLOT}'
            f'<input type="hidden" name="email" value="{escape(user.email)}">'
            f'<label>Client <select name="client_id">{clients}</select></label>'
            f'<label>API <select name="audience">{apis}</select></label>'
            '<button type="submit">Get tokens as this user</button></form></section>'
        )
    parts.append("<h2>Clients</h2>")
    for client in d.clients.values():
        kind = "public" if client.is_public else "confidential (secret hidden)"
        origin = "registered (RFC 7591)" if client.registered else "configured"
        grants = [f"{g.api}: {' '.join(g.scopes)}" for g in d.client_grants.values()
                  if g.client_id == client.client_id]  # fmt: skip
        parts.append(
            f'<section class="entry"><h3>{escape(client.name)} '
            f"<code>{escape(client.client_id)}</code></h3>"
            + facts(
                [
                    ("kind", f"{kind}, {origin}"),
                    ("grant types", _codes(client.grant_types)),
                    ("redirect URIs", _codes(client.redirect_uris)),
                    ("client credentials grants", _codes(grants)),
                ]
            )
            + "</section>"
        )
    parts.append("<h2>APIs</h2>")
    for api in d.apis.values():
        parts.append(
            f'<section class="entry"><h3><code>{escape(api.identifier)}</code></h3>'
            + facts(
                [
                    ("scopes", _codes(api.scopes)),
                    ("token dialect", escape(api.token_dialect)),
                    ("enforce RBAC", "on" if api.enforce_rbac else "off"),
                    ("permissions in token", _permissions_in_token(api.add_permissions_in_token)),
                    ("role permissions", pre({k: list(v) for k, v in api.permissions.items()})),
                ]
            )
            + "</section>"
        )
    parts.append("<h2>Signing keys</h2>")
    active = keys.active.kid
    rows = [
        (
            "active" if k["kid"] == active else "published (next or retired)",
            f"<code>{escape(k['kid'])}</code> {escape(k['alg'])}",
        )
        for k in keys.jwks()["keys"]
    ]
    parts.append(facts(rows))
    return "".join(parts)


def _permissions_in_token(value: bool | None) -> str:
    return "when role permissions exist" if value is None else ("on" if value else "off")


def report(name: str, result: TokenReport) -> str:
    """One decoded token: signature check, times, header, claims and derived scopes."""
    kid = result.kid or "(no kid)"
    rows = [
        ("signature", f'<strong class="sig">{escape(result.signature)}</strong>'),
        ("key", f"<code>{escape(kid)}</code>"),
        *((n, escape(text)) for n, text in result.times.items()),
        ("scopes for claimguard", (result.scopes_error and escape(result.scopes_error))
         or _codes(result.scopes)),
        ("header", pre(result.header)),
        ("claims", pre(result.claims)),
    ]  # fmt: skip
    opening = f'<section class="entry token" data-token="{escape(name)}">'
    return f"{opening}<h3>{escape(name)}</h3>{facts(rows)}</section>"


def token_set(title: str, tokens: TokenSet, reports: dict[str, TokenReport]) -> str:
    raw = facts([(n, f"<pre>{escape(str(getattr(tokens, n)))}</pre>") for n in reports])
    decoded = "".join(report(n, r) for n, r in reports.items())
    return f"<h2>{escape(title)}</h2><p>scope: {_codes(tokens.scope.split())}</p>{decoded}{raw}"


def inspector(token: str, namespaces: str, result: TokenReport | None) -> str:
    form = (
        f'<form method="post" action="/console/tokens">{CSRF_SLOT}'
        '<div class="field"><label for="token">Token</label>'
        f'<textarea id="token" name="token" rows="5" required>{escape(token)}</textarea></div>'
        '<div class="field"><label for="namespaces">Claim namespaces (space-separated)</label>'
        f'<input id="namespaces" name="namespaces" value="{escape(namespaces)}"></div>'
        '<div class="actions"><button type="submit">Inspect</button></div></form>'
    )
    return form + ("" if result is None else report("token", result))


def live() -> str:
    """The live stream's filters and list; console.js fills it from ``/console/events``."""
    return (
        '<form class="inline" role="search" id="filters">'
        '<label>User <input type="search" id="filter-user" autocomplete="off"></label>'
        '<label>Action <input type="search" id="filter-action" autocomplete="off"></label>'
        "</form>"
        '<p class="message" id="stream-state">Waiting for logins…</p>'
        '<ol class="stream" id="stream"></ol>'
    )


def execution(entry: dict[str, Any]) -> str:
    """One login: who, how, and each action with its output, claims, deny or error."""
    head = facts(
        [
            ("time", escape(entry["time"])),
            ("user", escape(str(entry["user"] or "(none: client credentials)"))),
            ("client", f"<code>{escape(entry['client_id'])}</code>"),
            ("grant", escape(entry["grant"])),
            ("outcome", f'<span class="outcome-{escape(entry["outcome"])}">'
             f"{escape(entry['outcome'])}</span>"),
            ("duration", f"{entry['duration_ms']:g} ms"),
        ]
    )  # fmt: skip
    actions = "".join(
        f'<section class="entry"><h3>{escape(a["name"])} '
        f'<span class="outcome-{escape(a["outcome"])}">{escape(a["outcome"])}</span></h3>'
        + facts(
            [
                ("output", pre("\n".join(a["logs"])) if a["logs"] else "none"),
                ("claims added", pre(a["claims_added"])),
                *([("denied", escape(a["deny_reason"]))] if a["deny_reason"] else []),
                *([("error", escape(a["error"]))] if a["error"] else []),
                *(
                    [("raised at", f"<code>{escape(a['error_at'])}</code>")]
                    if a["error_at"]
                    else []
                ),
            ]
        )
        + "</section>"
        for a in entry["actions"]
    )
    return head + actions
