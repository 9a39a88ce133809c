"""``ClaimProfile``: where one provider's tokens carry scopes, roles and groups.

Every provider puts authorization data somewhere else (``scope`` or ``scp``, a string or a
list, ``realm_access.roles``, ``cognito:groups`` …). A profile names those places, and the
one rule of :mod:`claimguard.verification._claims` turns them into request scopes:

- each claim in ``scope_strings`` (space-separated words, RFC 9068 §2.2.3) and each
  claim in ``scope_lists`` (a JSON list of words) gives its words as they are;
- each claim in ``prefixed`` (a name, or a list of names) gives ``prefix + name`` for
  each name: ``role:admin``, ``group:eng``;
- namespaced custom claims give ``claim:<short>[:value]`` as before.

A scope word that begins with ``claim:`` or with one of the profile's prefixes gives
nothing. Scope words are what a client asked for (RFC 6749 §3.3); roles and groups are
what the provider asserts about the user. Dropping the words spelled like the prefixes
keeps the two apart: a client that requests a scope named ``role:admin`` never passes a
check written for the role ``admin``.

A profile can also add checks of its own (``check_claims``) and explain a refused
``iss`` (``wrong_issuer``). The mapping is done once per verified token: its scopes are
derived on first use and kept with the cached :class:`~claimguard.Claims`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .._errors import ConfigurationError, InvalidToken

if TYPE_CHECKING:
    from ._claimchecks import ClaimChecks
    from ._claims import Namespaces

__all__ = ["CLAIM_SCOPE_PREFIX", "DEFAULT_PROFILE", "ClaimProfile", "claim_at", "claim_scopes"]

CLAIM_SCOPE_PREFIX = "claim:"

Path = tuple[str, ...]


def _path(dotted: Any, option: str) -> Path:
    if not isinstance(dotted, str) or not dotted:
        raise ConfigurationError(f"{option}: a claim path must be a non-empty string")
    path = tuple(dotted.split("."))
    if not all(path) or any(c.isspace() for c in dotted):
        raise ConfigurationError(f"{option}: {dotted!r} is not a dotted claim path")
    return path


def _paths(dotted: Sequence[str], option: str) -> tuple[Path, ...]:
    if isinstance(dotted, str):
        raise ConfigurationError(f"{option} must be a sequence of claim paths, not one string")
    return tuple(_path(d, option) for d in dotted)


def _prefix(prefix: Any) -> str:
    if (
        not isinstance(prefix, str)
        or len(prefix) < 2
        or not prefix.endswith(":")
        or any(c.isspace() for c in prefix)
    ):
        raise ConfigurationError(
            f"prefixed: prefix {prefix!r} must be a word ending with ':' (such as 'role:')"
        )
    if prefix.startswith(CLAIM_SCOPE_PREFIX) or CLAIM_SCOPE_PREFIX.startswith(prefix):
        raise ConfigurationError(
            f"prefixed: prefix {prefix!r} would read as a namespaced claim's 'claim:' scope"
        )
    return prefix


def claim_at(payload: Mapping[str, Any], path: Path) -> Any:
    """The value at ``path`` (object members, one per segment), or ``None``."""
    value: Any = payload
    for name in path:
        if not isinstance(value, dict):
            return None
        value = value.get(name)
    return value


def _is_name(item: Any) -> bool:
    return isinstance(item, str) and bool(item) and not any(c.isspace() for c in item)


def claim_scopes(short: str, value: Any) -> Iterator[str]:
    """The ``claim:`` scopes of one custom claim (see :mod:`claimguard.verification._claims`)."""
    name = CLAIM_SCOPE_PREFIX + short
    if value is True:
        yield name
    elif value is False or value is None:
        return
    elif isinstance(value, str):
        if _is_name(value):
            yield f"{name}:{value}"
    elif isinstance(value, int):
        yield f"{name}:{value}"
    elif isinstance(value, float):
        if math.isfinite(value):
            yield f"{name}:{int(value) if value.is_integer() else value}"
    elif isinstance(value, list):
        for item in value:
            if _is_name(item):
                yield f"{name}:{item}"


@dataclass(frozen=True, kw_only=True)
class ClaimProfile:
    """Where an issuer's tokens carry scopes, roles and groups, and what else is checked.

    - ``scope_strings``: dotted paths of claims holding space-separated scope words;
    - ``scope_lists``: dotted paths of claims holding lists of scope words;
    - ``prefixed``: dotted path → prefix; each name the claim holds (a string, or a list
      of strings) becomes the scope ``prefix + name``. A prefix ends with ``:`` and may
      not be ``claim:``; names holding white space give no scope (they stay readable in
      the claims);
    - ``client_claim`` and ``client_ids``: when ``client_ids`` is given, the claim named
      ``client_claim`` (the client the token was issued to, such as ``azp``) must be one
      of them, else ``wrong_client``.

    The defaults are claimguard's rule without a profile: ``scope`` and Auth0's
    ``permissions``. For example, a Keycloak-like issuer's realm roles and an ``org.teams``
    list::

        ClaimProfile(prefixed={"realm_access.roles": "role:", "org.teams": "team:"})
    """

    name: str = "custom"
    scope_strings: Sequence[str] = ("scope",)
    scope_lists: Sequence[str] = ("permissions",)
    prefixed: Mapping[str, str] = field(default_factory=dict)
    client_claim: str | None = None
    client_ids: Sequence[str] = ()
    _strings: tuple[Path, ...] = field(init=False, repr=False, compare=False)
    _lists: tuple[Path, ...] = field(init=False, repr=False, compare=False)
    _prefixed: tuple[tuple[Path, str], ...] = field(init=False, repr=False, compare=False)
    _reserved: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.prefixed, Mapping):
            raise ConfigurationError("prefixed must map claim paths to prefixes")
        prefixed = tuple(
            (_path(path, "prefixed"), _prefix(prefix)) for path, prefix in self.prefixed.items()
        )
        self._set("_strings", _paths(self.scope_strings, "scope_strings"))
        self._set("_lists", _paths(self.scope_lists, "scope_lists"))
        self._set("_prefixed", prefixed + self._more_prefixed())
        prefixes = {prefix for _, prefix in self._prefixed}
        self._set("_reserved", (CLAIM_SCOPE_PREFIX, *sorted(prefixes)))
        if isinstance(self.client_ids, str) or not all(map(_is_name, self.client_ids)):
            raise ConfigurationError("client_ids must be a sequence of client ids")
        if self.client_ids and not _is_name(self.client_claim):
            raise ConfigurationError("client_ids needs client_claim, the claim naming the client")

    def _set(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)

    def _more_prefixed(self) -> tuple[tuple[Path, str], ...]:
        """Prefixed paths a provider adds from its own options."""
        return ()

    # -- configuration --------------------------------------------------------------------

    def bind(self, *, issuer: str, audiences: frozenset[str]) -> ClaimProfile:
        """The profile an issuer's tokens use, checked against that issuer's configuration
        (raises :class:`ConfigurationError` when they do not fit)."""
        return self

    def default_jwks_uri(self, issuer: str) -> str | None:
        """Where the provider publishes its keys when discovery is not the way."""
        return None

    def sibling_issuers(self, issuer: str) -> dict[str, InvalidToken | None]:
        """Other ``iss`` values the provider uses for the same issuer: each maps to its
        refusal, or to ``None`` when it is accepted too (with a key set of its own, from
        :meth:`sibling_jwks_uri`)."""
        return {}

    def sibling_jwks_uri(self, issuer: str, sibling: str) -> str | None:
        """Where an accepted sibling issuer's keys are (``None``: its discovery)."""
        return None

    # -- per token ------------------------------------------------------------------------

    def check_claims(self, payload: dict[str, Any], now: float, checks: ClaimChecks) -> None:
        """The audience and the profile's own checks, once the signature holds."""
        checks.check_audience(payload.get("aud"))
        self.check_client(payload)

    def check_client(self, payload: dict[str, Any]) -> None:
        if not self.client_ids or self.client_claim is None:
            return
        client = payload.get(self.client_claim)
        if client is None:
            raise InvalidToken("missing_claim", f"The token has no {self.client_claim!r} claim.")
        if client.__class__ is not str or client not in self.client_ids:
            raise InvalidToken("wrong_client", "The token was issued to a client this API refuses.")

    def wrong_issuer(self, iss: Any) -> InvalidToken:
        """The refusal of a token whose ``iss`` is not the configured issuer."""
        return InvalidToken("wrong_issuer", "The token was issued by another issuer.")

    def custom(self, payload: Mapping[str, Any], namespaces: Namespaces) -> dict[str, Any]:
        """The custom claims under their short names: the namespaced ones."""
        return namespaces.split(payload)

    def scopes(self, payload: Mapping[str, Any], custom: Mapping[str, Any]) -> frozenset[str]:
        """The request scopes of a verified payload (see the module docstring)."""
        reserved = self._reserved

        def is_word(word: Any) -> bool:
            return (
                isinstance(word, str) and bool(word) and " " not in word
            ) and not word.startswith(reserved)

        scopes: list[str] = []
        for path in self._strings:
            value = claim_at(payload, path)
            if isinstance(value, str):
                scopes.extend(filter(is_word, value.split()))
        for path in self._lists:
            value = claim_at(payload, path)
            if isinstance(value, list):
                scopes.extend(filter(is_word, value))
        for path, prefix in self._prefixed:
            value = claim_at(payload, path)
            if isinstance(value, str):
                value = [value]
            if isinstance(value, list):
                scopes.extend(prefix + item for item in value if _is_name(item))
        for short, value in custom.items():
            if ":" not in short:
                scopes.extend(claim_scopes(short, value))
        return frozenset(scopes)


DEFAULT_PROFILE = ClaimProfile(name="default")
"""claimguard's rule when no profile is named: ``scope``, ``permissions``, namespaces."""
