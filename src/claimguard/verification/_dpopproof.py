"""Checking one DPoP proof JWT (RFC 9449 §4.3) against the request it came with.

Each check has its own stable code (:attr:`InvalidDPoPProof.code`), in the order the RFC
lists them: one well-formed compact JWS within the size cap; ``typ`` ``dpop+jwt``; an
asymmetric ``alg`` from the allowlist that fits the key; a public ``jwk`` (no private
members, never a symmetric key) that verifies the signature; ``jti``, ``htm``, ``htu``
and ``iat`` present; ``htm`` the request's method; ``htu`` the request's URL (see
:mod:`claimguard.verification._htu`); ``iat`` within the window; ``ath`` the hash of the
access token.
What needs state — the nonce, the replay store and the token's ``cnf.jkt`` — is checked
by the caller with the :class:`Proof` returned here.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections import OrderedDict
from typing import Any, NamedTuple

from .._errors import InvalidDPoPProof, InvalidToken
from ..jose._jwk import UnusableKey, Verify, parse_jwk
from ..jose._jws import b64_decode, b64_encode, decode_json_object, split_compact
from ._dpopkey import check_proof_jwk
from ._htu import normalize_htu

_logger = logging.getLogger("claimguard.dpop")
# The proof's htu is the sender's: logged quoted (%r) and cut to this many characters.
_MAX_LOGGED_HTU_CHARS = 200

__all__ = ["DPOP_ALGORITHMS", "Proof", "ProofKeys", "access_token_hash", "check_proof"]

DPOP_ALGORITHMS = ("ES256", "EdDSA", "Ed25519", "RS256", "PS256")
"""The proof algorithms accepted, as named in ``algs`` of the ``DPoP`` challenge and in
``dpop_signing_alg_values_supported``. ``Ed25519`` is RFC 9864's fully-specified name for
what ``EdDSA`` means with an Ed25519 key; clients that follow it (the npm package ``dpop``
does) sign with that name, so both are accepted."""

_KEY_TYPES = {"ES256": "EC", "EdDSA": "OKP", "Ed25519": "OKP", "RS256": "RSA", "PS256": "RSA"}
# RFC 7517 / RFC 7518 §6: members that only a private or symmetric key has.
_PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")
_REFUSED_HEADER_PARAMS = ("crit", "b64", "enc", "zip")
_MAX_JTI_CHARS = 256


class Proof(NamedTuple):
    """What a checked proof establishes: its key's RFC 7638 thumbprint, its id, its
    ``iat`` and the server nonce it carries (``None`` if none)."""

    jkt: str
    jti: str
    iat: float
    nonce: str | None


class ProofKeys:
    """The keys of recently accepted proof headers, least recently used first out.

    A client signs every proof with one key, so its headers repeat byte for byte; the same
    header segment decodes to the same header and passes the same checks, so its key need
    not be parsed again. Only headers whose signature verified are kept, and headers
    longer than ``max_header_bytes`` never are, which bounds the memory.
    """

    __slots__ = ("_entries", "_max_entries", "_max_header_bytes")

    def __init__(self, *, max_entries: int = 1024, max_header_bytes: int = 2048) -> None:
        self._max_entries = max_entries
        self._max_header_bytes = max_header_bytes
        self._entries: OrderedDict[bytes, tuple[str, Verify]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, header_segment: bytes) -> tuple[str, Verify] | None:
        """The thumbprint and verifier remembered for ``header_segment``, if any."""
        known = self._entries.get(header_segment)
        if known is not None:
            self._entries.move_to_end(header_segment)
        return known

    def remember(self, header_segment: bytes, key: tuple[str, Verify]) -> None:
        """Keep ``key`` for a header whose proof verified."""
        if len(header_segment) > self._max_header_bytes:
            return
        self._entries[header_segment] = key
        self._entries.move_to_end(header_segment)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)


def access_token_hash(token: str) -> str:
    """``ath``: base64url of the SHA-256 of the access token's ASCII (RFC 9449 §4.2)."""
    return b64_encode(hashlib.sha256(token.encode("ascii")).digest())


def check_proof(
    proof: str,
    *,
    method: str,
    htu: str,
    access_token: str,
    now: float,
    iat_window_seconds: float,
    iat_future_seconds: float,
    max_bytes: int,
    keys: ProofKeys | None = None,
) -> Proof:
    """Check ``proof`` for a request ``method htu`` carrying ``access_token`` (``htu``
    already normalised); return its :class:`Proof` or raise :class:`InvalidDPoPProof`.

    ``keys`` remembers the keys of headers already checked, so a client's next proof
    (same header, new claims) skips parsing its key again; the signature is always checked.
    """
    if len(proof) > max_bytes:
        raise InvalidDPoPProof("too_large", f"The DPoP proof is larger than {max_bytes} bytes.")
    try:
        parts = split_compact(proof, max_bytes=max_bytes)
    except InvalidToken as exc:
        raise InvalidDPoPProof("malformed", "The DPoP proof is not a compact JWS.") from exc
    known = None if keys is None else keys.get(parts.header_segment)
    jkt, verify = known if known is not None else _header_key(parts.header_segment)
    if not verify(parts.signing_input, parts.signature):
        raise InvalidDPoPProof("bad_signature", "The DPoP proof's signature is invalid.")
    if known is None and keys is not None:
        keys.remember(parts.header_segment, (jkt, verify))
    try:
        payload = decode_json_object(parts.payload, "payload")
    except InvalidToken as exc:
        raise InvalidDPoPProof("malformed", "The DPoP proof's payload is not JSON.") from exc
    return _check_claims(
        payload,
        jkt=jkt,
        method=method,
        htu=htu,
        access_token=access_token,
        now=now,
        iat_window_seconds=iat_window_seconds,
        iat_future_seconds=iat_future_seconds,
    )


def _header_key(header_segment: bytes) -> tuple[str, Verify]:
    """The checks of the proof's header (RFC 9449 §4.3 checks 2 to 6): its key's
    thumbprint and the function that verifies signatures with it."""
    try:
        header = decode_json_object(header_segment, "header")
    except InvalidToken as exc:
        raise InvalidDPoPProof("malformed", "The DPoP proof is not a compact JWS.") from exc
    typ = header.get("typ")
    # RFC 9449 §4.2: typ is dpop+jwt, which keeps other JWTs from passing as proofs.
    if not isinstance(typ, str) or typ.lower() != "dpop+jwt":
        raise InvalidDPoPProof("bad_typ", "The DPoP proof's typ is not dpop+jwt.")
    alg = header.get("alg")
    if alg not in DPOP_ALGORITHMS:
        # Never none, never HMAC: the proof is checked against the key it carries.
        raise InvalidDPoPProof("alg_not_allowed", "The DPoP proof's algorithm is not allowed.")
    for param in _REFUSED_HEADER_PARAMS:
        if param in header:
            raise InvalidDPoPProof(
                "unsupported_header", f"The DPoP proof's header parameter {param!r} is refused."
            )
    return _proof_key(header.get("jwk"), alg)


def _proof_key(jwk: Any, alg: str) -> tuple[str, Verify]:
    if not isinstance(jwk, dict):
        raise InvalidDPoPProof("bad_jwk", "The DPoP proof's header has no jwk object.")
    if jwk.get("kty") == "oct":
        raise InvalidDPoPProof("symmetric_jwk", "The DPoP proof's key is a symmetric key.")
    # RFC 9449 §4.3 check 7: the key must not be private.
    if any(member in jwk for member in _PRIVATE_MEMBERS):
        raise InvalidDPoPProof("private_jwk", "The DPoP proof's jwk holds private key material.")
    if jwk.get("kty") != _KEY_TYPES[alg] or (alg == "ES256" and jwk.get("crv") != "P-256"):
        raise InvalidDPoPProof(
            "alg_key_mismatch", "The DPoP proof's algorithm does not fit its key."
        )
    check_proof_jwk(jwk)
    try:
        key = parse_jwk(jwk, frozenset({alg}))
    except UnusableKey as exc:
        raise InvalidDPoPProof("bad_jwk", "The DPoP proof's jwk is not a usable key.") from exc
    return key.thumbprint, key.verifiers[alg]


def _check_claims(
    payload: dict[str, Any],
    *,
    jkt: str,
    method: str,
    htu: str,
    access_token: str,
    now: float,
    iat_window_seconds: float,
    iat_future_seconds: float,
) -> Proof:
    for name in ("jti", "htm", "htu", "iat", "ath"):
        if name not in payload:
            raise InvalidDPoPProof("missing_claim", f"The DPoP proof has no {name!r} claim.")
    jti = payload["jti"]
    if not isinstance(jti, str) or not jti or len(jti) > _MAX_JTI_CHARS:
        raise InvalidDPoPProof("bad_jti", "The DPoP proof's jti is not a short string.")
    if payload["htm"] != method:
        raise InvalidDPoPProof("htm_mismatch", "The DPoP proof's htm is not the request method.")
    try:
        proof_htu = normalize_htu(payload["htu"])
    except ValueError:
        raise InvalidDPoPProof(
            "htu_mismatch", "The DPoP proof's htu is not an http(s) URL."
        ) from None
    if proof_htu != htu:
        _logger.debug(
            "DPoP proof refused: its htu %r is not the request URL %r",
            proof_htu[:_MAX_LOGGED_HTU_CHARS],
            htu[:_MAX_LOGGED_HTU_CHARS],
        )
        raise InvalidDPoPProof("htu_mismatch", "The DPoP proof's htu is not the request URL.")
    iat = payload["iat"]
    if type(iat) not in (int, float) or not math.isfinite(iat):
        raise InvalidDPoPProof("bad_iat", "The DPoP proof's iat is not a number.")
    if iat < now - iat_window_seconds:
        raise InvalidDPoPProof("iat_too_old", "The DPoP proof was issued too long ago.")
    if iat > now + iat_future_seconds:
        raise InvalidDPoPProof("iat_in_future", "The DPoP proof was issued in the future.")
    ath = payload["ath"]
    if not isinstance(ath, str) or not _same_hash(ath, access_token):
        raise InvalidDPoPProof("ath_mismatch", "The DPoP proof's ath is not the token's hash.")
    nonce = payload.get("nonce")
    if nonce is not None and not isinstance(nonce, str):
        raise InvalidDPoPProof("bad_nonce", "The DPoP proof's nonce is not a string.")
    return Proof(jkt, jti, float(iat), nonce)


def _same_hash(ath: str, access_token: str) -> bool:
    try:
        b64_decode(ath.encode("ascii"))  # canonical base64url only, one spelling per hash
    except (InvalidToken, UnicodeEncodeError):
        return False
    return ath == access_token_hash(access_token)
