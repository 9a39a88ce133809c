"""What an authorization request (RFC 6749 §4.1.1) must be before any login page is shown:
where its answer may be sent, and the response type, PKCE, ``dpop_jkt`` and API it asks for."""

from __future__ import annotations

from collections.abc import Mapping

from ..core._directory import Directory
from ..core._errors import OAuthError
from ..core._records import Api, Client
from ..tokens._dpop import valid_jkt
from ._grants import resolve_api

__all__ = ["redirect_uri_of", "requested_api"]


def redirect_uri_of(client: Client, params: Mapping[str, str]) -> str | None:
    """The registered redirect URI the request names, or the client's only one; ``None``
    when it names none or one not registered, and nothing may be redirected there."""
    redirect_uri = params.get("redirect_uri")
    if redirect_uri is None and len(client.redirect_uris) == 1:
        redirect_uri = client.redirect_uris[0]
    # RFC 6749 §3.1.2.4 / §4.1.2.1: never redirect to an unregistered URI; exact match.
    if redirect_uri is None or redirect_uri not in client.redirect_uris:
        return None
    return redirect_uri


def requested_api(
    params: Mapping[str, str],
    client: Client,
    directory: Directory,
    *,
    registration_allowed_apis: tuple[str, ...] | None,
) -> Api | None:
    """The API the request asks for (``None``: none), once the request is one this issuer
    answers; raises :class:`OAuthError`, to be redirected back to the client."""
    if params.get("response_type") != "code":
        raise OAuthError("unsupported_response_type", "only response_type=code is supported")
    if "authorization_code" not in client.grant_types:
        raise OAuthError("unauthorized_client", "the client may not use authorization_code")
    challenge = params.get("code_challenge")
    method = params.get("code_challenge_method", "plain" if challenge else None)
    if challenge is not None and method != "S256":
        raise OAuthError("invalid_request", "code_challenge_method must be S256")
    if challenge is None and client.is_public:
        raise OAuthError("invalid_request", "public clients must use PKCE (code_challenge)")
    if not valid_jkt(params.get("dpop_jkt", "0" * 43)):  # RFC 9449 §10
        raise OAuthError("invalid_request", "dpop_jkt is not a SHA-256 JWK thumbprint")
    api = resolve_api(directory, params.get("audience"), resource=params.get("resource"))
    allowed = registration_allowed_apis
    if client.registered and api is not None and not (allowed is None or api.identifier in allowed):
        # RFC 8707 §2: a resource the client may not have is invalid_target; an Auth0
        # audience (or the default API) is refused as access_denied (RFC 6749 §4.1.2.1).
        error = "invalid_target" if params.get("resource") else "access_denied"
        raise OAuthError(error, f"registered clients may not ask for the API {api.identifier!r}")
    return api
