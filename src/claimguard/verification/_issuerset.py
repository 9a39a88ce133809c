"""``IssuerSet``: the issuers one verifier trusts, each built once with a key set of its own.

Fixed issuers are found by their exact name; an ``iss`` none of them has goes to the
resolver, if there is one. Every issuer's key set reports removed keys to the
verified-token cache for that issuer's entries only.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import replace
from functools import partial
from typing import Any

from .._clock import Clock
from .._errors import ConfigurationError, InvalidToken
from ..jose._fetch import JSONFetcher
from ._issuerconfig import IssuerConfig, IssuerResolver
from ._issuers import TrustedIssuer, trusted_issuer, wrong_issuer
from ._jwksrules import JWKSRules
from ._metrics import Metrics
from ._resolvedissuers import ResolvedIssuers
from ._tokencache import VerifiedTokenCache

__all__ = ["IssuerSet"]


def _is_async(resolver: object) -> bool:
    """Whether calling ``resolver`` gives a coroutine: an ``async def`` function (also
    wrapped in :func:`functools.partial`) or an object whose ``__call__`` is one."""
    if inspect.iscoroutinefunction(resolver):
        return True
    call = inspect.getattr_static(type(resolver), "__call__", None)
    return callable(resolver) and inspect.iscoroutinefunction(call)


class IssuerSet:
    """The fixed issuers by name, then those ``resolver`` names (see :class:`ResolvedIssuers`)."""

    def __init__(
        self,
        configs: Sequence[IssuerConfig],
        *,
        resolver: IssuerResolver | None,
        max_resolved_issuers: int,
        leeway_seconds: float,
        max_token_age_seconds: float | None,
        fetcher: JSONFetcher,
        clock: Clock,
        rules: JWKSRules,
        cache: VerifiedTokenCache,
        metrics: Metrics | None,
    ) -> None:
        if isinstance(max_resolved_issuers, bool) or max_resolved_issuers < 1:
            raise ConfigurationError("max_resolved_issuers must be at least 1")
        self._build = partial(
            trusted_issuer,
            leeway_seconds=leeway_seconds,
            max_token_age_seconds=max_token_age_seconds,
            fetcher=fetcher,
            clock=clock,
            rules=rules,
        )
        self._cache = cache
        self._metrics = metrics
        self.fixed: dict[str, TrustedIssuer] = {}
        #: Other spellings a provider uses for a fixed issuer, refused with its reason.
        self.recognised: dict[str, tuple[str, str]] = {}
        for config in configs:
            if config.issuer in self.fixed:
                raise ConfigurationError(f"issuer {config.issuer!r} is configured twice")
            self.fixed[config.issuer] = self._trust(config)
        for config in configs:
            self._add_siblings(config, self.fixed[config.issuer])
        self.resolved: ResolvedIssuers | None = None
        if resolver is not None:
            if not _is_async(resolver):
                # A plain function's result cannot be awaited: every token would fail later.
                raise ConfigurationError(
                    "issuer_resolver must be an async callable (an async def function, or an"
                    f" object with an async def __call__), not {type(resolver).__name__}"
                )
            self.resolved = ResolvedIssuers(
                resolver,
                build=self._trust,
                on_evict=self._untrust,
                max_issuers=max_resolved_issuers,
                cooldown_seconds=rules.cooldown_seconds,
                clock=clock,
            )
        #: The one issuer, when there is exactly one and no resolver.
        self.single = (
            next(iter(self.fixed.values()))
            if len(self.fixed) == 1 and self.resolved is None
            else None
        )

    def _trust(self, config: IssuerConfig) -> TrustedIssuer:
        trusted = self._build(config)
        # Entries remember their issuer: a key leaving one issuer's JWKS must not drop
        # tokens another issuer signed with the same key material.
        trusted.key_set.on_keys_removed = partial(self._cache.forget_keys, source=trusted)
        if self._metrics is not None:
            trusted.key_set.on_fetch = self._metrics.jwks_fetch
        return trusted

    def _add_siblings(self, config: IssuerConfig, trusted: TrustedIssuer) -> None:
        profile = trusted.profile
        for sibling, refusal in profile.sibling_issuers(config.issuer).items():
            if sibling in self.fixed:
                continue
            if refusal is not None:
                self.recognised[sibling] = (refusal.code, refusal.description)
                continue
            jwks_uri = config.jwks_uri or profile.sibling_jwks_uri(config.issuer, sibling)
            self.fixed[sibling] = self._trust(replace(config, issuer=sibling, jwks_uri=jwks_uri))

    async def _untrust(self, trusted: TrustedIssuer) -> None:
        self._cache.forget_source(trusted)
        await trusted.key_set.aclose()

    def known(self, iss: Any) -> TrustedIssuer | None:
        """The issuer for ``iss`` when it is fixed or held now (a resolved one is marked as
        used); ``None`` when :meth:`select` must decide. The synchronous fast path."""
        if iss.__class__ is not str:
            return None
        trusted = self.fixed.get(iss)
        if trusted is None and self.resolved is not None:
            trusted = self.resolved.held_now(iss)
        return trusted

    async def select(self, iss: Any) -> TrustedIssuer:
        """The issuer whose keys and rules a token naming ``iss`` is checked against.

        An ``iss`` no configuration accepts is refused here, before any fetch.
        """
        if iss.__class__ is not str:
            raise wrong_issuer(iss)
        trusted = self.fixed.get(iss)
        if trusted is not None:
            return trusted
        known = self.recognised.get(iss)
        if known is not None:
            raise InvalidToken(*known)
        if self.resolved is None:
            raise wrong_issuer(iss)
        return await self.resolved.select(iss)

    def all(self) -> list[TrustedIssuer]:
        """The fixed issuers, then the resolved ones held now."""
        held = () if self.resolved is None else self.resolved.held()
        return [*self.fixed.values(), *held]

    def shared_audiences(self) -> frozenset[str] | None:
        """The audiences every issuer accepts (so a resource in it is every issuer's
        audience); ``None`` when a resolver may add issuers not known yet."""
        if self.resolved is not None:
            return None
        return frozenset.intersection(*(t.audiences for t in self.fixed.values()))
