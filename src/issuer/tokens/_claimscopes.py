"""The scopes claimguard's middleware derives from a token's claims (README "Claims become
scopes"), restated here because the issuer never imports claimguard.

``scope`` words and ``permissions`` items are scopes unless they start with ``claim:``;
each namespaced claim ``n`` (short name without ``:``) gives ``claim:n`` for ``true``,
``claim:n:v`` for a string or number ``v`` and ``claim:n:item`` per string of a list.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

__all__ = ["AmbiguousNamespaces", "claim_scopes", "namespace_prefixes"]

_PREFIX = "claim:"


class AmbiguousNamespaces(ValueError):
    """The token defines one short name under two namespaces (claimguard refuses it)."""


def namespace_prefixes(namespaces: Sequence[str]) -> tuple[str, ...]:
    """Each namespace with its trailing ``/``, blanks dropped."""
    cleaned = (ns.strip() for ns in namespaces)
    return tuple(dict.fromkeys(ns if ns.endswith("/") else ns + "/" for ns in cleaned if ns))


def _words(value: Any) -> bool:
    return isinstance(value, str) and bool(value) and not any(c.isspace() for c in value)


def _scope_word(word: Any) -> bool:
    return isinstance(word, str) and bool(word) and " " not in word and not word.startswith(_PREFIX)


def _values(short: str, value: Any) -> Iterator[str]:
    name = _PREFIX + short
    if value is True:
        yield name
    elif value is False or value is None:
        return
    elif isinstance(value, str):
        if _words(value):
            yield f"{name}:{value}"
    elif isinstance(value, int):
        yield f"{name}:{value}"
    elif isinstance(value, float):
        if math.isfinite(value):
            yield f"{name}:{int(value) if value.is_integer() else value}"
    elif isinstance(value, list):
        yield from (f"{name}:{item}" for item in value if _words(item))


def _namespaced(payload: Mapping[str, Any], prefixes: tuple[str, ...]) -> dict[str, Any]:
    custom: dict[str, Any] = {}
    for name, value in payload.items():
        for prefix in prefixes:
            if name.startswith(prefix) and len(name) > len(prefix):
                short = name[len(prefix) :]
                if short in custom:
                    raise AmbiguousNamespaces(f"claim {short!r} is defined under two namespaces")
                custom[short] = value
                break
    return custom


def claim_scopes(payload: Mapping[str, Any], namespaces: Sequence[str]) -> frozenset[str]:
    """The scopes a token with ``payload`` grants under ``namespaces``."""
    scopes: list[str] = []
    scope = payload.get("scope")
    if isinstance(scope, str):
        scopes.extend(filter(_scope_word, scope.split()))
    permissions = payload.get("permissions")
    if isinstance(permissions, list):
        scopes.extend(filter(_scope_word, permissions))
    for short, value in _namespaced(payload, namespace_prefixes(namespaces)).items():
        if ":" not in short:
            scopes.extend(_values(short, value))
    return frozenset(scopes)
