"""The read-only ``event`` object actions receive, with attribute access like Auth0's."""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from typing import Any

__all__ = ["Namespace"]


def _wrap(value: Any) -> Any:
    if isinstance(value, Mapping):
        return Namespace(value)
    if isinstance(value, list | tuple):
        return [_wrap(item) for item in value]
    return value


class Namespace(Mapping[str, Any]):
    """A JSON object readable as ``ns.key``, ``ns["key"]`` and ``ns.get("key")``.

    It holds a deep copy, so an action cannot change what other actions or the issuer see;
    changes go through the ``api`` object. A missing attribute raises ``AttributeError``
    naming the keys that exist.
    """

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, Any]) -> None:
        object.__setattr__(self, "_data", copy.deepcopy(dict(data)))

    def __getattr__(self, name: str) -> Any:
        try:
            return _wrap(self._data[name])
        except KeyError:
            known = ", ".join(sorted(self._data)) or "none"
            raise AttributeError(f"no attribute {name!r} (present: {known})") from None

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("the event is read-only; use the api object to make changes")

    def __getitem__(self, key: str) -> Any:
        return _wrap(self._data[key])

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"Namespace({self._data!r})"

    def to_dict(self) -> dict[str, Any]:
        """A plain deep copy of the data."""
        return copy.deepcopy(self._data)
