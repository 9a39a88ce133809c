"""Verified claims and the one rule that turns them into request scopes.

The rule (written down once, here; an issuer's :class:`~claimguard.ClaimProfile` says
which claims feed it, and the default is what follows):

- ``scope`` (a space-separated string) gives one scope per word;
- ``permissions`` (Auth0 RBAC, a list of strings) gives one scope per item;
- a profile's role and group claims give ``role:<name>``, ``group:<name>`` … (see
  :mod:`claimguard.verification._profile`);
- each claim under a configured namespace, by its short name ``n``, gives scopes spelled
  with the prefix ``claim:``: ``true`` gives ``claim:n``; a string or number ``v`` gives
  ``claim:n:v``; a list of strings gives ``claim:n:item`` for each string; ``false``,
  ``null`` and objects give nothing (they stay readable from :attr:`Claims.custom`);
- a ``scope`` word or permission that itself starts with ``claim:`` (or with one of the
  profile's prefixes) gives nothing, and neither does a namespaced claim whose short name
  holds ``:`` (``roles:admin: true`` would otherwise read as the item ``admin`` of a
  ``roles`` claim).

Scope words are what a client asked for (RFC 6749 §3.3); claims are what the issuer
asserts about the user. The ``claim:`` spelling keeps the two apart, so a client that
requests a scope named like a claim (``admin``) never passes a check written for the
claim (``claim:admin``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from types import MappingProxyType
from typing import Any

from .._errors import ConfigurationError
from ._profile import CLAIM_SCOPE_PREFIX, DEFAULT_PROFILE, ClaimProfile

__all__ = ["CLAIM_SCOPE_PREFIX", "AmbiguousClaim", "Claims", "Namespaces"]


class AmbiguousClaim(ValueError):
    """A token defines one short name under two namespaces."""


class Namespaces:
    """An ordered set of claim namespaces (URL prefixes such as ``https://app.example.com/``).

    A namespace that does not end with ``/`` gets one, so ``https://app.example.com``
    and ``https://app.example.com/`` mean the same prefix.

    Once a namespace is configured, a short name means a namespaced claim only:
    namespacing exists to keep lookalike claims out. ``fallback_to_plain_claims=True``
    lets :meth:`Claims.lookup` fall back to a plain claim of the same name.
    """

    __slots__ = ("_prefixes", "fallback_to_plain_claims")

    def __init__(
        self,
        namespaces: str | Sequence[str] | None = None,
        *,
        fallback_to_plain_claims: bool = False,
    ) -> None:
        if namespaces is None:
            raw: Sequence[str] = ()
        elif isinstance(namespaces, str):
            raw = (namespaces,)
        else:
            raw = tuple(namespaces)
        prefixes: list[str] = []
        for ns in raw:
            if not isinstance(ns, str) or not ns.strip():
                raise ConfigurationError(f"namespace must be a non-empty string, got {ns!r}")
            if any(c.isspace() for c in ns):
                raise ConfigurationError(f"namespace {ns!r} contains white space")
            prefix = ns if ns.endswith("/") else ns + "/"
            if prefix in prefixes:
                raise ConfigurationError(f"namespace {prefix!r} is configured twice")
            for other in prefixes:
                if prefix.startswith(other) or other.startswith(prefix):
                    raise ConfigurationError(
                        f"namespaces {other!r} and {prefix!r} overlap; a claim name would "
                        "belong to both"
                    )
            prefixes.append(prefix)
        self._prefixes = tuple(prefixes)
        self.fallback_to_plain_claims = fallback_to_plain_claims

    @property
    def prefixes(self) -> tuple[str, ...]:
        return self._prefixes

    def __bool__(self) -> bool:
        return bool(self._prefixes)

    def __repr__(self) -> str:
        fallback = ", fallback_to_plain_claims=True" if self.fallback_to_plain_claims else ""
        return f"Namespaces({list(self._prefixes)!r}{fallback})"

    def plain_names_count(self) -> bool:
        """Whether a plain (non-namespaced) claim may stand for a short name."""
        return not self._prefixes or self.fallback_to_plain_claims

    def split(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """Return the namespaced claims of ``payload`` under their short names.

        A short name defined under two namespaces in one token is refused with
        :class:`AmbiguousClaim`: the verifier turns it into an invalid token, never a
        silent pick.
        """
        custom: dict[str, Any] = {}
        prefixes = self._prefixes
        if not prefixes:
            return custom
        for name, value in payload.items():
            if not name.startswith(prefixes):  # one C call tests every prefix
                continue
            for prefix in prefixes:
                if name.startswith(prefix) and len(name) > len(prefix):
                    short = name[len(prefix) :]
                    if short in custom:
                        raise AmbiguousClaim(
                            f"The claim {short!r} is defined under two namespaces."
                        )
                    custom[short] = value
                    break
        return custom


_NO_NAMESPACES = Namespaces()


class Claims(Mapping[str, Any]):
    """A read-only mapping of a verified token's payload.

    Verified claims are cached and shared between requests: treat nested values
    (lists, objects) as read-only too.

    ``custom`` holds the namespaced claims under their short names, ``subject`` the
    ``sub`` claim and ``scopes`` the request scopes derived by the module's rule.
    """

    __slots__ = ("_custom", "_issuer", "_namespaces", "_payload", "_profile", "_scopes")

    def __init__(
        self,
        payload: Mapping[str, Any],
        namespaces: Namespaces | None = None,
        *,
        issuer: str | None = None,
        profile: ClaimProfile | None = None,
    ) -> None:
        self._payload = dict(payload)
        self._namespaces = namespaces or _NO_NAMESPACES
        self._issuer = issuer
        self._profile = profile or DEFAULT_PROFILE
        self._custom: dict[str, Any] | None = None
        self._scopes: frozenset[str] | None = None
        if len(self._namespaces.prefixes) > 1:
            self._custom_claims()  # refuse an ambiguous token now, not on first use

    @classmethod
    def _owning(
        cls, payload: dict[str, Any], namespaces: Namespaces, issuer: str, profile: ClaimProfile
    ) -> Claims:
        """Build from a freshly decoded payload that nobody else holds (no copy)."""
        claims = cls.__new__(cls)
        claims._payload = payload
        claims._namespaces = namespaces
        claims._issuer = issuer
        claims._profile = profile
        claims._custom = None
        claims._scopes = None
        if len(namespaces.prefixes) > 1:
            claims._custom_claims()
        return claims

    def _custom_claims(self) -> dict[str, Any]:
        # Derived on first use: a verified token that is never asked for its custom
        # claims or scopes costs nothing more. Safe to race: the result is the same.
        custom = self._custom
        if custom is None:
            custom = self._custom = self._profile.custom(self._payload, self._namespaces)
        return custom

    def _derive_scopes(self) -> frozenset[str]:
        return self._profile.scopes(self._payload, self._custom_claims())

    def __getitem__(self, key: str) -> Any:
        return self._payload[key]

    # Mapping's own versions go through __getitem__ and a KeyError for every absent claim;
    # the verifier asks for "cnf" on every request, cached tokens included.
    def __contains__(self, key: object) -> bool:
        return key in self._payload

    def get(self, key: str, default: Any = None) -> Any:
        return self._payload.get(key, default)

    def __iter__(self) -> Iterator[str]:
        return iter(self._payload)

    def __len__(self) -> int:
        return len(self._payload)

    def __repr__(self) -> str:
        return f"Claims(subject={self.subject!r}, custom={self._custom_claims()!r})"

    @property
    def custom(self) -> Mapping[str, Any]:
        """The namespaced claims under their short names (a read-only view)."""
        return MappingProxyType(self._custom_claims())

    @property
    def issuer(self) -> str | None:
        """The configured issuer that accepted the token (its ``iss``, compared exactly);
        ``None`` for claims built by hand rather than by a verifier."""
        return self._issuer

    @property
    def dpop_jkt(self) -> str | None:
        """The RFC 7638 thumbprint of the key the token is bound to (``cnf.jkt``, RFC 9449
        §6), or ``None`` for a bearer token. A verifier accepts a bound token only with a
        proof signed by that key."""
        cnf = self._payload.get("cnf")
        jkt = cnf.get("jkt") if isinstance(cnf, dict) else None
        return jkt if isinstance(jkt, str) and jkt else None

    @property
    def subject(self) -> str | None:
        """The ``sub`` claim, or ``None`` when the token has none."""
        sub = self._payload.get("sub")
        return sub if isinstance(sub, str) else None

    @property
    def scopes(self) -> frozenset[str]:
        """The request scopes this token grants (see the module docstring)."""
        scopes = self._scopes
        if scopes is None:
            scopes = self._scopes = self._derive_scopes()
        return scopes

    def lookup(self, name: str) -> tuple[bool, Any]:
        """Find a claim by short name under the namespaces, or by its full namespaced name.

        A plain claim of that name counts only when no namespace is configured or the
        verifier was built with ``fallback_to_plain_claims=True``. Returns
        ``(found, value)``.
        """
        custom = self._custom_claims()
        if name in custom:
            return True, custom[name]
        namespaces = self._namespaces
        if name in self._payload and (
            namespaces.plain_names_count() or name.startswith(namespaces.prefixes)
        ):
            return True, self._payload[name]
        return False, None
