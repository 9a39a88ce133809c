"""The token endpoint (RFC 6749 §3.2): client authentication and the grants."""

from __future__ import annotations

import base64
import binascii
import dataclasses
from collections.abc import Callable, Mapping, Sequence
from urllib.parse import unquote_plus

from ..core._directory import Directory
from ..core._errors import OAuthError
from ..core._records import Api, Client
from ..login._login import LoginPipeline, TokenSet
from ..login._loginrequest import LoginRequest
from ..tokens._dpop import ProofChecker, require_proof
from ..tokens._refresh import RefreshStore
from ..tokens._tokens import TokenMinter
from ._codes import CodeStore

__all__ = ["TokenEndpoint", "resolve_api"]


def resolve_api(
    directory: Directory, audience: str | None, *, resource: str | None = None
) -> Api | None:
    """The API named by ``audience`` (Auth0) or ``resource`` (RFC 8707); without either,
    the only API if exactly one exists.

    A ``resource`` that is not a configured API's identifier, exactly, is ``invalid_target``
    (RFC 8707 §2); naming two different APIs at once is ``invalid_request``.
    """
    if resource:
        if audience and audience != resource:
            raise OAuthError("invalid_request", "audience and resource name different APIs")
        api = directory.apis.get(resource)
        if api is None:
            raise OAuthError("invalid_target", f"unknown resource {resource!r}")
        return api
    if audience:
        api = directory.apis.get(audience)
        if api is None:
            raise OAuthError("invalid_request", f"unknown audience {audience!r}")
        return api
    return next(iter(directory.apis.values())) if len(directory.apis) == 1 else None


def _same_target(granted: str | None, resource: str | None) -> None:
    # RFC 8707 §2.2: a token request may only name a resource the grant was issued for.
    if resource and resource != granted:
        raise OAuthError("invalid_target", "the grant was not issued for this resource")


def _invalid_client(description: str, *, basic: bool) -> OAuthError:
    # RFC 6749 §5.2: 401 with a challenge when the client tried HTTP Basic.
    headers = {"WWW-Authenticate": 'Basic realm="issuer"'} if basic else None
    return OAuthError("invalid_client", description, status_code=401, headers=headers)


class TokenEndpoint:
    """Authenticates the client and runs the requested grant."""

    def __init__(
        self,
        *,
        directory: Directory,
        pipeline: LoginPipeline,
        codes: CodeStore,
        refresh_tokens: RefreshStore,
        clock: Callable[[], float],
        proofs: ProofChecker,
        minter: TokenMinter,
    ) -> None:
        self._directory = directory
        self._pipeline = pipeline
        self._codes = codes
        self._refresh_tokens = refresh_tokens
        self._clock = clock
        self._proofs = proofs
        self._minter = minter

    async def authenticate_client(
        self, form: Mapping[str, str], authorization: str | None
    ) -> Client:
        """``client_secret_basic``, ``client_secret_post``, or ``none`` for public clients.

        Raises :class:`TooManyAttempts` (429) while the client has too many recent failures.
        """
        client_id = form.get("client_id")
        secret = form.get("client_secret")
        basic = False
        if authorization and authorization[:6].lower() == "basic ":
            if secret is not None:
                raise OAuthError("invalid_request", "use one client authentication method, not two")
            try:
                decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
                raw_id, raw_secret = decoded.split(":", 1)
            except (binascii.Error, UnicodeDecodeError, ValueError):
                raise _invalid_client("malformed Basic credentials", basic=True) from None
            # RFC 6749 §2.3.1: both parts are form-urlencoded before Basic encoding.
            basic_id, secret = unquote_plus(raw_id), unquote_plus(raw_secret)
            if client_id is not None and client_id != basic_id:
                raise OAuthError("invalid_request", "client_id differs from the Basic credentials")
            client_id, basic = basic_id, True
        if not client_id:
            raise _invalid_client("client authentication is required", basic=basic)
        client = self._directory.clients.get(client_id)
        if client is None:
            raise _invalid_client("unknown client", basic=basic)
        if client.is_public:
            if secret is not None:
                raise _invalid_client("public clients have no secret", basic=basic)
            return client
        if secret is None or not await self._directory.check_client_secret(client, secret):
            raise _invalid_client("client authentication failed", basic=basic)
        return client

    async def handle(
        self,
        form: Mapping[str, str],
        authorization: str | None,
        request: Mapping[str, object],
        *,
        dpop: Sequence[str] = (),
    ) -> TokenSet:
        """Run the grant; ``dpop`` holds the request's ``DPoP`` header values (RFC 9449 §5)."""
        grant_type = form.get("grant_type")
        if not grant_type:
            raise OAuthError("invalid_request", "grant_type is required")
        handler = {
            "authorization_code": self._authorization_code,
            "refresh_token": self._refresh_token,
            "password": self._password,
            "client_credentials": self._client_credentials,
        }.get(grant_type)
        if handler is None:
            raise OAuthError("unsupported_grant_type", f"unsupported grant_type {grant_type!r}")
        client = await self.authenticate_client(form, authorization)
        if grant_type not in client.grant_types:
            raise OAuthError("unauthorized_client", f"the client may not use {grant_type}")
        proof = self._proofs.check(dpop, method="POST")
        jkt = None if proof is None else proof.jkt
        # Reserved before the grant runs, so that of two concurrent uses of one proof only
        # one runs it; spent once it succeeds, so a failed grant spends none (RFC 9449 §11.1).
        with self._proofs.spending(proof):
            tokens = await handler(client, form, request, jkt)
        if jkt is not None and client.is_public and tokens.refresh_token is not None:
            self._refresh_tokens.bind(tokens.refresh_token, jkt)
        return tokens

    def _check_target(
        self, form: Mapping[str, str], jkt: str | None
    ) -> Callable[[str | None], None]:
        def check(granted: str | None) -> None:
            _same_target(granted, form.get("resource"))
            require_proof(None if granted is None else self._directory.apis.get(granted), jkt)

        return check

    async def _authorization_code(
        self,
        client: Client,
        form: Mapping[str, str],
        request: Mapping[str, object],
        jkt: str | None,
    ) -> TokenSet:
        code = form.get("code")
        if not code:
            raise OAuthError("invalid_request", "code is required")
        tokens = self._codes.redeem(
            code,
            client_id=client.client_id,
            redirect_uri=form.get("redirect_uri"),
            code_verifier=form.get("code_verifier"),
            check_target=self._check_target(form, jkt),
            dpop_jkt=jkt,
        )
        if jkt is None or tokens.token_type == "DPoP":
            return tokens
        access_token, id_token = self._minter.bind(tokens.access_token, tokens.id_token, jkt)
        return dataclasses.replace(
            tokens, access_token=access_token, id_token=id_token, token_type="DPoP"
        )

    async def _refresh_token(
        self,
        client: Client,
        form: Mapping[str, str],
        request: Mapping[str, object],
        jkt: str | None,
    ) -> TokenSet:
        token = form.get("refresh_token")
        if not token:
            raise OAuthError("invalid_request", "refresh_token is required")
        grant = self._refresh_tokens.redeem(
            token,
            client_id=client.client_id,
            check_target=self._check_target(form, jkt),
            dpop_jkt=jkt,
        )
        scopes = grant.scopes
        if form.get("scope"):
            narrowed = tuple(form["scope"].split())
            if not set(narrowed) <= set(scopes):
                raise OAuthError("invalid_scope", "a refresh may not widen the granted scope")
            scopes = narrowed
        user = self._directory.user_by_id(grant.user_id)
        if user is None:
            self._refresh_tokens.revoke_family(grant.family_id)
            raise OAuthError("invalid_grant", "the user no longer exists")
        api = None if grant.audience is None else self._directory.apis.get(grant.audience)
        return await self._pipeline.login(
            LoginRequest(
                user=user,
                client=client,
                api=api,
                requested_scopes=scopes,
                protocol="oauth2-refresh-token",
                via="a refresh-token exchange (POST /oauth/token)",
                auth_time=grant.auth_time,
                request=request,
                refresh_family=grant.family_id,
                methods=[dict(m) for m in grant.methods],
                dpop_jkt=jkt,
            )
        )

    async def _password(
        self,
        client: Client,
        form: Mapping[str, str],
        request: Mapping[str, object],
        jkt: str | None,
    ) -> TokenSet:
        username, password = form.get("username"), form.get("password")
        if not username or password is None:
            raise OAuthError("invalid_request", "username and password are required")
        api = resolve_api(self._directory, form.get("audience"), resource=form.get("resource"))
        require_proof(api, jkt)
        user = await self._directory.authenticate(username, password)
        if user is None:
            raise OAuthError("invalid_grant", "Wrong email or password.")
        return await self._pipeline.login(
            LoginRequest(
                user=user,
                client=client,
                api=api,
                requested_scopes=form.get("scope", "openid").split(),
                protocol="oauth2-password",
                via="the password grant (POST /oauth/token)",
                auth_time=self._clock(),
                request=request,
                methods=[{"name": "pwd", "timestamp": self._clock()}],
                dpop_jkt=jkt,
            )
        )

    async def _client_credentials(
        self,
        client: Client,
        form: Mapping[str, str],
        request: Mapping[str, object],
        jkt: str | None,
    ) -> TokenSet:
        api = resolve_api(self._directory, form.get("audience"), resource=form.get("resource"))
        if api is None:
            raise OAuthError("invalid_request", "audience (or resource) is required")
        require_proof(api, jkt)
        return await self._pipeline.client_credentials(
            client, api, form.get("scope", "").split(), request, dpop_jkt=jkt
        )
