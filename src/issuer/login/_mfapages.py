"""The pages of the second factor: the code form and enrolment (secret, QR code, code)."""

from __future__ import annotations

import html

from starlette.responses import HTMLResponse

from ._pages import _page, _template

__all__ = ["code_page", "enrolment_page"]


def _error(error: str | None) -> str:
    return "" if error is None else f'<p class="alert" role="alert">{html.escape(error)}</p>'


def code_page(
    *,
    action: str,
    transaction: str,
    csrf_token: str,
    user_email: str,
    error: str | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """Asks ``user_email`` for a one-time code."""
    main = _template("mfa.html").substitute(
        action=html.escape(action),
        transaction=html.escape(transaction),
        csrf_token=html.escape(csrf_token),
        user=html.escape(user_email),
        error=_error(error),
    )
    return _page("Enter your code", main, status_code=status_code, headers=headers)


def enrolment_page(
    *,
    action: str,
    transaction: str,
    csrf_token: str,
    user_email: str,
    secret: str,
    qr_svg: str,
    error: str | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """Shows a new secret as text and QR code (``qr_svg``: markup made by segno from the
    ``otpauth://`` URI, no script or style) and asks for a first code."""
    main = _template("enrol.html").substitute(
        action=html.escape(action),
        transaction=html.escape(transaction),
        csrf_token=html.escape(csrf_token),
        user=html.escape(user_email),
        secret=html.escape(secret),
        qr=qr_svg,
        error=_error(error),
    )
    return _page("Set up a second factor", main, status_code=status_code, headers=headers)
