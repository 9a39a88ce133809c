"""Server-rendered HTML: the login page, the consent page and plain message pages."""

from __future__ import annotations

import base64
import hashlib
import html
from collections.abc import Sequence
from functools import cache
from importlib.resources import files
from string import Template

from starlette.responses import HTMLResponse

from ..core._records import Api, Client

__all__ = ["consent_page", "console_page", "login_page", "message_page"]


@cache
def _text(name: str) -> str:
    return files("issuer").joinpath("templates", name).read_text(encoding="utf-8")


def _template(name: str) -> Template:
    return Template(_text(name))


def _hash(name: str) -> str:
    digest = hashlib.sha256(_text(name).encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


def _style_hash() -> str:
    return _hash("page.css")


# The pages load nothing from elsewhere and may not be framed. Their one stylesheet is
# allowed by its hash (CSP Level 3 §8.3), not by 'unsafe-inline': injected markup can
# style nothing. No form-action: the login form's 303 goes on to the client's
# redirect_uri, which browsers would check against it.
_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": f"default-src 'none'; style-src {_style_hash()};"
    " base-uri 'none'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
# RFC 7591 §5: a registered client's name is whatever it said at registration, so it is
# never shown without this mark, whichever configured app it claims to be.
_UNVERIFIED = "unverified app, registered itself"
_NOTICE = (
    '<p class="notice" role="note">This app is unverified: it registered itself with this'
    " issuer, and its name is only what the app says it is. Go on only if you started this"
    " login yourself.</p>"
)
_SCOPE_MEANINGS = {
    "openid": "sign you in with your account",
    "profile": "see your name",
    "email": "see your email address",
    "offline_access": "stay signed in: refresh tokens that keep working after this login",
}


def _page(
    title: str,
    main: str,
    *,
    wide: bool = False,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    variant: str = "",
) -> HTMLResponse:
    body = _template("layout.html").substitute(
        title=html.escape(title),
        style=_text("page.css"),
        wide=" wide" if wide else variant,
        main=main,
    )
    return HTMLResponse(body, status_code=status_code, headers={**_HEADERS, **(headers or {})})


# A registered client's mark comes before its self-asserted name, so no name, however
# long or blank-looking its end, can push the mark out of sight (RFC 7591 §5).
def _client_title(client: Client) -> str:
    return f"({_UNVERIFIED}) {client.name}" if client.registered else client.name


def _client_html(client: Client) -> str:
    name = f"<strong>{html.escape(client.name)}</strong>"
    if not client.registered:
        return name
    return f'<span class="badge" title="{_UNVERIFIED}">Unverified app</span> {name}'


def _notice(client: Client) -> str:
    return _NOTICE if client.registered else ""


def _api_html(api: Api | None) -> str:
    if api is None:
        return "none (sign-in only)"
    return f"<code>{html.escape(api.identifier)}</code>"


def _scope_html(scope: str) -> str:
    meaning = _SCOPE_MEANINGS.get(scope)
    suffix = "" if meaning is None else f"<span>: {html.escape(meaning)}</span>"
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
    main = _template("login.html").substitute(
        action=html.escape(action),
        transaction=html.escape(transaction),
        csrf_token=html.escape(csrf_token),
        client=_client_html(client),
        notice=_notice(client),
        api=_api_html(api),
        email=html.escape(email),
        # After a failed try the email is kept, so the cursor waits in the password field.
        email_focus="" if email else " autofocus",
        password_focus=" autofocus" if email else "",
        error="" if error is None else f'<p class="alert" role="alert">{html.escape(error)}</p>',
    )
    title = f"Log in to {_client_title(client)}"
    return _page(title, main, status_code=status_code, headers=headers)


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
    main = _template("consent.html").substitute(
        action=html.escape(action),
        consent=html.escape(consent),
        csrf_token=html.escape(csrf_token),
        client=_client_html(client),
        notice=_notice(client),
        api=_api_html(api),
        scopes="".join(_scope_html(s) for s in scopes) or "<li>none</li>",
        user=html.escape(user_email),
        redirect_uri=html.escape(redirect_uri),
    )
    return _page(f"Allow {_client_title(client)}?", main, wide=True)


def message_page(title: str, message: str, *, status_code: int = 200) -> HTMLResponse:
    """A page that only tells the browser ``title`` and ``message``."""
    main = _template("message.html").substitute(
        heading=html.escape(title), message=html.escape(message)
    )
    return _page(title, main, status_code=status_code)


# The console's one script is allowed by its hash like the stylesheet; connect-src 'self'
# lets it open the live stream (EventSource) on this origin and nowhere else. Forms post
# only to the console itself.
_CONSOLE_CSP = (
    f"default-src 'none'; style-src {_style_hash()}; script-src {_hash('console.js')};"
    " connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)


def console_page(
    title: str, main: str, *, script: bool = False, status_code: int = 200
) -> HTMLResponse:
    """A developer console page: ``main`` (already escaped) in the login page's layout,
    with the console's script when ``script`` is true."""
    if script:
        main += f"\n<script>{_text('console.js')}</script>"
    return _page(
        title,
        main,
        status_code=status_code,
        variant=" console",
        headers={"Content-Security-Policy": _CONSOLE_CSP},
    )
