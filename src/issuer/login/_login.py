"""The login pipeline: scopes, post-login actions, metadata updates, tokens."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import replace
from secrets import token_urlsafe
from typing import Any

from ..actions._actionapi import FlowChanges
from ..actions._actions import Action, Trigger
from ..actions._redirectapi import LoginFlow
from ..actions._runtime import ActionLog, FlowContext, apply_metadata, run_flow
from ..core._activity import Activity, reported
from ..core._directory import Directory
from ..core._errors import ActionFailed, LoginDenied
from ..core._records import Api, Client
from ..tokens._refresh import RefreshStore
from ..tokens._scopes import client_scopes, final_scopes, unique_scopes, user_scopes
from ..tokens._tokens import TokenMinter
from ..tokens._tokenset import TokenSet
from ._loginevent import client_event, post_login_event
from ._loginrequest import LoginRequest
from ._pause import (
    PendingLogin,
    auth_claims,
    has_second_factor,
    no_second_factor,
    paused,
    second_factor_needed,
)

__all__ = ["LoginPipeline", "TokenSet"]


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
        self,
        trigger: Trigger,
        event: dict[str, Any],
        context: FlowContext,
        *,
        actions: Sequence[Action] | None = None,
        changes: FlowChanges | None = None,
        flow: LoginFlow | None = None,
    ) -> FlowChanges:
        changes = await run_flow(
            self._actions(trigger) if actions is None else actions,
            trigger=trigger,
            event=event,
            budget_seconds=self.budget_seconds,
            caches=self._caches,
            log=self._log,
            clock=self._clock,
            context=context,
            activity=self.activity,
            changes=changes,
            flow=flow,
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
        with self._reported(context):
            return self._issued(await self._login(request, context))

    def _reported(self, context: FlowContext) -> AbstractContextManager[None]:
        return reported(
            self.activity,
            user=context.user_email,
            client_id=context.client_id,
            protocol=context.protocol,
            actions_run=context.actions_run,
            execution_id=context.execution_id,
        )

    async def resume(
        self, pending: PendingLogin, *, request: Mapping[str, Any], params: Mapping[str, str]
    ) -> TokenSet:
        """Carry on a paused login: from its redirecting action's ``on_continue_post_login``
        (``request``/``params`` are the ``/continue`` request's), or after its second
        factor. Raises :class:`LoginPaused` again when it must wait once more."""
        context = pending.context
        pending.request.request = request
        with self._reported(context):
            return self._issued(await self._proceed(pending, params))

    def _issued(self, tokens: TokenSet) -> TokenSet:
        if self.on_tokens is not None:
            self.on_tokens(tokens)
        return tokens

    async def _login(self, request: LoginRequest, context: FlowContext) -> TokenSet:
        pending = PendingLogin(request, context, unique_scopes(request.requested_scopes))
        return await self._proceed(pending, {})

    def _remaining(self, pending: PendingLogin) -> list[Action]:
        actions = list(self._actions("post_login"))
        if pending.redirected_by is None:
            return [] if pending.actions_done else actions
        name = pending.redirected_by
        index = next((i for i, a in enumerate(actions) if a.name == name), None)
        action = None if index is None else actions[index]
        if index is None or action is None or action.on_continue is None:
            raise ActionFailed(name, "it is gone, or has no on_continue_post_login, to continue")
        return [replace(action, function=action.on_continue), *actions[index + 1 :]]

    async def _proceed(self, pending: PendingLogin, params: Mapping[str, str]) -> TokenSet:
        request, changes = pending.request, pending.changes
        actions = self._remaining(pending)
        pending.redirected_by = pending.redirect_url = changes.redirect_url = None
        if actions:
            returned_state = request.continue_state
            if request.continue_state is not None:
                # Each time the browser is sent away it gets a new state, good once.
                request.continue_state = token_urlsafe(32)
            flow = LoginFlow(
                issuer_url=self._minter.issuer_url,
                user_id=request.user.user_id,
                protocol=request.protocol,
                via=request.via,
                clock=self._clock,
                continue_state=request.continue_state,
                returned_state=returned_state if params else None,
                params=params,
            )
            event = post_login_event(request, pending.requested, self._secrets)
            await self._run(
                "post_login", event, pending.context, actions=actions, changes=changes, flow=flow
            )
            if changes.redirect_url is not None:
                pending.redirected_by = changes.redirected_by
                pending.redirect_url = changes.redirect_url
                raise paused(pending)
        pending.actions_done = True
        if second_factor_needed(changes, request.acr_values) and not has_second_factor(
            request.methods
        ):
            if changes.mfa_remember and has_second_factor(request.remembered_methods):
                request.add_methods(request.remembered_methods)
                return self._mint(request, pending.requested, changes)
            if request.continue_state is None:
                raise no_second_factor(request.protocol)
            raise paused(pending)
        return self._mint(request, pending.requested, changes)

    def _mint(self, request: LoginRequest, requested: list[str], changes: FlowChanges) -> TokenSet:
        user, client, api = request.user, request.client, request.api
        granted = user_scopes(api, user, requested)
        first_login = request.refresh_family is None
        authentication = auth_claims(request.methods)
        scopes = final_scopes(granted, changes.scopes_added, changes.scopes_removed)
        # RFC 9470 §4: a resource server judges a login's age by the access token's
        # auth_time, so it goes there as well as into the ID token (RFC 9068 §2.2.1).
        access_authentication = {**authentication, "auth_time": int(request.auth_time)}
        access_token = self._minter.access_token(
            subject=user.user_id,
            client_id=client.client_id,
            api=api,
            scopes=scopes,
            custom_claims=changes.access_claims,
            auth_claims=access_authentication,
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
                auth_claims=authentication,
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
                methods=tuple(request.methods),
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
        with self._reported(context):
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
        scopes = final_scopes(granted, changes.scopes_added, changes.scopes_removed)
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
