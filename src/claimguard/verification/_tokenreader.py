"""``TokenReader``: a compact JWS access token read into :class:`Claims`, or refused.

The order of checks is the order of trust: shape and size, header and algorithm policy,
the key from the issuer's JWKS, the signature, and only then the payload's claims. A
verified token is remembered (the exact string), so a repeated token costs a dictionary
lookup plus the time checks, which run again on every hit.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from .._clock import Clock
from .._errors import ClaimGuardError, InvalidToken
from ..jose._jwk import ECDSA_ALGORITHMS, VerificationKey
from ..jose._jwks import KeySet
from ..jose._jws import Header, decode_json_object, parse_header, split_compact
from ._claims import AmbiguousClaim, Claims
from ._issuerset import IssuerSet
from ._tokencache import CachedToken, VerifiedTokenCache, validity_window

__all__ = ["TokenReader"]

_HEADER_CACHE_SIZE = 64


class TokenReader:
    """The verification steps of :class:`~claimguard.TokenVerifier`, on the options it
    checked: from a token string to its claims, through the issuers it trusts."""

    def __init__(
        self,
        issuers: IssuerSet,
        *,
        cache: VerifiedTokenCache,
        clock: Clock,
        algorithms: Collection[str] | None,
        require_at_jwt: bool,
        max_token_bytes: int,
        leeway_seconds: float,
        max_token_age_seconds: float | None,
    ) -> None:
        self._issuers = issuers
        # The hot path reads these two directly.
        self._single = issuers.single
        self._resolved = issuers.resolved
        self._cache = cache
        self._clock = clock
        self._algorithms = algorithms
        self._require_at_jwt = require_at_jwt
        self._max_token_bytes = max_token_bytes
        self._leeway_seconds = leeway_seconds
        self._max_token_age_seconds = max_token_age_seconds
        self._headers: dict[bytes, Header] = {}

    def fresh(self, token: str) -> Claims | None:
        """``token``'s claims if the cache holds them and nothing needs checking again (its
        window, its issuer still held, its keys not due a refresh); else ``None``. Plain
        and synchronous: the hot path of every request with a known token."""
        hit = self._cache.get(token)
        if hit is None:
            return None
        source = hit.source
        if source is None or (self._resolved is not None and not self._resolved.still_held(source)):
            return None
        now = self._clock.time()
        if hit.valid_from <= now < hit.valid_until and now < source.key_set.fresh_until:
            return hit.claims
        return None

    async def claims(self, token: str) -> Claims:
        """``token``'s verified claims; raises :class:`InvalidToken` or
        :class:`KeySetUnavailable`."""
        if not isinstance(token, str):
            raise InvalidToken("malformed", "The token is not a string.")
        now = self._clock.time()
        hit = self._cache.get(token)
        if hit is not None:
            source = hit.source
            # A resolved issuer pushed out of the cache since: verified anew, resolved again.
            if source is not None and (self._resolved is None or self._resolved.still_held(source)):
                if hit.valid_from <= now < hit.valid_until and now < source.key_set.fresh_until:
                    return hit.claims
                try:
                    cached = await self._cached_claims(hit, now)
                except ClaimGuardError as error:
                    error.issuer = source.issuer
                    raise
                if cached is not None:
                    return cached
        trusted = self._single
        try:
            header_segment, payload_segment, signature, signing_input = split_compact(
                token, max_bytes=self._max_token_bytes
            )
            header = self._headers.get(header_segment) or self._header(header_segment)
            payload: dict[str, Any] | None = None
            if trusted is None:
                # Several issuers: the payload is decoded once, before the signature check,
                # and its iss only selects whose keys and rules to try.
                payload = decode_json_object(payload_segment, "payload")
                iss = payload.get("iss")
                # Known issuers are found without awaiting; only a new iss goes further.
                trusted = self._issuers.known(iss) or await self._issuers.select(iss)
                if header.alg not in trusted.algorithms:
                    raise InvalidToken("alg_not_allowed", "The token's algorithm is not allowed.")
            if header.alg in ECDSA_ALGORITHMS and self._cache.maxsize:
                twin = self._cache.twin(token, signature, header.alg)
                if twin is not None:
                    cached = await self._cached_claims(twin, now)
                    if cached is not None:
                        return cached
            key_set = trusted.key_set
            key = key_set.fresh(header.kid, now) or await key_set.get(header.kid)
            check_signature = key.verifiers.get(header.alg)
            if check_signature is None:
                # RFC 8725 §3.1: the algorithm must fit the key, never the other way round.
                raise InvalidToken(
                    "alg_key_mismatch", "The token's algorithm does not match its key."
                )
            if not check_signature(signing_input, signature):
                key = await _replacement_key(key_set, key, header.alg, signing_input, signature)
            if payload is None:
                payload = decode_json_object(payload_segment, "payload")
            exp, nbf, iat = trusted.claim_checks.check(payload, now)
            claims = Claims._owning(payload, trusted.namespaces, trusted.issuer, trusted.profile)
        except ClaimGuardError as error:
            # The logs name the issuer whose keys and rules refused the token.
            error.issuer = None if trusted is None else trusted.issuer
            raise
        except (ValueError, TypeError, OverflowError, RecursionError) as exc:
            refusal = (
                InvalidToken("ambiguous_claim", str(exc))
                if isinstance(exc, AmbiguousClaim)
                else InvalidToken("malformed", "The token could not be decoded.")
            )
            refusal.issuer = None if trusted is None else trusted.issuer
            raise refusal from exc
        if self._cache.maxsize and (self._resolved is None or self._resolved.still_held(trusted)):
            valid_from, valid_until = validity_window(
                exp=exp,
                nbf=nbf,
                iat=iat,
                leeway_seconds=self._leeway_seconds,
                max_age_seconds=self._max_token_age_seconds,
            )
            self._cache.put(
                token,
                CachedToken(claims, valid_from, valid_until, key.thumbprint, key.kid, trusted),
            )
        return claims

    async def _cached_claims(self, entry: CachedToken, now: float) -> Claims | None:
        """A cached token's claims, once its time rules hold at ``now`` and, when the keys
        are due a refresh, once its key is still to be had; ``None`` when its key material
        is no longer published under its ``kid`` (then it is verified anew).

        The cache never outlives the key set: while the keys are due a refresh a cached
        token asks the key set as a new token would, so the refresh happens, the stale
        period ends in 503 and a removed key's tokens are refused.
        """
        trusted = entry.source
        if trusted is None:
            return None
        seen = entry.claims
        if not entry.valid_from <= now < entry.valid_until:
            trusted.claim_checks.check_times(seen["exp"], seen.get("nbf"), seen.get("iat"), now)
        key_set = trusted.key_set
        if now >= key_set.fresh_until:
            key = key_set.fresh(entry.kid, now) or await key_set.get(entry.kid)
            if key.thumbprint != entry.key_thumbprint:
                return None
        return seen

    def _header(self, segment: bytes) -> Header:
        header = self._headers.get(segment)
        if header is None:
            header = parse_header(segment)
            # One issuer: its allowlist is applied once per header; several: per issuer.
            if self._algorithms is not None and header.alg not in self._algorithms:
                raise InvalidToken("alg_not_allowed", "The token's algorithm is not allowed.")
            if self._require_at_jwt and not _is_at_jwt(header.typ):
                raise InvalidToken("wrong_type", "The token is not an access token (typ at+jwt).")
            if len(self._headers) >= _HEADER_CACHE_SIZE:
                self._headers.pop(next(iter(self._headers)))
            self._headers[segment] = header
        return header


def _is_at_jwt(typ: str | None) -> bool:
    if typ is None:
        return False
    typ = typ.lower()
    return typ in ("at+jwt", "application/at+jwt")


async def _replacement_key(
    key_set: KeySet,
    key: VerificationKey,
    alg: str,
    signing_input: bytes,
    signature: bytes,
) -> VerificationKey:
    """The key that checks a signature ``key`` refused, or :class:`InvalidToken`.

    An issuer that reuses a ``kid`` for new key material (RFC 7517 §4.5 lets it) would
    otherwise see its new tokens refused until the next scheduled refresh.
    """
    replacement = await key_set.replacement(key)
    if replacement is not None:
        check_signature = replacement.verifiers.get(alg)
        if check_signature is not None and check_signature(signing_input, signature):
            return replacement
    raise InvalidToken("bad_signature", "The token's signature is invalid.")
