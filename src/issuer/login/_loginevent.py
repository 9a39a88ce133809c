"""The ``event`` a post-login action receives (Auth0's Actions event object)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..core._records import Api, Client, User
from ._sessions import session_members

if TYPE_CHECKING:
    from ._loginrequest import LoginRequest

__all__ = ["client_event", "post_login_event"]


def client_event(client: Client) -> dict[str, Any]:
    return {"client_id": client.client_id, "name": client.name, "metadata": dict(client.metadata)}


def post_login_event(
    request: LoginRequest, requested: Sequence[str], secrets: Mapping[str, str]
) -> dict[str, Any]:
    """The event for ``request``, with ``requested`` scopes and ``secrets`` as given."""
    user: User = request.user
    api: Api | None = request.api
    first_login = request.refresh_family is None
    return {
        "user": {
            "user_id": user.user_id,
            "email": user.email,
            "email_verified": user.email_verified,
            "name": user.name,
            "app_metadata": user.app_metadata,
            "user_metadata": user.user_metadata,
            "created_at": user.created_at,
        },
        "client": client_event(request.client),
        "request": dict(request.request),
        "transaction": {
            "protocol": request.protocol,
            "requested_scopes": list(requested),
            "redirect_uri": request.redirect_uri,
            "state": request.state,
            "acr_values": list(request.acr_values),
            "prompt": request.prompt,
            # RFC 9449: the thumbprint the access token will be bound to, else None.
            "dpop_jkt": request.dpop_jkt,
        },
        "authorization": {"roles": list(user.roles)},
        "resource_server": {"identifier": None if api is None else api.identifier},
        "stats": {"logins_count": user.logins_count + (1 if first_login else 0)},
        "secrets": dict(secrets),
        "connection": {"name": "Username-Password-Authentication", "strategy": "auth0"},
        "tenant": {"id": "local"},
        **session_members(request.session, request.auth_time),
    }
