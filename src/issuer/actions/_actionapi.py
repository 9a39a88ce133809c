"""The ``api`` object an action uses to change the outcome of its flow."""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ._capture import ACTIONS_LOGGER
from ._claimrules import check_json_value, claim_refusal
from ._redirectapi import LoginFlow, MultifactorApi, RedirectApi

__all__ = ["ActionStep", "CredentialsExchangeApi", "FlowChanges", "PostLoginApi"]

_logger = logging.getLogger(ACTIONS_LOGGER)
_UNSET = object()


@dataclass
class FlowChanges:
    """Everything the actions of one flow asked for, merged in order."""

    id_claims: dict[str, Any] = field(default_factory=dict)
    access_claims: dict[str, Any] = field(default_factory=dict)
    scopes_added: list[str] = field(default_factory=list)
    scopes_removed: list[str] = field(default_factory=list)
    app_metadata: dict[str, Any] = field(default_factory=dict)
    user_metadata: dict[str, Any] = field(default_factory=dict)
    deny_reason: str | None = None
    deny_code: str = "access_denied"
    denied_by: str = ""
    mfa_required: bool = False
    #: Whether a second factor the browser's session remembers may stand in for a new one:
    #: only if every action that enabled MFA allowed it (``allow_remember_browser``).
    mfa_remember: bool = False
    redirect_url: str | None = None
    redirected_by: str = ""


class ActionStep:
    """Bookkeeping shared by the api parts for one action's run."""

    def __init__(self, action: str, changes: FlowChanges, *, continuable: bool = False) -> None:
        self.action = action
        self.changes = changes
        #: Whether the action has an ``on_continue_post_login`` to resume a redirect with.
        self.continuable = continuable
        self.claims_added: dict[str, dict[str, Any]] = {"id_token": {}, "access_token": {}}
        self.warnings: list[str] = []
        self.closed = False

    def warn(self, message: str) -> None:
        self.warnings.append(message)
        _logger.warning("action %r: %s", self.action, message)


class _TokenApi:
    def __init__(self, step: ActionStep, token: str, claims: dict[str, Any]) -> None:
        self._step = step
        self._token = token
        self._claims = claims

    def set_custom_claim(self, name: str, value: Any) -> None:
        """Add one claim; reserved names and Auth0's namespaces are refused with a warning."""
        if self._step.closed:
            return
        refusal = claim_refusal(name)
        if refusal is not None:
            self._step.warn(f"{self._token} claim refused: {refusal}")
            return
        # A copy, so a value the action changes after adding it is never signed unchecked.
        value = copy.deepcopy(value)
        check_json_value(value, where=f"{self._token} claim {name!r}")
        self._claims[name] = value
        self._step.claims_added[self._token][name] = value

    def add_claim(self, claims: Mapping[str, Any]) -> None:
        """Add several claims: ``add_claim({"https://myapp.example.com/premium": True})``."""
        if not isinstance(claims, Mapping):
            raise TypeError("add_claim takes a dict of claim names to values")
        for name, value in claims.items():
            self.set_custom_claim(name, value)

    setCustomClaim = set_custom_claim


class _AccessTokenApi(_TokenApi):
    def add_scope(self, scope: str) -> None:
        if self._step.closed:
            return
        changes = self._step.changes
        if scope in changes.scopes_removed:
            changes.scopes_removed.remove(scope)
        if scope not in changes.scopes_added:
            changes.scopes_added.append(scope)

    def remove_scope(self, scope: str) -> None:
        if self._step.closed:
            return
        changes = self._step.changes
        if scope in changes.scopes_added:
            changes.scopes_added.remove(scope)
        if scope not in changes.scopes_removed:
            changes.scopes_removed.append(scope)


class _UserApi:
    def __init__(self, step: ActionStep) -> None:
        self._step = step

    def set_app_metadata(self, key: str, value: Any) -> None:
        """Set (``None`` removes) one app_metadata key; applied when the flow ends."""
        value = copy.deepcopy(value)
        check_json_value(value, where=f"app_metadata {key!r}")
        if not self._step.closed:
            self._step.changes.app_metadata[key] = value

    def set_user_metadata(self, key: str, value: Any) -> None:
        """Set (``None`` removes) one user_metadata key; applied when the flow ends."""
        value = copy.deepcopy(value)
        check_json_value(value, where=f"user_metadata {key!r}")
        if not self._step.closed:
            self._step.changes.user_metadata[key] = value


class _CacheApi:
    """A small key/value store kept per action across executions."""

    def __init__(self, store: dict[str, Any]) -> None:
        self._store = store

    def get(self, key: str, default: Any = None) -> Any:
        return self._store.get(key, default)

    def set(self, key: str, value: Any) -> None:
        self._store[key] = value

    def delete(self, key: str) -> None:
        self._store.pop(key, None)


class _PostLoginAccessApi:
    def __init__(self, step: ActionStep) -> None:
        self._step = step

    def deny(self, reason: str) -> None:
        """Fail the login with ``access_denied`` and ``reason``; later actions are skipped."""
        changes = self._step.changes
        if not self._step.closed and changes.deny_reason is None:
            changes.deny_reason = str(reason)
            changes.denied_by = self._step.action


class _ExchangeAccessApi:
    def __init__(self, step: ActionStep) -> None:
        self._step = step

    def deny(self, code: str, reason: str) -> None:
        """Refuse the token with an RFC 6749 error ``code`` (e.g. ``invalid_request``)."""
        changes = self._step.changes
        if not self._step.closed and changes.deny_reason is None:
            changes.deny_code = str(code)
            changes.deny_reason = str(reason)
            changes.denied_by = self._step.action


class PostLoginApi:
    """``api`` for post-login: ``id_token``, ``access_token``, ``access``, ``user``,
    ``cache``, ``multifactor`` and ``redirect``."""

    def __init__(
        self, step: ActionStep, cache: dict[str, Any], flow: LoginFlow | None = None
    ) -> None:
        self.id_token = _TokenApi(step, "id_token", step.changes.id_claims)
        self.access_token = _AccessTokenApi(step, "access_token", step.changes.access_claims)
        self.access = _PostLoginAccessApi(step)
        self.user = _UserApi(step)
        self.cache = _CacheApi(cache)
        self.multifactor = MultifactorApi(step)
        self.redirect = RedirectApi(step, flow)
        self.idToken = self.id_token
        self.accessToken = self.access_token


class CredentialsExchangeApi:
    """``api`` for credentials-exchange actions: ``access_token``, ``access``, ``cache``."""

    def __init__(self, step: ActionStep, cache: dict[str, Any]) -> None:
        self.access_token = _AccessTokenApi(step, "access_token", step.changes.access_claims)
        self.access = _ExchangeAccessApi(step)
        self.cache = _CacheApi(cache)
        self.accessToken = self.access_token
