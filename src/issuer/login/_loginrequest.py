"""``LoginRequest``: one authentication of a user at a client, as actions see it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..core._records import Api, Client, User
from ._sessions import Session

__all__ = ["LoginRequest"]


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
    #: The browser's login session, for interactive logins (``event.session``).
    session: Session | None = None
    #: ``acr_values`` and ``prompt`` as the client sent them (OpenID Connect Core §3.1.2.1).
    acr_values: Sequence[str] = ()
    prompt: str | None = None
    #: The authentication methods of this login, each ``{"name": ..., "timestamp": ...}``.
    methods: list[dict[str, Any]] = field(default_factory=list)
    #: Second factors the browser's session remembers, each like ``methods``' entries;
    #: they count only when the actions allow remembering the browser.
    remembered_methods: list[dict[str, Any]] = field(default_factory=list)
    #: Set for browser logins only: the ``state`` a redirect action's page returns with.
    continue_state: str | None = None
    dpop_jkt: str | None = None
    #: How the login came in, as messages name it (``protocol`` is what actions see).
    via: str = "a browser login (/authorize)"

    def add_methods(self, methods: Sequence[Mapping[str, Any]]) -> None:
        """Count ``methods`` in this login: the tokens' ``amr`` lists them, so their
        ``auth_time`` becomes the latest of their times (OpenID Connect Core §2)."""
        self.methods.extend(dict(m) for m in methods)
        self.auth_time = max([self.auth_time, *(float(m["timestamp"]) for m in methods)])
