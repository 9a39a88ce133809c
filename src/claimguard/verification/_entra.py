"""``EntraProfile``: Microsoft Entra ID v2 access tokens, their tenant and the v1 tokens
refused beside them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .._errors import ConfigurationError, InvalidToken
from ._profile import ClaimProfile

if TYPE_CHECKING:
    from ._claimchecks import ClaimChecks

__all__ = ["EntraProfile"]

_ENTRA_V1_HOST = "sts.windows.net"
_MULTI_TENANT = frozenset({"common", "organizations", "consumers"})


@dataclass(frozen=True, kw_only=True)
class EntraProfile(ClaimProfile):
    """Microsoft Entra ID v2: ``scp`` (space-separated delegated permissions) as scopes,
    ``roles`` (app roles) as ``role:<name>``, ``azp`` the client; ``tid`` must be the
    issuer's tenant. v1 tokens (``ver`` 1.0, issuer ``https://sts.windows.net/{tid}/``)
    are refused (``entra_v1_token``) unless ``allow_v1=True``."""

    name: str = "entra"
    scope_strings: Sequence[str] = ("scp",)
    scope_lists: Sequence[str] = ()
    prefixed: Mapping[str, str] = field(default_factory=lambda: {"roles": "role:"})
    client_claim: str | None = "azp"
    allow_v1: bool = False
    tenant: str | None = None

    def bind(self, *, issuer: str, audiences: frozenset[str]) -> ClaimProfile:
        if not isinstance(self.allow_v1, bool):
            raise ConfigurationError("profile entra: allow_v1 must be True or False")
        _check_issuer(issuer, allow_v1=self.allow_v1)
        return replace(self, tenant=_entra_tenant(issuer))

    def sibling_issuers(self, issuer: str) -> dict[str, InvalidToken | None]:
        tenant = _entra_tenant(issuer)
        if tenant is None or urlsplit(issuer).hostname != "login.microsoftonline.com":
            return {}
        v1 = f"https://{_ENTRA_V1_HOST}/{tenant}/"
        return {v1: None if self.allow_v1 else _v1_refusal()}

    def sibling_jwks_uri(self, issuer: str, sibling: str) -> str | None:
        # The v1 issuer's keys, published beside the v2 ones by the same host.
        parts = urlsplit(issuer)
        return f"{parts.scheme}://{parts.netloc}/{_entra_tenant(issuer)}/discovery/keys"

    def check_claims(self, payload: dict[str, Any], now: float, checks: ClaimChecks) -> None:
        if payload.get("ver") == "1.0" and not self.allow_v1:
            raise _v1_refusal()
        checks.check_audience(payload.get("aud"))
        tid = payload.get("tid")
        if self.tenant is not None and tid != self.tenant:
            if tid is None:
                raise InvalidToken("missing_claim", "The token has no 'tid' claim.")
            raise InvalidToken("wrong_tenant", "The token's tid is not its issuer's tenant.")
        self.check_client(payload)

    def wrong_issuer(self, iss: Any) -> InvalidToken:
        if isinstance(iss, str) and urlsplit(iss).hostname == _ENTRA_V1_HOST:
            return _v1_refusal()
        return super().wrong_issuer(iss)


def _check_issuer(issuer: str, *, allow_v1: bool) -> None:
    """Refuse issuers no Entra access token carries in ``iss`` under this profile."""
    parts = urlsplit(issuer)
    tenant = parts.path.strip("/").split("/")[0]
    if parts.hostname == _ENTRA_V1_HOST and not allow_v1:
        raise ConfigurationError(
            f"profile entra: issuer {issuer!r} is the Microsoft Entra ID v1 issuer, whose "
            "tokens the profile refuses: configure the v2 issuer "
            f"'https://login.microsoftonline.com/{tenant or '<tenant id>'}/v2.0', or accept v1 "
            "tokens with EntraProfile(allow_v1=True)."
        )
    if parts.hostname == "login.microsoftonline.com" and tenant in _MULTI_TENANT:
        # A token's iss always names the user's own tenant id, never these aliases.
        raise ConfigurationError(
            f"profile entra: issuer {issuer!r} names the multi-tenant alias {tenant!r}, which "
            "never appears as a token's iss: name each tenant's issuer "
            "'https://login.microsoftonline.com/<tenant id>/v2.0', or give an issuer_resolver "
            "that returns it for the tenants you accept."
        )


def _entra_tenant(issuer: str) -> str | None:
    """The tenant id of ``https://login.microsoftonline.com/{tid}/v2.0`` (or of a v1
    issuer ``https://sts.windows.net/{tid}/``)."""
    segments = urlsplit(issuer).path.strip("/").split("/")
    if len(segments) == 2 and segments[1] == "v2.0" and segments[0]:
        return segments[0]
    if len(segments) == 1 and urlsplit(issuer).hostname == _ENTRA_V1_HOST and segments[0]:
        return segments[0]
    return None


def _v1_refusal() -> InvalidToken:
    return InvalidToken(
        "entra_v1_token",
        "The token is a Microsoft Entra ID v1 token (ver 1.0, issuer sts.windows.net): set "
        "accessTokenAcceptedVersion to 2 in the API's app manifest, or accept v1 tokens "
        "with EntraProfile(allow_v1=True).",
    )
