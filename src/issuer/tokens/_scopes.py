"""Which of the requested scopes a token gets: client grants and RBAC (RFC 6749 §3.3).

The authorization server may issue fewer scopes than were requested and then says so in
the token response's ``scope`` (RFC 6749 §3.3, §5.1); both rules below narrow, and the
``scope`` of the response and of the token is what is left. Refusals and narrowings are
logged on ``issuer.scopes`` with client, API and scope names only, never a token.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from ..core._directory import Directory
from ..core._errors import OAuthError
from ..core._records import Api, Client, User

__all__ = [
    "OIDC_SCOPES",
    "SCOPES_LOGGER",
    "client_scopes",
    "final_scopes",
    "grantable_scopes",
    "unique_scopes",
    "user_scopes",
]

OIDC_SCOPES = ("openid", "profile", "email", "offline_access")
SCOPES_LOGGER = "issuer.scopes"

_logger = logging.getLogger(SCOPES_LOGGER)


def _unique(words: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(w for w in words if w))


def unique_scopes(words: Sequence[str]) -> list[str]:
    """``words`` without blanks and repeats, in their first order."""
    return _unique(words)


def final_scopes(granted: Sequence[str], added: Sequence[str], removed: Sequence[str]) -> list[str]:
    """The scopes of ``granted`` with those actions ``added``, less those they ``removed``."""
    return [s for s in _unique([*granted, *added]) if s not in removed]


def grantable_scopes(requested: Sequence[str], api: Api | None) -> list[str]:
    """The requested scopes a login can grant: OpenID Connect's and the API's own."""
    return [
        s for s in _unique(requested) if s in OIDC_SCOPES or (api is not None and s in api.scopes)
    ]


def user_scopes(api: Api | None, user: User, requested: Sequence[str]) -> list[str]:
    """The scopes a user-facing grant issues: the OpenID Connect scopes asked for, and the
    API scopes asked for that the API defines. With the API's ``enforce_rbac``, the API
    scopes are further narrowed to the user's permissions (Auth0 RBAC); the OpenID Connect
    scopes are no API permissions and stay."""
    defined = grantable_scopes(requested, api)
    if api is None or not api.enforce_rbac:
        return defined
    permitted = set(api.permissions_for(user.roles))
    granted = [s for s in defined if s in OIDC_SCOPES or s in permitted]
    withheld = [s for s in defined if s not in granted]
    if withheld:
        _logger.info(
            "RBAC withheld scopes %s of API %r from user %s: not among their permissions",
            " ".join(withheld),
            api.identifier,
            user.user_id,
        )
    return granted


def client_scopes(
    directory: Directory, client: Client, api: Api, requested: Sequence[str]
) -> list[str]:
    """The scopes a ``client_credentials`` token for ``api`` carries (RFC 6749 §4.4).

    The client needs a grant for the API (Auth0's client grants), else ``access_denied``
    (403). A scope the API does not define is ``invalid_scope`` (RFC 6749 §5.2); the
    others are narrowed to the grant's, and with none requested the grant's are issued.
    """
    grant = directory.client_grant(client.client_id, api.identifier)
    if grant is None:
        _logger.warning(
            "client_credentials refused: client %r has no grant for API %r",
            client.client_id,
            api.identifier,
        )
        raise OAuthError(
            "access_denied",
            f"client {client.client_id!r} is not authorized to access API {api.identifier!r};"
            " it needs a client grant for this API",
            status_code=403,
        )
    asked = _unique(requested)
    unknown = [s for s in asked if s not in api.scopes]
    if unknown:
        _logger.warning(
            "client_credentials refused: client %r asked for scope %r, which API %r does not"
            " define",
            client.client_id,
            unknown[0],
            api.identifier,
        )
        raise OAuthError("invalid_scope", f"the API does not define scope {unknown[0]!r}")
    if not asked:
        return list(grant.scopes)
    granted = [s for s in asked if s in grant.scopes]
    withheld = [s for s in asked if s not in grant.scopes]
    if withheld:
        _logger.info(
            "client_credentials: scopes %s of API %r are not granted to client %r; issued %r",
            " ".join(withheld),
            api.identifier,
            client.client_id,
            " ".join(granted),
        )
    return granted
