"""``DirectAccess``: using an issuer from Python without HTTP: logins, key rotation,
the action log and token verification."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .actions._runtime import ActionLog, ExecutionRecord
from .core._directory import Directory
from .core._errors import IssuerError
from .login._login import LoginPipeline, TokenSet
from .login._loginrequest import LoginRequest
from .oauth._grants import resolve_api
from .tokens._dpop import require_proof
from .tokens._keys import KeyRing, SigningKey
from .tokens._refresh import RefreshStore
from .tokens._tokens import verify_issued_token

if TYPE_CHECKING:
    from .dpop import DPoPKey

__all__ = ["DEFAULT_SCOPE", "DirectAccess"]

DEFAULT_SCOPE = "openid profile email offline_access"


class DirectAccess:
    """The methods of :class:`Issuer` used without HTTP; it provides the attributes below."""

    url: str
    directory: Directory
    clock: Callable[[], float]
    keys: KeyRing
    pipeline: LoginPipeline
    refresh_tokens: RefreshStore
    _log: ActionLog

    async def login(
        self,
        email: str,
        *,
        client_id: str | None = None,
        audience: str | None = None,
        scope: str = DEFAULT_SCOPE,
        nonce: str | None = None,
        dpop_key: DPoPKey | None = None,
        via: str = "Issuer.login()",
    ) -> TokenSet:
        """Log ``email`` in through the real pipeline (actions included), without HTTP.

        Without ``client_id``/``audience`` the only registered client/API is used. With
        ``dpop_key`` the access token is bound to it (``cnf.jkt``, ``token_type`` DPoP), and
        so is a public client's refresh token; an API with ``require_dpop`` needs one.
        Raises :class:`LoginDenied` or :class:`ActionFailed` when an action stops the login.
        ``via`` is how messages name this login (an action that needs a browser says that
        this login came through it).
        """
        client = (
            self.directory.only_client()
            if client_id is None
            else self.directory.clients.get(client_id)
        )
        if client is None:
            raise IssuerError(f"no such client: {client_id!r}")
        api = (
            self.directory.only_api() if audience is None else resolve_api(self.directory, audience)
        )
        jkt = None if dpop_key is None else dpop_key.jkt
        require_proof(api, jkt)
        tokens = await self.pipeline.login(
            LoginRequest(
                user=self.directory.user(email),
                client=client,
                api=api,
                requested_scopes=scope.split(),
                protocol="oidc-basic-profile",
                via=via,
                auth_time=self.clock(),
                nonce=nonce,
                methods=[{"name": "pwd", "timestamp": self.clock()}],
                dpop_jkt=jkt,
            )
        )
        if jkt is not None and client.is_public and tokens.refresh_token is not None:
            self.refresh_tokens.bind(tokens.refresh_token, jkt)
        return tokens

    def prepare_rotation(self) -> SigningKey:
        """Publish the next signing key in the JWKS without signing with it yet."""
        return self.keys.prepare_rotation()

    def rotate_keys(self) -> SigningKey:
        """Sign with the next key from now on (publishing it first if it was not prepared).

        The previous key stays in the JWKS until every token it signed has expired.
        """
        return self.keys.rotate()

    def action_logs(self) -> list[ExecutionRecord]:
        """Recent action executions, newest first."""
        return self._log.records()

    def verify_access_token(self, token: str, *, audience: str) -> dict[str, Any] | None:
        """The claims of an access token this issuer signed for ``audience``, or ``None``."""
        return verify_issued_token(
            token, keys=self.keys, issuer_url=self.url, audience=audience, now=self.clock()
        )
