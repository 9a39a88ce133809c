"""The login pipeline: scopes, post-login actions, metadata updates, tokens."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ._actionapi import FlowChanges
from ._actions import Action, Trigger
from ._activity import Activity, reported
from ._directory import Directory
from ._errors import LoginDenied
from ._loginevent import client_event, post_login_event
from ._records import Api, Client, User
from ._refresh import RefreshStore
from ._runtime import ActionLog, FlowContext, apply_metadata, run_flow
from ._scopes import client_scopes, user_scopes
from ._tokens import TokenMinter

__all__ = ["LoginPipeline", "LoginRequest", "TokenSet"]


@dataclass(frozen=True)
class TokenSet:
    """The tokens of one successful login or token request."""

    access_token: str
    id_token: str | None
    refresh_token: str | None
    expires_in: int
    scope: str
    token_type: str = "Bearer"

    def to_response(self) -> dict[str, Any]:
        """The RFC 6749 §5.1 response body."""
        body: dict[str, Any] = {
            "access_token": self.access_token,
            "token_type": self.token_type,
            "expires_in": self.expires_in,
            "scope": self.scope,
        }
        if self.id_token is not None:
            body["id_token"] = self.id_token
        if self.refresh_token is not None:
            body["refresh_token"] = self.refresh_token
        return body


@dataclass
class LoginRequest:
    """One authentication of ``user`` at ``client``, as post-login actions see it."""

    user: User
    client: Client
    api: Api | None
    requested_scopes: Sequence[str]
    protocol: str
    auth_time: float
    nonce: str | None = None
    redirect_uri: str | None = None
    state: str | None = None
    request: Mapping[str, Any] = field(default_factory=dict)
    refresh_family: str | None = None
    dpop_jkt: str | None = None


def _unique(words: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(w for w in words if w))


def _final_scopes(granted: list[str], changes: FlowChanges) -> list[str]:
    return [
        s for s in _unique([*granted, *changes.scopes_added]) if s not in changes.scopes_removed
    ]


class LoginPipeline:
    """Runs the actions of a trigger and mints the resulting tokens."""

    def __init__(
        self,
        *,
        directory: Directory,
        minter: TokenMinter,
        refresh_tokens: RefreshStore,
        actions: Callable[[Trigger], Sequence[Action]],
        secrets: Mapping[str, str],
        log: ActionLog,
        clock: Callable[[], float],
        budget_seconds: float,
        activity: Activity | None = None,
    ) -> None:
        self._directory = directory
        self._minter = minter
        self._refresh_tokens = refresh_tokens
        self._actions = actions
        self._secrets = secrets
        self._log = log
        self._clock = clock
        self.budget_seconds = budget_seconds
        self._caches: dict[str, dict[str, Any]] = {}
        self.activity = activity or Activity()
        #: Called with each token set just before the login that made it is reported.
        self.on_tokens: Callable[[TokenSet], None] | None = None

    async def _run(
        self, trigger: Trigger, event: dict[str, Any], context: FlowContext
    ) -> FlowChanges:
        changes = await run_flow(
            self._actions(trigger),
            trigger=trigger,
            event=event,
            budget_seconds=self.budget_seconds,
            caches=self._caches,
            log=self._log,
            clock=self._clock,
            context=context,
            activity=self.activity,
        )
        if changes.deny_reason is not None:
            raise LoginDenied(
                changes.deny_reason, error=changes.deny_code, action=changes.denied_by
            )
        return changes

    async def login(self, request: LoginRequest) -> TokenSet:
        """Run post-login actions for ``request`` and mint its tokens (and refresh token)."""
        context = FlowContext(
            client_id=request.client.client_id,
            protocol=request.protocol,
            user_id=request.user.user_id,
            user_email=request.user.email,
        )
        with reported(
            self.activity,
            user=context.user_email,
            client_id=context.client_id,
            protocol=context.protocol,
            actions_run=context.actions_run,
            execution_id=context.execution_id,
        ):
            return self._issued(await self._login(request, context))

    def _issued(self, tokens: TokenSet) -> TokenSet:
        if self.on_tokens is not None:
            self.on_tokens(tokens)
        return tokens

    async def _login(self, request: LoginRequest, context: FlowContext) -> TokenSet:
        user, client, api = request.user, request.client, request.api
        requested = _unique(request.requested_scopes)
        granted = user_scopes(api, user, requested)
        first_login = request.refresh_family is None
        event = post_login_event(request, requested, self._secrets)
        changes = await self._run("post_login", event, context)
        scopes = _final_scopes(granted, changes)
        access_token = self._minter.access_token(
            subject=user.user_id,
            client_id=client.client_id,
            api=api,
            scopes=scopes,
            custom_claims=changes.access_claims,
            roles=user.roles,
            # A registered client is third-party: what the user consented to (the scopes
            # granted) bounds its permissions too, else consent would not limit it.
            permissions_within=granted if client.registered else None,
            dpop_jkt=request.dpop_jkt,
        )
        id_token = None
        if "openid" in scopes:
            id_token = self._minter.id_token(
                user=user,
                client_id=client.client_id,
                scopes=scopes,
                access_token=access_token,
                nonce=request.nonce,
                auth_time=request.auth_time,
                custom_claims=changes.id_claims,
            )
        refresh_token = None
        if "offline_access" in scopes and "refresh_token" in client.grant_types:
            refresh_token = self._refresh_tokens.issue(
                user_id=user.user_id,
                client_id=client.client_id,
                audience=None if api is None else api.identifier,
                scopes=tuple(requested),
                auth_time=request.auth_time,
                family_id=request.refresh_family,
            )
        apply_metadata(user.app_metadata, changes.app_metadata)
        apply_metadata(user.user_metadata, changes.user_metadata)
        if first_login:
            user.logins_count += 1
        return TokenSet(
            access_token=access_token,
            id_token=id_token,
            refresh_token=refresh_token,
            expires_in=self._minter.access_token_lifetime_seconds,
            scope=" ".join(scopes),
            token_type="Bearer" if request.dpop_jkt is None else "DPoP",
        )

    async def client_credentials(
        self,
        client: Client,
        api: Api,
        requested_scopes: Sequence[str],
        request: Mapping[str, Any],
        *,
        dpop_jkt: str | None = None,
    ) -> TokenSet:
        """Run credentials-exchange actions and mint a machine-to-machine access token
        (bound to ``dpop_jkt`` when given)."""
        context = FlowContext(client_id=client.client_id, protocol="oauth2-client-credentials")
        with reported(
            self.activity,
            user=None,
            client_id=context.client_id,
            protocol=context.protocol,
            actions_run=context.actions_run,
            execution_id=context.execution_id,
        ):
            return self._issued(
                await self._client_credentials(
                    client, api, requested_scopes, request, context, dpop_jkt
                )
            )

    async def _client_credentials(
        self,
        client: Client,
        api: Api,
        requested_scopes: Sequence[str],
        request: Mapping[str, Any],
        context: FlowContext,
        dpop_jkt: str | None,
    ) -> TokenSet:
        granted = client_scopes(self._directory, client, api, requested_scopes)
        event = {
            "client": client_event(client),
            "request": dict(request),
            "transaction": {"requested_scopes": granted, "dpop_jkt": dpop_jkt},
            "resource_server": {"identifier": api.identifier},
            "accessToken": {"scope": granted},
            "secrets": dict(self._secrets),
            "tenant": {"id": "local"},
        }
        changes = await self._run("credentials_exchange", event, context)
        scopes = _final_scopes(granted, changes)
        access_token = self._minter.access_token(
            subject=f"{client.client_id}@clients",
            client_id=client.client_id,
            api=api,
            scopes=scopes,
            custom_claims=changes.access_claims,
            grant="client-credentials",
            dpop_jkt=dpop_jkt,
        )
        return TokenSet(
            access_token=access_token,
            id_token=None,
            refresh_token=None,
            expires_in=self._minter.access_token_lifetime_seconds,
            scope=" ".join(scopes),
            token_type="Bearer" if dpop_jkt is None else "DPoP",
        )
