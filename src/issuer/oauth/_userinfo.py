"""``/userinfo`` (OpenID Connect Core §5.3): a protected resource for Bearer and DPoP tokens."""

from __future__ import annotations

import logging
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..core._directory import Directory
from ..core._errors import OAuthError
from ..tokens._dpop import ProofChecker
from ..tokens._jwk import DPOP_ALGS
from ..tokens._tokens import userinfo_claims

__all__ = ["UserinfoSource", "userinfo"]

_logger = logging.getLogger("issuer.userinfo")
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
# RFC 9449 §7.1: a resource that takes both schemes names both in its challenges.
_DPOP_CHALLENGE = f'DPoP algs="{" ".join(DPOP_ALGS)}"'


def _unauthorized(error: str | None = None, description: str = "") -> Response:
    if error is None:  # RFC 6750 §3.1: no error code when no credentials were sent
        challenge = f'Bearer realm="issuer", {_DPOP_CHALLENGE}'
    else:
        _logger.warning("userinfo refused: %s: %s", error, description)
        # RFC 6750 §3: error_description is a quoted string without '"' or '\\'.
        said = description.replace('"', "'").replace("\\", "/")
        attributes = f'realm="issuer", error="{error}", error_description="{said}"'
        if error.endswith("dpop_proof"):
            challenge = f"DPoP {attributes}, {_DPOP_CHALLENGE.removeprefix('DPoP ')}"
        else:
            # RFC 9449 §7.1: offer the DPoP scheme too, so a client that sent a bound token
            # as a bearer token learns which scheme it needs.
            challenge = f"Bearer {attributes}, {_DPOP_CHALLENGE}"
    return Response(status_code=401, headers={"WWW-Authenticate": challenge})


class UserinfoSource(Protocol):
    """What ``/userinfo`` reads of the issuer, at each request."""

    @property
    def url(self) -> str: ...

    @property
    def directory(self) -> Directory: ...

    @property
    def userinfo_dpop(self) -> ProofChecker: ...

    def verify_access_token(self, token: str, *, audience: str) -> dict[str, Any] | None: ...


def _bound_key(claims: dict[str, Any]) -> str | None:
    cnf = claims.get("cnf")
    jkt = cnf.get("jkt") if isinstance(cnf, dict) else None
    return jkt if isinstance(jkt, str) else None


async def userinfo(request: Request, issuer: UserinfoSource) -> Response:
    """The profile claims of the token's user; a DPoP-bound token needs ``Authorization:
    DPoP`` and a proof by its key (RFC 9449 §7), never the Bearer scheme (§7.2)."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    scheme, token = scheme.lower(), value.strip()
    if scheme not in ("bearer", "dpop") or not token:
        return _unauthorized()
    claims = issuer.verify_access_token(token, audience=f"{issuer.url}userinfo")
    user = None if claims is None else issuer.directory.user_by_id(str(claims.get("sub")))
    if claims is None or user is None:
        return _unauthorized("invalid_token", "unknown, expired or foreign token")
    bound = _bound_key(claims)
    if scheme == "bearer" and bound is not None:
        return _unauthorized("invalid_token", "a DPoP-bound token was sent as a Bearer token")
    if scheme == "dpop":
        checker = issuer.userinfo_dpop
        try:
            proof = checker.check(
                request.headers.getlist("dpop"), method=request.method, access_token=token
            )
        except OAuthError as exc:
            return _unauthorized("invalid_dpop_proof", exc.description)
        if proof is None:
            return _unauthorized("invalid_dpop_proof", "the DPoP scheme needs a DPoP proof")
        if proof.jkt != bound:
            return _unauthorized("invalid_token", "the token is not bound to the proof's key")
        try:
            # Spent only once the key is the token's: a refused request records nothing.
            checker.commit(proof)
        except OAuthError as exc:
            return _unauthorized("invalid_dpop_proof", exc.description)
    return JSONResponse(
        userinfo_claims(user, str(claims.get("scope", "")).split()), headers=_NO_STORE
    )
