"""``DPoPRequests``: a request's DPoP token and proof verified for the URL it was sent to,
and the response carrying the next nonce (RFC 9449 §4.3, §9)."""

from __future__ import annotations

import logging
from typing import Any

from starlette.types import Message, Scope, Send

from .._errors import InvalidDPoPProof, InvalidRequest
from ..verification._claims import Claims
from ..verification._htu import origin_of, request_htu
from ._credentials import Credentials
from ._resource import ProtectedResource

__all__ = ["DPoPRequests"]

_setup_logger = logging.getLogger("claimguard")
_logger = logging.getLogger("claimguard.dpop")
# The Host header is the sender's: only this much of it goes back into a description.
_MAX_HOST_CHARS = 100


class DPoPRequests:
    """The middleware's DPoP side, for a verifier with ``verify_dpop()`` and
    ``dpop_nonce()``."""

    def __init__(self, verifier: Any, protected_resource: ProtectedResource | None) -> None:
        self._verifier = verifier
        # RFC 9449 §4.3 check 9: htu names this resource. The scope's Host is chosen by
        # the sender, so it is only the last resort (and warned about once).
        explicit = getattr(verifier, "public_origin", None)
        self._public_origin: str | None = (
            explicit
            if explicit is not None or protected_resource is None
            else origin_of(protected_resource.resource)
        )
        # Where the origin comes from, for a refused proof's description and the log.
        self._origin_source = (
            "the verifier's public_origin"
            if explicit is not None
            else None
            if protected_resource is None
            else f"the origin of the protected resource {protected_resource.resource!r}"
        )
        self._host_origin_warned = False

    async def verify(self, scope: Scope, credentials: Credentials) -> Claims:
        """The claims of the DPoP-bound token in ``credentials``, its proof checked for
        this request's method and URL."""
        if self._public_origin is None and not self._host_origin_warned:
            self._host_origin_warned = True
            _setup_logger.warning(
                "DPoP proofs are checked against each request's own Host header, which the "
                "client chooses: a proof made for another server that accepts the same "
                "tokens is accepted here. Set public_origin on the TokenVerifier (or give "
                "the middleware a protected_resource) to name this API's public origin."
            )
        try:
            url = request_htu(scope, self._public_origin)
        except ValueError:
            raise InvalidRequest(
                "The request's URL cannot be read to check the DPoP proof.", code="bad_request_url"
            ) from None
        try:
            claims: Claims = await self._verifier.verify_dpop(
                credentials.token,
                credentials.proof,
                method=scope.get("method", "GET"),
                url=url,
            )
        except InvalidDPoPProof as error:
            if type(error) is not InvalidDPoPProof or error.code != "htu_mismatch":
                raise
            raise self._htu_mismatch(url) from error
        return claims

    def _htu_mismatch(self, url: str) -> InvalidDPoPProof:
        """The refusal of a proof naming another URL than ``url``, saying which origin is
        expected and where it comes from (RFC 9449 §4.3 check 9); never the proof's htu."""
        origin = origin_of(url)
        if self._origin_source is None:
            origin = origin[: len("https://") + _MAX_HOST_CHARS]
            source = "the request's scheme and Host header"
        else:
            source = self._origin_source
        _logger.debug("DPoP proof refused: its htu is not %r, from %s", url[:300], source)
        return InvalidDPoPProof(
            "htu_mismatch",
            f"The DPoP proof's htu must be this request's URL at {origin}, from {source}.",
        )

    def with_nonce(self, send: Send) -> Send:
        """``send`` adding the next ``DPoP-Nonce`` (RFC 9449 §9) to the response start."""
        nonce: str | None = self._verifier.dpop_nonce()
        if nonce is None:
            return send
        header = (b"dpop-nonce", nonce.encode("ascii"))

        async def send_with_nonce(message: Message) -> None:
            if message["type"] in ("http.response.start", "websocket.accept"):
                message = {**message, "headers": [*message.get("headers", ()), header]}
            await send(message)

        return send_with_nonce
