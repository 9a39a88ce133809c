"""Server-rendered HTML: the login page and plain message pages."""

from __future__ import annotations

import html
from functools import cache
from importlib.resources import files
from string import Template

from starlette.responses import HTMLResponse

__all__ = ["login_page", "message_page"]

# The pages load nothing from elsewhere and may not be framed.
_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline';"
    " frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


@cache
def _template(name: str) -> Template:
    return Template(files(__package__).joinpath("templates", name).read_text(encoding="utf-8"))


def login_page(
    *,
    action: str,
    transaction: str,
    csrf_token: str,
    client_name: str,
    email: str = "",
    error: str | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    body = _template("login.html").substitute(
        action=html.escape(action),
        transaction=html.escape(transaction),
        csrf_token=html.escape(csrf_token),
        client_name=html.escape(client_name),
        email=html.escape(email),
        error="" if error is None else f'<p class="error" role="alert">{html.escape(error)}</p>',
    )
    return HTMLResponse(body, status_code=status_code, headers={**_HEADERS, **(headers or {})})


def message_page(title: str, message: str, *, status_code: int = 200) -> HTMLResponse:
    body = _template("message.html").substitute(
        title=html.escape(title), message=html.escape(message)
    )
    return HTMLResponse(body, status_code=status_code, headers=_HEADERS)
