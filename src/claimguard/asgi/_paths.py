"""Which requests the middleware lets through without a token, and the route path they
are matched on."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .._errors import ConfigurationError

__all__ = ["PublicPaths", "route_path"]


class PublicPaths:
    """Paths that need no token, matched against the route path (``root_path`` removed).

    An entry ``/docs`` matches ``/docs`` itself and everything below ``/docs/``, but never
    ``/docsearch``; a trailing slash on the entry changes nothing. The entry ``/`` matches only
    the root. A request path with a ``.`` or ``..`` segment, a backslash or a NUL is never
    public, so no spelling of a protected path can pass as a public one.
    """

    __slots__ = ("_bases", "_prefixes")

    def __init__(self, paths: Iterable[str]) -> None:
        if isinstance(paths, str):
            raise ConfigurationError("public_paths must be a sequence of paths, not one string")
        bases: list[str] = []
        for path in paths:
            if not isinstance(path, str) or not path.startswith("/"):
                raise ConfigurationError(f"public path {path!r} must be a string starting with '/'")
            if any(c in path for c in "?#\\\x00") or _has_dot_segment(path) or "//" in path:
                raise ConfigurationError(
                    f"public path {path!r} must be a plain path: no query, fragment, "
                    "backslash, empty or dot segments"
                )
            bases.append(path.rstrip("/") or "/")
        self._bases = frozenset(bases)
        self._prefixes = tuple(base + "/" for base in self._bases if base != "/")

    def __repr__(self) -> str:
        return f"PublicPaths({sorted(self._bases)!r})"

    def __bool__(self) -> bool:
        return bool(self._bases)

    def __contains__(self, path: object) -> bool:
        if not isinstance(path, str) or not self._bases:
            return False
        if "\\" in path or "\x00" in path or _has_dot_segment(path):
            return False
        return path in self._bases or path.startswith(self._prefixes)


def _has_dot_segment(path: str) -> bool:
    return any(segment in (".", "..") for segment in path.split("/"))


def route_path(scope: Mapping[str, Any]) -> str:
    """The request path below the app's ``root_path`` (ASGI puts both into ``path``)."""
    path: str = scope.get("path", "")
    root_path: str = scope.get("root_path", "")
    if root_path and path.startswith(root_path):
        rest = path[len(root_path) :]
        if rest == "" or rest.startswith("/"):
            return rest or "/"
    return path
