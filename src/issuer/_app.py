"""The issuer's Starlette routes (DESIGN §2 endpoints)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .actions._actionlogs import action_logs_endpoint
from .console._devconsole import DevConsole
from .core._errors import OAuthError
from .core._params import read_form, request_info
from .core._records import GRANT_TYPES
from .login._logout import end_session
from .login._pause import MFA_ACR
from .oauth._authorize import AuthorizeEndpoint
from .oauth._registration import register_client
from .oauth._userinfo import userinfo as userinfo_endpoint
from .tokens._jwk import DPOP_ALGS
from .tokens._scopes import OIDC_SCOPES

if TYPE_CHECKING:
    from ._issuer import Issuer

__all__ = ["build_app"]

CLIENT_AUTH_METHODS = ("client_secret_basic", "client_secret_post", "none")
REGISTRATION_PATH = "/oidc/register"
_OPENID_ONLY = (
    "userinfo_endpoint",
    "end_session_endpoint",
    "subject_types_supported",
    "id_token_signing_alg_values_supported",
    "claims_supported",
)
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_logger = logging.getLogger("issuer.registration")
_token_logger = logging.getLogger("issuer.token")


def _error_response(error: OAuthError) -> JSONResponse:
    # RFC 6749 §5.2: JSON body, and tokens or errors are never cached.
    return JSONResponse(
        error.to_dict(), status_code=error.status_code, headers={**_NO_STORE, **error.headers}
    )


def discovery_document(issuer: Issuer) -> dict[str, Any]:
    """OpenID Connect Discovery 1.0 §3 metadata."""
    url = issuer.url
    api_scopes = [s for api in issuer.directory.apis.values() for s in api.scopes]
    return {
        "issuer": url,
        "authorization_endpoint": f"{url}authorize",
        "token_endpoint": f"{url}oauth/token",
        "userinfo_endpoint": f"{url}userinfo",
        "jwks_uri": f"{url}.well-known/jwks.json",
        "registration_endpoint": f"{url}{REGISTRATION_PATH.lstrip('/')}",
        "revocation_endpoint": f"{url}oauth/revoke",
        "end_session_endpoint": f"{url}oidc/logout",
        "scopes_supported": list(dict.fromkeys([*OIDC_SCOPES, *api_scopes])),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": list(GRANT_TYPES),
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [issuer.keys.active.alg],
        "token_endpoint_auth_methods_supported": list(CLIENT_AUTH_METHODS),
        "revocation_endpoint_auth_methods_supported": list(CLIENT_AUTH_METHODS),
        "code_challenge_methods_supported": ["S256"],
        "acr_values_supported": [MFA_ACR],
        "authorization_response_iss_parameter_supported": True,
        "dpop_signing_alg_values_supported": list(DPOP_ALGS),
        "claims_supported": [
            "sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "acr", "amr",
            "name", "nickname", "updated_at", "email", "email_verified",
        ],
    }  # fmt: skip


def authorization_server_metadata(issuer: Issuer) -> dict[str, Any]:
    """RFC 8414 §2 metadata: the discovery document without its OpenID-only members, under
    the same ``issuer`` string (RFC 8414 §3.3)."""
    document = discovery_document(issuer)
    for name in _OPENID_ONLY:
        document.pop(name)
    return document


def build_app(issuer: Issuer) -> Starlette:
    """The Starlette app serving ``issuer`` at the root of its URL."""
    authorize = AuthorizeEndpoint(issuer, clock=issuer.clock)

    async def openid_configuration(request: Request) -> Response:
        return JSONResponse(discovery_document(issuer))

    async def oauth_metadata(request: Request) -> Response:
        return JSONResponse(authorization_server_metadata(issuer))

    async def register(request: Request) -> Response:
        try:
            information = await register_client(request, issuer.directory, clock=issuer.clock)
        except OAuthError as exc:
            _logger.warning("client registration refused: %s", exc)
            return _error_response(exc)
        return JSONResponse(information, status_code=201, headers=_NO_STORE)

    async def jwks(request: Request) -> Response:
        return JSONResponse(issuer.keys.jwks(), headers={"Cache-Control": "public, max-age=60"})

    async def token(request: Request) -> Response:
        try:
            form = await read_form(request)
            tokens = await issuer.token_endpoint.handle(
                form,
                request.headers.get("authorization"),
                request_info(request, body=form),
                dpop=request.headers.getlist("dpop"),
            )
        except OAuthError as exc:
            _token_logger.warning("token request refused: %s: %s", exc.error, exc.description)
            return _error_response(exc)
        headers = dict(_NO_STORE)
        if issuer.dpop.nonces is not None:
            # RFC 9449 §8.2: the next nonce rides on every answer.
            headers["DPoP-Nonce"] = issuer.dpop.nonces.current()
        return JSONResponse(tokens.to_response(), headers=headers)

    async def userinfo(request: Request) -> Response:
        return await userinfo_endpoint(request, issuer)

    async def revoke(request: Request) -> Response:
        try:
            form = await read_form(request)
            client = await issuer.token_endpoint.authenticate_client(
                form, request.headers.get("authorization")
            )
            if not form.get("token"):
                raise OAuthError("invalid_request", "token is required")
        except OAuthError as exc:
            return _error_response(exc)
        # RFC 7009 §2.2: 200 whether or not the token was known.
        issuer.refresh_tokens.revoke(form["token"], client_id=client.client_id)
        return Response(status_code=200, headers=_NO_STORE)

    async def oidc_logout(request: Request) -> Response:
        return logout(request, return_state=True)

    async def auth0_logout(request: Request) -> Response:
        return logout(request, return_state=False)

    def logout(request: Request, *, return_state: bool) -> Response:
        return end_session(
            request,
            issuer.directory,
            issuer.allowed_logout_urls,
            return_state=return_state,
            sessions=issuer.sessions,
            cookie=issuer.session_cookie,
        )

    action_logs = action_logs_endpoint(
        issuer.action_logs, issuer_url=issuer.url, access=issuer.action_logs_access
    )

    console = DevConsole(issuer).routes() if issuer.console else []
    return Starlette(
        routes=[
            *console,
            Route("/.well-known/openid-configuration", openid_configuration),
            Route("/.well-known/oauth-authorization-server", oauth_metadata),
            Route("/.well-known/jwks.json", jwks),
            Route(REGISTRATION_PATH, register, methods=["POST"]),
            Route("/authorize", authorize.authorize),
            Route("/login", authorize.login, methods=["POST"]),
            Route("/consent", authorize.consent.page, methods=["GET"]),
            Route("/consent", authorize.consent.answer, methods=["POST"]),
            Route("/mfa", authorize.mfa.answer, methods=["POST"]),
            Route("/continue", authorize.continuation.handle, methods=["GET", "POST"]),
            Route("/oauth/token", token, methods=["POST"]),
            Route("/userinfo", userinfo, methods=["GET", "POST"]),
            Route("/oauth/revoke", revoke, methods=["POST"]),
            Route("/oidc/logout", oidc_logout),
            Route("/v2/logout", auth0_logout),
            Route("/actions/logs", action_logs),
        ]
    )
