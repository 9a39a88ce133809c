"""Reading the credentials of an ASGI request: a ``Bearer`` token, or a ``DPoP`` token with
its proof (RFC 6750 §2.1, RFC 9449 §7).

The request shapes, when DPoP is not disabled:

| ``Authorization`` | ``DPoP`` header | result                                                 |
|-------------------|-----------------|--------------------------------------------------------|
| none              | none            | no credentials                                         |
| ``Bearer <t>``    | none            | a bearer token                                         |
| ``DPoP <t>``      | exactly one     | a token and its proof                                  |
| ``DPoP <t>``      | none            | 401 ``invalid_dpop_proof`` (``missing_proof``)         |
| any               | two or more     | 400 ``invalid_request`` (RFC 9449 §4.3 check 1)        |
| ``Bearer <t>``    | one             | 400 ``invalid_request``: a proof for a bearer token    |
| none              | one             | 400 ``invalid_request``: a proof with no token         |

A ``Bearer`` token with a proof is refused rather than verified as a bearer token: the
client meant DPoP and got the scheme wrong, and a bound token must not be read as a
bearer token (RFC 9449 §7.2). With DPoP disabled, ``DPoP`` is a scheme like any other
(no credentials) and the ``DPoP`` header is not read.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from .._errors import InvalidDPoPProof, InvalidRequest
from ._bearer import scheme_and_token

__all__ = ["Credentials", "access_token", "request_credentials"]

_SCHEMES = ("bearer", "dpop")


class Credentials(NamedTuple):
    """The token a request presents, and its DPoP proof (``None`` for ``Bearer``)."""

    token: str
    proof: str | None


def request_credentials(scope: Mapping[str, Any], *, dpop: bool) -> Credentials | None:
    """The request's credentials, ``None`` when it sends none; :class:`InvalidRequest` or
    :class:`InvalidDPoPProof` for the malformed shapes in the module's table."""
    if not dpop:
        found = scheme_and_token(scope)
        return None if found is None else Credentials(found[1], None)
    headers = scope.get("headers", ())
    proof = _dpop_header(headers)
    found = scheme_and_token(scope, _SCHEMES)
    if found is None:
        if proof is not None:
            raise InvalidRequest(
                "The request carries a DPoP proof but no access token.", code="proof_without_token"
            )
        return None
    scheme, token = found
    if scheme == "bearer":
        if proof is not None:
            raise InvalidRequest(
                "A DPoP proof was sent with a Bearer token; use the DPoP scheme.",
                code="proof_with_bearer_scheme",
            )
        return Credentials(token, None)
    if proof is None:
        raise InvalidDPoPProof("missing_proof", "The DPoP scheme needs a DPoP proof header.")
    return Credentials(token, proof)


def access_token(scope: Mapping[str, Any]) -> str | None:
    """The token of either scheme, for code behind the middleware (which checked it)."""
    found = scheme_and_token(scope, _SCHEMES)
    return None if found is None else found[1]


def _dpop_header(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    values = [value for name, value in headers if name.lower() == b"dpop"]
    if not values:
        return None
    if len(values) > 1:
        # RFC 9449 §4.3 check 1: not more than one DPoP header.
        raise InvalidRequest(
            "The request carries more than one DPoP header.", code="two_dpop_headers"
        )
    try:
        text = values[0].decode("ascii").strip(" \t")
    except UnicodeDecodeError:
        raise InvalidRequest(
            "The DPoP header is not ASCII.", code="malformed_dpop_header"
        ) from None
    if not text:
        raise InvalidRequest("The DPoP header is empty.", code="malformed_dpop_header")
    return text
