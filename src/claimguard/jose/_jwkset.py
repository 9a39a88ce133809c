"""Reading a JWK Set document (RFC 7517 §5) into the keys claimguard can use, by ``kid``.

A key claimguard cannot use (another type, ``use`` other than ``sig``, a bad curve point …)
is skipped with its reason, not fatal. Two keys under one ``kid`` make that ``kid``
ambiguous, so neither is used. A set left with no usable key is a failed fetch.
"""

from __future__ import annotations

from typing import Any

from ._fetch import FetchError
from ._jwk import UnusableKey, VerificationKey, parse_jwk

__all__ = ["read_jwk_set"]


def read_jwk_set(
    document: dict[str, Any], url: str, allowed_algorithms: frozenset[str]
) -> tuple[dict[str | None, VerificationKey], tuple[str, ...]]:
    """The usable keys of the JWKS ``document`` fetched from ``url``, by ``kid``, and the
    reasons the others were skipped; :class:`FetchError` when no key is usable."""
    entries = document.get("keys")
    if not isinstance(entries, list):
        raise FetchError(f"JWKS at {url} has no 'keys' list")
    keys: dict[str | None, VerificationKey] = {}
    skipped: list[str] = []
    duplicated: set[str | None] = set()
    for entry in entries:
        try:
            key = parse_jwk(entry, allowed_algorithms)
        except UnusableKey as exc:
            skipped.append(exc.reason)
            continue
        if key.kid in keys:
            duplicated.add(key.kid)
        keys[key.kid] = key
    for kid in duplicated:
        # RFC 7517 §4.5: kids should be distinct in a set; a repeated one names no key.
        del keys[kid]
        skipped.append(f"kid {kid!r} appears more than once")
    if not keys:
        raise FetchError(
            f"JWKS at {url} has no usable key: " + "; ".join(skipped or ["it is empty"])
        )
    return keys, tuple(skipped)
