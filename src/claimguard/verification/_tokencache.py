"""The verified-token cache: the exact token string -> what verifying it established.

A repeated token then costs one dictionary lookup and a comparison with its validity
window, which is worked out once from ``exp``, ``nbf``, ``iat``, the leeway and the
maximum token age, so the time rules are re-checked on every hit. The cache is bounded
(oldest entry out first); entries whose key material left the issuer's JWKS are dropped,
by the key's RFC 7638 thumbprint rather than its ``kid``, which an issuer may reuse.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, NamedTuple

from ..jose._jwk import ecdsa_twin
from ..jose._jws import b64_encode
from ._claims import Claims

if TYPE_CHECKING:
    from ._issuers import TrustedIssuer

__all__ = ["CachedToken", "VerifiedTokenCache"]


class CachedToken(NamedTuple):
    """A verified token's claims, its validity window, its key's thumbprint and ``kid``,
    and the issuer that accepted it."""

    claims: Claims
    valid_from: float
    valid_until: float
    key_thumbprint: str
    kid: str | None = None
    source: TrustedIssuer | None = None


def validity_window(
    *,
    exp: float,
    nbf: float | None,
    iat: float | None,
    leeway_seconds: float,
    max_age_seconds: float | None,
) -> tuple[float, float]:
    """The half-open interval ``[valid_from, valid_until)`` in which the time rules pass."""
    valid_from = -math.inf
    if nbf is not None:
        valid_from = nbf - leeway_seconds
    if iat is not None:
        valid_from = max(valid_from, iat - leeway_seconds)
    valid_until = exp + leeway_seconds
    if max_age_seconds is not None and iat is not None:
        valid_until = min(valid_until, iat + max_age_seconds + leeway_seconds)
    return valid_from, valid_until


class VerifiedTokenCache:
    """A bounded map from token strings to :class:`CachedToken`; ``maxsize`` 0 disables it.

    Plain ``dict`` order makes eviction oldest-first; a lookup is a single ``dict.get``.
    """

    __slots__ = ("_entries", "get", "maxsize")

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._entries: dict[str, CachedToken] = {}
        self.get = self._entries.get

    def put(self, token: str, entry: CachedToken) -> None:
        entries = self._entries
        if self.maxsize <= 0:
            return
        if len(entries) >= self.maxsize and token not in entries:
            del entries[next(iter(entries))]
        entries[token] = entry

    def twin(self, token: str, signature: bytes, alg: str) -> CachedToken | None:
        """The entry cached under the other spelling of this ECDSA token's signature.

        ``(r, s)`` and ``(r, n - s)`` both verify (see :func:`ecdsa_twin`) over the same
        header and payload: a token is cached once, whichever spelling arrives first, and
        the other spelling is answered from that entry, never stored beside it. The
        caller applies the entry's validity window as on any hit.
        """
        twin_signature = ecdsa_twin(signature, alg)
        if twin_signature is None:
            return None
        return self._entries.get(token[: token.rindex(".") + 1] + b64_encode(twin_signature))

    def forget_keys(
        self, thumbprints: frozenset[str], *, source: TrustedIssuer | None = None
    ) -> None:
        """Drop the entries signed by keys (named by thumbprint) the issuer no longer
        publishes; with ``source``, only that issuer's entries: another issuer may still
        publish the same key material."""
        entries = self._entries
        for token in [
            t
            for t, entry in entries.items()
            if entry.key_thumbprint in thumbprints and (source is None or entry.source is source)
        ]:
            del entries[token]

    def forget_source(self, source: TrustedIssuer) -> None:
        """Drop the entries an issuer accepted, once that issuer is no longer trusted."""
        entries = self._entries
        for token in [t for t, entry in entries.items() if entry.source is source]:
            del entries[token]

    def __len__(self) -> int:
        return len(self._entries)
