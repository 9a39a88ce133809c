"""``TokenVerifier``: from a bearer token string to trusted :class:`Claims`, or a clear refusal.

The options are checked here, when the verifier is built; the steps from a token to its
claims are :class:`~claimguard.verification._tokenreader.TokenReader`'s, and a DPoP proof's are
:class:`~claimguard.verification._dpoppolicy.DPoPPolicy`'s.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType
from typing import Self

import httpx

from .._clock import Clock, SystemClock
from .._errors import ConfigurationError, InvalidToken
from .._version import __version__
from ..jose._fetch import JSONFetcher
from ._claims import Claims
from ._dpoppolicy import DPoPMode, DPoPPolicy
from ._inspection import IssuerInspection
from ._issuerconfig import IssuerConfig, IssuerResolver, issuer_configs
from ._issuerset import IssuerSet
from ._jwksrules import JWKSRules
from ._metrics import MeterProvider, Metrics, metrics_from
from ._options import MAX_LEEWAY_SECONDS, check_jwks_options
from ._profile import ClaimProfile
from ._replay import ReplayStore
from ._tokencache import VerifiedTokenCache, validity_window
from ._tokenreader import TokenReader

__all__ = ["TokenVerifier"]


class TokenVerifier(IssuerInspection):
    """Verify bearer JWTs signed by one issuer, or several, with keys from their JWKS.

    ``await verifier.verify(token)`` returns :class:`Claims` or raises
    :class:`InvalidToken` (401) or :class:`KeySetUnavailable` (503); nothing else escapes.

    Options (all keyword-only, checked here rather than on the first request):

    - ``issuer``: the exact ``iss`` string (Auth0's ends with ``/``); discovery is at
      ``{issuer without trailing slash}/.well-known/openid-configuration``.
    - ``audience``: the ``aud`` this API accepts (a string, or several).
    - ``namespace``: one or more URL prefixes of custom claims (see :class:`Claims`).
      Once a namespace is configured only namespaced claims count for
      :func:`~claimguard.requires_claim`; ``fallback_to_plain_claims=True`` lets a short
      name also match a plain, non-namespaced claim of that name.
    - ``algorithms``: the allowlist; default RS256, PS256, ES256, EdDSA and its
      fully-specified name Ed25519 (RFC 9864). ``none`` and
      HMAC algorithms are refused: keys come from a public JWKS.
    - ``jwks_uri``: skip discovery and fetch keys from here.
    - ``profile``: where the provider's tokens carry scopes, roles and groups, and its
      extra checks: ``"auth0"``, ``"okta"``, ``"entra"``, ``"keycloak"``, ``"cognito"``,
      ``"firebase"`` or a :class:`ClaimProfile`; ``None`` (default) is ``scope``,
      ``permissions`` and namespaced claims.
    - ``leeway_seconds`` (default 30, at most 300) for ``exp``/``nbf``/``iat``;
      ``max_token_age_seconds`` requires ``iat`` and refuses older tokens;
      ``require_at_jwt`` requires header ``typ`` ``at+jwt`` (RFC 9068 §4).
    - ``max_token_bytes`` (default 16 KiB); ``token_cache_size`` (default 4096, 0 disables).
    - ``http_client`` and ``clock`` are injected collaborators.
    - several issuers: ``issuers=[IssuerConfig(...), ...]`` and/or ``issuer_resolver=``
      (an async callable from a token's ``iss`` to an :class:`IssuerConfig` or ``None``)
      instead of ``issuer``/``audience``/``namespace``/``algorithms``/``jwks_uri``/
      ``profile``. The unverified ``iss`` only selects a configuration (fixed ones first);
      its issuer must equal ``iss`` exactly and the signature is checked with that
      issuer's own keys. An
      ``iss`` nobody accepts is ``wrong_issuer`` with no network access; a refusal by the
      resolver is remembered for ``jwks_cooldown_seconds``; at most
      ``max_resolved_issuers`` (default 100) resolved issuers are held, least recently
      used out first. With several issuers ``issuer``, ``namespaces``, ``algorithms`` and
      ``key_set`` are ``None``, and ``audiences`` holds the audiences every fixed issuer
      accepts (``None`` with a resolver); :attr:`Claims.issuer` names the one that
      accepted a token.
    - ``metrics``: ``False`` (default) records nothing and imports nothing; ``True`` records
      OpenTelemetry metrics on the global meter provider, or pass a ``MeterProvider``
      (needs ``claimguard-asgi[otel]``). The middleware counts its decisions on them too.
    - ``jwks_*``: see :class:`KeySet`'s rules (max age, refresh ahead, cooldown, stale
      period, timeout, body cap); an :class:`IssuerConfig` may set its own for its issuer.
    - DPoP (RFC 9449): ``dpop`` is ``"allowed"`` (default: a token bound to a key, with
      ``cnf.jkt``, needs the ``DPoP`` scheme and a proof; unbound tokens still work as
      ``Bearer``), ``"required"`` (``Bearer`` refused) or ``"disabled"`` (only ``Bearer``;
      bound tokens refused). ``dpop_replay_store`` remembers proof ids (default a
      :class:`~claimguard.dpop.MemoryReplayStore` on this verifier's clock; share one
      between replicas); ``dpop_nonce_secret`` (at least 32 bytes, the same on every
      replica) turns on server nonces, valid ``dpop_nonce_step_seconds`` (default 300) to
      twice that; ``public_origin`` (``https://api.example.com``) is the origin proofs
      must name in ``htu`` — set it behind a proxy, else the request's own scheme and
      ``Host`` are used; ``dpop_iat_window_seconds`` (default 60) and
      ``dpop_iat_future_seconds`` (default 5) bound a proof's ``iat``;
      ``dpop_replay_skew_seconds`` (default 10, at most 300) is added to that window for
      as long as a proof id is remembered, for replicas whose clocks disagree;
      ``dpop_max_proof_bytes`` (default 8 KiB) caps its size. See :meth:`verify_dpop`.
    """

    def __init__(
        self,
        *,
        issuer: str | None = None,
        audience: str | Sequence[str] | None = None,
        namespace: str | Sequence[str] | None = None,
        fallback_to_plain_claims: bool = False,
        algorithms: Sequence[str] | None = None,
        jwks_uri: str | None = None,
        profile: str | ClaimProfile | None = None,
        issuers: Sequence[IssuerConfig] | None = None,
        issuer_resolver: IssuerResolver | None = None,
        max_resolved_issuers: int = 100,
        leeway_seconds: float = 30,
        max_token_age_seconds: float | None = None,
        require_at_jwt: bool = False,
        max_token_bytes: int = 16 * 1024,
        token_cache_size: int = 4096,
        http_client: httpx.AsyncClient | None = None,
        clock: Clock | None = None,
        jwks_max_age_seconds: float = 600,
        jwks_refresh_ahead_seconds: float = 60,
        jwks_cooldown_seconds: float = 30,
        jwks_stale_seconds: float = 24 * 3600,
        jwks_timeout_seconds: float = 5,
        jwks_max_bytes: int = 256 * 1024,
        metrics: bool | MeterProvider = False,
        dpop: DPoPMode = "allowed",
        dpop_replay_store: ReplayStore | None = None,
        dpop_nonce_secret: str | bytes | None = None,
        dpop_nonce_step_seconds: float = 300,
        public_origin: str | None = None,
        dpop_iat_window_seconds: float = 60,
        dpop_iat_future_seconds: float = 5,
        dpop_replay_skew_seconds: float = 10,
        dpop_max_proof_bytes: int = 8 * 1024,
    ) -> None:
        configs = issuer_configs(
            issuer=issuer,
            audience=audience,
            namespace=namespace,
            fallback_to_plain_claims=fallback_to_plain_claims,
            algorithms=algorithms,
            jwks_uri=jwks_uri,
            profile=profile,
            issuers=issuers,
            issuer_resolver=issuer_resolver,
        )
        if not 0 <= leeway_seconds <= MAX_LEEWAY_SECONDS:
            raise ConfigurationError(f"leeway_seconds must be between 0 and {MAX_LEEWAY_SECONDS}")
        self.leeway_seconds = float(leeway_seconds)
        if max_token_age_seconds is not None and max_token_age_seconds <= 0:
            raise ConfigurationError("max_token_age_seconds must be positive")
        self.max_token_age_seconds = max_token_age_seconds
        self.require_at_jwt = require_at_jwt
        if max_token_bytes < 256:
            raise ConfigurationError("max_token_bytes must be at least 256")
        self.max_token_bytes = max_token_bytes
        if token_cache_size < 0:
            raise ConfigurationError("token_cache_size must not be negative")
        check_jwks_options(
            max_age_seconds=jwks_max_age_seconds,
            refresh_ahead_seconds=jwks_refresh_ahead_seconds,
            cooldown_seconds=jwks_cooldown_seconds,
            stale_seconds=jwks_stale_seconds,
            timeout_seconds=jwks_timeout_seconds,
            max_bytes=jwks_max_bytes,
        )

        self.clock: Clock = clock if clock is not None else SystemClock()
        policy = self._dpop = DPoPPolicy(
            mode=dpop,
            replay_store=dpop_replay_store,
            nonce_secret=dpop_nonce_secret,
            nonce_step_seconds=dpop_nonce_step_seconds,
            public_origin=public_origin,
            iat_window_seconds=dpop_iat_window_seconds,
            iat_future_seconds=dpop_iat_future_seconds,
            replay_skew_seconds=dpop_replay_skew_seconds,
            max_proof_bytes=dpop_max_proof_bytes,
            clock=self.clock,
        )
        self.dpop: DPoPMode = policy.mode
        self.public_origin = policy.public_origin
        self._fetcher = JSONFetcher(
            client=http_client,
            timeout_seconds=jwks_timeout_seconds,
            max_bytes=jwks_max_bytes,
            user_agent=f"claimguard/{__version__} (JWKS fetch; +https://pypi.org/project/claimguard-asgi/)",
        )
        self._rules = JWKSRules(
            jwks_max_age_seconds,
            jwks_refresh_ahead_seconds,
            jwks_cooldown_seconds,
            jwks_stale_seconds,
            jwks_timeout_seconds,
            jwks_max_bytes,
        )
        self._cache = VerifiedTokenCache(token_cache_size)
        self.metrics: Metrics | None = metrics_from(metrics)
        trust = self._issuers = IssuerSet(
            configs,
            resolver=issuer_resolver,
            max_resolved_issuers=max_resolved_issuers,
            leeway_seconds=self.leeway_seconds,
            max_token_age_seconds=max_token_age_seconds,
            fetcher=self._fetcher,
            clock=self.clock,
            rules=self._rules,
            cache=self._cache,
            metrics=self.metrics,
        )
        single = self._single = trust.single
        # One issuer: its settings, as before. Several: see the class docstring.
        self.issuer: str | None = None if single is None else single.issuer
        self.audiences = trust.shared_audiences()
        self.namespaces = None if single is None else single.namespaces
        self.algorithms = None if single is None else single.algorithms
        self.key_set = None if single is None else single.key_set
        self._reader = TokenReader(
            trust,
            cache=self._cache,
            clock=self.clock,
            algorithms=self.algorithms,
            require_at_jwt=require_at_jwt,
            max_token_bytes=max_token_bytes,
            leeway_seconds=self.leeway_seconds,
            max_token_age_seconds=max_token_age_seconds,
        )
        if self.metrics is not None:
            # Instrumented only when asked: without metrics, verify() is the plain method.
            self.verify = self.metrics.timed(self.verify)  # type: ignore[method-assign]
            self.verify_dpop = self.metrics.timed(self.verify_dpop, scheme="dpop")  # type: ignore[method-assign]

    # -- verification -------------------------------------------------------------------

    async def verify(self, token: str) -> Claims:
        """Verify ``token``, presented with the ``Bearer`` scheme, and return its claims;
        see the class docstring for the errors.

        A token bound to a DPoP key is refused here (RFC 9449 §7.2), cached or not, and so
        is every token when ``dpop="required"``: use :meth:`verify_dpop`.
        """
        if self.dpop == "required":
            raise InvalidToken(
                "dpop_required",
                "This resource accepts only DPoP-bound tokens, sent with the DPoP scheme and"
                " a proof.",
            )
        # A known token is answered without a coroutine: the cache's hot path.
        claims = self._reader.fresh(token) if type(token) is str else None
        if claims is None:
            claims = await self._reader.claims(token)
        if "cnf" in claims:
            self._dpop.check_bearer(claims)
        return claims

    async def verify_dpop(self, token: str, proof: str, *, method: str, url: str) -> Claims:
        """Verify ``token`` presented with the ``DPoP`` scheme and its ``proof`` for the
        request ``method url`` (``url`` normalised by
        :func:`~claimguard.verification._htu.request_htu`).

        The proof is checked on every call and its ``jti`` recorded in the replay store,
        even when the token itself comes from the verified-token cache. Raises
        :class:`InvalidDPoPProof` (:class:`UseDPoPNonce` when a nonce is due),
        :class:`InvalidToken`, :class:`KeySetUnavailable` or :class:`ReplayStoreUnavailable`.
        """
        policy = self._dpop
        if policy.mode == "disabled":
            raise InvalidToken("dpop_disabled", "DPoP is not accepted by this resource.")
        if not isinstance(token, str) or not isinstance(proof, str):
            raise InvalidToken("malformed", "The token is not a string.")
        checked = policy.check_proof(proof, token=token, method=method, htu=url)
        claims = await self._reader.claims(token)
        await policy.bind(checked, claims)
        return claims

    def dpop_nonce(self) -> str | None:
        """The ``DPoP-Nonce`` to send with a response, or ``None`` when nonces are off."""
        return self._dpop.next_nonce()

    def valid_until(self, claims: Claims) -> float:
        """When ``claims`` (verified by this verifier) stop being accepted, on its clock:
        the earlier of ``exp`` and ``iat + max_token_age_seconds``, plus the leeway."""
        return validity_window(
            exp=claims["exp"],
            nbf=None,
            iat=claims.get("iat"),
            leeway_seconds=self.leeway_seconds,
            max_age_seconds=self.max_token_age_seconds,
        )[1]

    # -- lifetime ---------------------------------------------------------------------

    @property
    def cached_tokens(self) -> int:
        """How many verified tokens the cache holds now."""
        return len(self._cache)

    async def aclose(self) -> None:
        """Stop background refreshes and close the HTTP client if the verifier made it."""
        for trusted in self._issuers.all():
            await trusted.key_set.aclose()
        await self._fetcher.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
