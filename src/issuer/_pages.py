"""Server-rendered HTML: the login page, the consent page and plain message pages."""

from __future__ import annotations

import html
from collections.abc import Sequence
from functools import cache
from importlib.resources import files
from string import Template

from starlette.responses import HTMLResponse

from ._records import Api, Client

__all__ = ["consent_page", "login_page", "message_page"]

# The pages load nothing from elsewhere and may not be framed.
_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline';"
    " frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
# RFC 7591 §5: a registered client's name is whatever it said at registration, so it is
# never shown without this mark, whichever configured app it claims to be.
_UNVERIFIED = "unverified app, registered itself"
_SCOPE_MEANINGS = {
    "openid": "sign you in with your account",
    "profile": "see your name",
    "email": "see your email address",
    "offline_access": "stay signed in: refresh tokens that keep working after this login",
}


@cache
def _template(name: str) -> Template:
    return Template(files(__package__).joinpath("templates", name).read_text(encoding="utf-8"))


# A registered client's mark comes before its self-asserted name, so no name, however
# long or blank-looking its end, can push the mark out of sight (RFC 7591 §5).
def _client_title(client: Client) -> str:
    return f"({_UNVERIFIED}) {client.name}" if client.registered else client.name


def _client_html(client: Client) -> str:
    name = f"<strong>{html.escape(client.name)}</strong>"
    if not client.registered:
        return name
    return f'<span class="warning">({html.escape(_UNVERIFIED)})</span> {name}'


def _api_html(api: Api | None) -> str:
    if api is None:
        return "none (sign-in only)"
    return f"<code>{html.escape(api.identifier)}</code>"


def _scope_html(scope: str) -> str:
    meaning = _SCOPE_MEANINGS.get(scope)
    suffix = "" if meaning is None else f": {html.escape(meaning)}"
    return f"<li><code>{html.escape(scope)}</code>{suffix}</li>"


def login_page(
    *,
    action: str,
    transaction: str,
    csrf_token: str,
    client: Client,
    api: Api | None,
    email: str = "",
    error: str | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """The login form for a login at ``client`` for ``api``."""
    body = _template("login.html").substitute(
        action=html.escape(action),
        transaction=html.escape(transaction),
        csrf_token=html.escape(csrf_token),
        title=html.escape(_client_title(client)),
        client=_client_html(client),
        api=_api_html(api),
        email=html.escape(email),
        error="" if error is None else f'<p class="error" role="alert">{html.escape(error)}</p>',
    )
    return HTMLResponse(body, status_code=status_code, headers={**_HEADERS, **(headers or {})})


def consent_page(
    *,
    action: str,
    consent: str,
    csrf_token: str,
    client: Client,
    api: Api | None,
    scopes: Sequence[str],
    user_email: str,
    redirect_uri: str,
) -> HTMLResponse:
    """The question to ``user_email``: may ``client`` have ``scopes`` at ``api``?"""
    body = _template("consent.html").substitute(
        action=html.escape(action),
        consent=html.escape(consent),
        csrf_token=html.escape(csrf_token),
        title=html.escape(_client_title(client)),
        client=_client_html(client),
        api=_api_html(api),
        scopes="".join(_scope_html(s) for s in scopes) or "<li>none</li>",
        user=html.escape(user_email),
        redirect_uri=html.escape(redirect_uri),
    )
    return HTMLResponse(body, headers=_HEADERS)


def message_page(title: str, message: str, *, status_code: int = 200) -> HTMLResponse:
    body = _template("message.html").substitute(
        title=html.escape(title), message=html.escape(message)
    )
    return HTMLResponse(body, status_code=status_code, headers=_HEADERS)
