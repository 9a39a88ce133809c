"""Token dialects: where each provider puts the client, the scopes and the user's roles
in an access token, so that a resource server written for that provider can be tried
against this issuer.

Each dialect takes the claims every access token has (``iss``, ``sub``, ``aud``, ``iat``,
``exp``, ``jti``, ``scope`` …) and moves or adds what its provider documents:

- ``auth0``: ``azp`` is the client; header ``typ`` ``JWT``;
- ``rfc9068``: ``client_id`` is the client; header ``typ`` ``at+jwt`` (RFC 9068 §2.1);
- ``keycloak``: ``typ`` ``Bearer``, ``azp``, the user's roles in ``realm_access.roles``;
- ``okta``: ``scp`` a JSON list, ``cid`` the client, ``uid`` the user, roles as ``groups``;
- ``entra``: Entra ID v2, ``scp`` a space-separated string, roles as ``roles``, ``azp``,
  ``tid``, ``ver`` ``2.0``;
- ``cognito``: no ``aud``; ``client_id``, ``token_use`` ``access``, roles as
  ``cognito:groups``.

The claims a dialect sets are the issuer's: they replace an action's claims of the same
name, so that a token's client, scopes and roles are always the ones the login granted.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..core._records import TokenDialect

__all__ = ["ENTRA_TENANT_ID", "shape_access_token"]

# Scopes Cognito issues under their own names; every other scope names its resource server.
_COGNITO_OIDC_SCOPES = frozenset(
    {"openid", "profile", "email", "phone", "offline_access", "aws.cognito.signin.user.admin"}
)
# The tenant id of this issuer's tokens in the entra dialect; the one its action events name.
ENTRA_TENANT_ID = "local"


def shape_access_token(
    dialect: TokenDialect,
    payload: dict[str, Any],
    *,
    client_id: str,
    user_id: str | None,
    roles: Sequence[str],
) -> str:
    """Put ``payload`` (the common claims, ``scope`` included) into ``dialect``'s shape in
    place; returns the JWT header's ``typ``. ``user_id`` is ``None`` for a client's own
    token (client credentials)."""
    scopes = payload["scope"].split()
    names = list(roles)
    if dialect == "rfc9068":
        # RFC 9068 §2.2 names the client `client_id`.
        payload["client_id"] = client_id
        return "at+jwt"
    if dialect == "keycloak":
        # Keycloak marks access tokens with typ "Bearer" (its ID tokens say "ID").
        payload.update(typ="Bearer", azp=client_id, realm_access={"roles": names})
    elif dialect == "okta":
        del payload["scope"]
        payload.update(scp=scopes, cid=client_id)
        if user_id is not None:
            payload.update(uid=user_id, groups=names)
    elif dialect == "entra":
        del payload["scope"]
        payload.update(azp=client_id, tid=ENTRA_TENANT_ID, ver="2.0")
        # Entra puts delegated permissions in `scp` and app roles in `roles`; a token a
        # client got for itself has no `scp`.
        if scopes and user_id is not None:
            payload["scp"] = " ".join(scopes)
        if names:
            payload["roles"] = names
    elif dialect == "cognito":
        # Cognito access tokens have no `aud`: the resource server checks `client_id`, and
        # an API's own scopes are spelled `<resource server id>/<scope>`, which is what
        # keeps one API's scopes from meaning anything at another API of the same client.
        api = payload.pop("aud")
        api = api if isinstance(api, str) else api[0]
        payload["scope"] = " ".join(
            scope if scope in _COGNITO_OIDC_SCOPES else f"{api}/{scope}" for scope in scopes
        )
        payload.update(client_id=client_id, token_use="access")
        if names:
            payload["cognito:groups"] = names
    else:
        payload["azp"] = client_id
    return "JWT"
