"""``Transaction``: one authorization request in flight, and the redirect that answers it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

from starlette.responses import RedirectResponse

from ..core._records import Api, Client
from ..login._sessions import Session

__all__ = ["Transaction", "authorization_response"]


@dataclass
class Transaction:
    """One authorization request on its way through login, consent, MFA and redirects."""

    client: Client
    redirect_uri: str
    params: Mapping[str, str]
    csrf_token: str
    api: Api | None = None
    session: Session | None = None


def authorization_response(
    redirect_uri: str, params: Mapping[str, str | None], *, issuer: str
) -> RedirectResponse:
    """The redirect that answers an authorization request with ``params``."""
    # RFC 9207 §2: every authorization response names its issuer, success or error.
    query = urlencode({**{k: v for k, v in params.items() if v is not None}, "iss": issuer})
    separator = "&" if "?" in redirect_uri else "?"
    # 303 so the browser follows the redirect with GET after the form POST.
    return RedirectResponse(f"{redirect_uri}{separator}{query}", status_code=303)
