"""The logout endpoint, as Auth0's ``/v2/logout?returnTo=`` and OpenID Connect
RP-Initiated Logout's ``/oidc/logout?post_logout_redirect_uri=``.

The return URL must equal, as a whole string, one of the named client's
``allowed_logout_urls`` or, without ``client_id``, one of the issuer's own; anything else
gets a 400 page and no redirect. An origin or prefix match would make logout an open
redirector to any path on any client's host (RFC 9700 §4.11; RP-Initiated Logout 1.0 §3
requires an exact match with a registered value). The OpenID Connect endpoint passes a
given ``state`` back on that redirect (RP-Initiated Logout 1.0 §3); Auth0's ``/v2/logout``
has no ``state``.

Either ends the browser's login session: the server forgets it and the cookie is cleared,
whether or not the return URL is allowed.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ..core._directory import Directory
from ..core._errors import OAuthError
from ..core._params import single_params
from ._csrf import CSRF_COOKIE
from ._pages import message_page
from ._sessions import SessionStore
from ._signon import SessionCookie

__all__ = ["end_session"]

_logger = logging.getLogger("issuer.logout")
_RETURN_PARAMETERS = ("returnTo", "post_logout_redirect_uri")


def end_session(
    request: Request,
    directory: Directory,
    tenant_urls: Sequence[str],
    *,
    return_state: bool,
    sessions: SessionStore,
    cookie: SessionCookie,
) -> Response:
    """Log the browser out: end its session in ``sessions`` and clear its cookies, then show
    the logged-out page or redirect to the requested return URL if it is allowed, with the
    request's ``state`` when ``return_state``."""
    sessions.end(cookie.read(request))
    try:
        params = single_params(request.query_params.multi_items())
        state = params.get("state") if return_state else None
        response = _respond(params, directory, tenant_urls, state=state)
    except OAuthError as exc:
        _logger.warning("logout refused: %s", exc.description)
        response = message_page("Invalid request", exc.description, status_code=400)
    response.delete_cookie(CSRF_COOKIE, path="/")
    cookie.clear(response)
    return response


def _respond(
    params: Mapping[str, str],
    directory: Directory,
    tenant_urls: Sequence[str],
    *,
    state: str | None,
) -> Response:
    targets = {params[name] for name in _RETURN_PARAMETERS if name in params}
    if not targets:
        return message_page("Logged out", "You are logged out.")
    if len(targets) > 1:
        raise OAuthError("invalid_request", "returnTo and post_logout_redirect_uri differ")
    (target,) = targets
    client_id = params.get("client_id")
    if client_id is None:
        allowed: Sequence[str] = tenant_urls
        owner = "this issuer (no client_id was given)"
    else:
        client = directory.clients.get(client_id)
        if client is None:
            raise OAuthError("invalid_request", f"unknown client_id {client_id!r}")
        allowed, owner = client.allowed_logout_urls, f"client {client_id!r}"
    if target not in allowed:
        _logger.warning(
            "logout redirect refused: %r is not an allowed logout URL of %s", target[:300], owner
        )
        return message_page(
            "Logout URL not allowed",
            f"You are logged out, but {target} is not an allowed logout URL of {owner},"
            " so you stay here. Add it to allowed_logout_urls to allow it.",
            status_code=400,
        )
    if state is not None:
        target += ("&" if "?" in target else "?") + urlencode({"state": state})
    return RedirectResponse(target, status_code=303)
