"""Checking DPoP proofs at the token endpoint (RFC 9449 §4.3 and §5)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NamedTuple
from urllib.parse import urlsplit, urlunsplit

from ..core._errors import OAuthError
from ..core._records import Api
from ._jwk import DPOP_ALGS, JWKError, public_key, pyjwt_algorithm, thumbprint
from ._nonces import NonceSource
from ._replay import ReplayCache, ReplayCacheFull

__all__ = [
    "MAX_PROOF_BYTES",
    "CheckedProof",
    "ProofChecker",
    "normalize_uri",
    "require_proof",
    "valid_jkt",
]

MAX_PROOF_BYTES = 8192  # an RSA-4096 proof is about 1.4 KB
MAX_JTI_LENGTH = 256
_B64URL = re.compile(r"[A-Za-z0-9_-]*")
_JKT = re.compile(r"[A-Za-z0-9_-]{43}")  # a base64url SHA-256 digest (RFC 7638 §3)
_PERCENT = re.compile(r"%[0-9A-Fa-f]{2}")
_UNRESERVED = re.compile(r"[A-Za-z0-9\-._~]")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _invalid(description: str) -> OAuthError:
    return OAuthError("invalid_dpop_proof", description)


def valid_jkt(value: str) -> bool:
    """Whether ``value`` has the shape of an RFC 7638 SHA-256 thumbprint."""
    return bool(_JKT.fullmatch(value))


def require_proof(api: Api | None, jkt: str | None) -> None:
    """Refuse a token request for an API that requires DPoP when it carries no proof."""
    if api is not None and api.require_dpop and jkt is None:
        raise _invalid(f"the API {api.identifier!r} requires a DPoP proof")


def _percent(match: re.Match[str]) -> str:
    # RFC 3986 §6.2.2.1-2: hex digits upper case; unreserved characters decoded.
    char = chr(int(match.group()[1:], 16))
    return char if _UNRESERVED.fullmatch(char) else match.group().upper()


def normalize_uri(uri: str) -> str | None:
    """``uri`` without query and fragment, normalised as RFC 3986 §6.2.2-6.2.3 says (case,
    percent-encoding, default port, empty path); ``None`` when it is no absolute http(s) URI."""
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname or parts.username is not None:
        return None
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        host = f"{host}:{port}"
    path = _PERCENT.sub(_percent, parts.path) or "/"
    return urlunsplit((scheme, host, path, "", ""))


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    names = [name for name, _ in pairs]
    if len(set(names)) != len(names):
        raise ValueError("duplicate member name")
    return dict(pairs)


def _segment(text: str) -> bytes:
    # RFC 7515 §2: base64url without padding, in its one canonical spelling.
    if not _B64URL.fullmatch(text) or len(text) % 4 == 1:
        raise ValueError("not base64url")
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if base64.urlsafe_b64encode(data).decode().rstrip("=") != text:
        raise ValueError("not canonical base64url")
    return data


def _object(text: str) -> dict[str, Any]:
    def refuse(constant: str) -> None:
        raise ValueError(f"{constant} is not JSON")

    value = json.loads(_segment(text), object_pairs_hook=_no_duplicates, parse_constant=refuse)
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    return value


def _parse(proof: str) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes]:
    if len(proof) > MAX_PROOF_BYTES:
        raise _invalid(f"the proof is longer than {MAX_PROOF_BYTES} bytes")
    parts = proof.split(".")
    if len(parts) != 3:
        raise _invalid("the proof is not a compact JWS (three dot-separated parts)")
    try:
        header, payload = _object(parts[0]), _object(parts[1])
        signature = _segment(parts[2])
    except (ValueError, UnicodeDecodeError, binascii.Error, RecursionError) as exc:
        raise _invalid(f"the proof does not parse: {exc}") from None
    return header, payload, f"{parts[0]}.{parts[1]}".encode("ascii"), signature


def _verified_key(header: dict[str, Any], signing_input: bytes, signature: bytes) -> str:
    """The ``jkt`` of the header's key, once the header and signature have been checked."""
    if header.get("typ") != "dpop+jwt":  # §4.3 point 4
        raise _invalid("the proof's typ is not dpop+jwt")
    alg = header.get("alg")
    if alg not in DPOP_ALGS:  # §4.3 point 5
        raise _invalid(f"the proof's alg is not one of {', '.join(DPOP_ALGS)}")
    if "crit" in header:  # RFC 7515 §4.1.11: no extension is understood here
        raise _invalid("the proof has a crit header")
    try:
        key = public_key(header.get("jwk"), alg)  # §4.3 point 7
        jkt = thumbprint(header["jwk"])
    except JWKError as exc:
        raise _invalid(f"the proof's jwk is unusable: {exc}") from None
    if not pyjwt_algorithm(alg).verify(signing_input, key, signature):
        raise _invalid("the proof's signature does not verify with its jwk")  # §4.3 point 6
    return jkt


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


class CheckedProof(NamedTuple):
    """A proof that passed every check: its key's ``jkt`` and what :meth:`ProofChecker.commit`
    records."""

    jkt: str
    jti: str
    expires_at: float


class ProofChecker:
    """Checks the ``DPoP`` header of a request to ``url`` and answers the key's ``jkt``.

    A proof is accepted from ``max_age_seconds`` before now to ``max_future_seconds`` after
    (§4.3 point 11); its ``jti`` is accepted once per key in that window. With ``nonces``,
    every proof must carry a nonce handed out in a ``DPoP-Nonce`` header (§8).

    Checking and spending are two steps: :meth:`check` refuses a proof already used but
    records nothing; :meth:`commit` records it once a request that does not wait in
    between has succeeded (the key matched the token), and :meth:`spending` holds it while
    a request that waits (a grant) runs, so that of two concurrent uses only one runs. A
    request that fails spends no proof, so nobody can fill the replay cache without
    succeeding (§11.1).
    """

    def __init__(
        self,
        *,
        url: str,
        clock: Callable[[], float],
        replay: ReplayCache,
        nonces: NonceSource | None = None,
        max_age_seconds: int = 60,
        max_future_seconds: int = 5,
    ) -> None:
        normalized = normalize_uri(url)
        if normalized is None:
            raise ValueError(f"not an http(s) URL: {url!r}")
        self._url = normalized
        self._clock = clock
        self._replay = replay
        self.nonces = nonces
        self._max_age_seconds = max_age_seconds
        self._max_future_seconds = max_future_seconds

    def check(
        self, proofs: Sequence[str], *, method: str, access_token: str | None = None
    ) -> CheckedProof | None:
        """The one valid proof in ``proofs``; ``None`` when there is none. Nothing is
        recorded: :meth:`commit` it once the request succeeds.

        With ``access_token`` (a protected resource, §7) the proof's ``ath`` must be its hash.
        Raises :class:`OAuthError` ``invalid_dpop_proof`` (or ``use_dpop_nonce``, or 503
        ``temporarily_unavailable`` when the replay cache is full).
        """
        if not proofs:
            return None
        if len(proofs) != 1:  # §4.3 point 1
            raise _invalid("more than one DPoP header")
        header, payload, signing_input, signature = _parse(proofs[0].strip())
        jkt = _verified_key(header, signing_input, signature)
        self._check_claims(payload, method)
        if access_token is not None:  # §4.3 point 12
            digest = hashlib.sha256(access_token.encode()).digest()
            ath = base64.urlsafe_b64encode(digest).decode().rstrip("=")
            if not hmac.compare_digest(str(payload.get("ath", "")).encode(), ath.encode()):
                raise _invalid("the proof's ath is not the hash of the access token")
        checked = CheckedProof(jkt, payload["jti"], float(payload["iat"]) + self._max_age_seconds)
        if self._replay.seen(checked.jkt, checked.jti):  # §11.1
            raise _invalid("the proof's jti was already used")
        if self._replay.is_full():
            # Refused before the grant runs, so that no code or refresh token is spent.
            raise self._full()
        return checked

    def _check_claims(self, payload: dict[str, Any], method: str) -> None:
        jti, htm, htu, iat = (payload.get(n) for n in ("jti", "htm", "htu", "iat"))
        if not isinstance(jti, str) or not 0 < len(jti) <= MAX_JTI_LENGTH:  # §4.3 point 3
            raise _invalid(f"the proof's jti must be a string of 1 to {MAX_JTI_LENGTH} chars")
        if not isinstance(htm, str) or not isinstance(htu, str) or not _number(iat):
            raise _invalid("the proof lacks htm, htu or a numeric iat")
        if htm != method:  # §4.3 point 8
            raise _invalid(f"the proof's htm is not the request method {method}")
        if normalize_uri(htu) != self._url:  # §4.3 point 9
            raise _invalid(f"the proof's htu is not the endpoint's URL {self._url}")
        if self.nonces is not None and not self.nonces.accepts(payload.get("nonce")):
            # §8: the client retries with the nonce in the header.
            raise OAuthError(
                "use_dpop_nonce",
                "the authorization server requires a DPoP nonce",
                headers={"DPoP-Nonce": self.nonces.current()},
            )
        now, iat = self._clock(), float(payload["iat"])
        if iat < now - self._max_age_seconds:  # §4.3 point 11
            raise _invalid(f"the proof was issued more than {self._max_age_seconds} s ago")
        if iat > now + self._max_future_seconds:
            raise _invalid("the proof's iat is in the future")

    def commit(self, proof: CheckedProof) -> None:
        """Record ``proof`` as used, once its request has succeeded.

        Raises ``invalid_dpop_proof`` when a concurrent request spent it first, and 503
        when the cache has filled since :meth:`check`.
        """
        try:
            first = self._replay.first_use(proof.jkt, proof.jti, expires_at=proof.expires_at)
        except ReplayCacheFull:
            raise self._full() from None
        if not first:  # §11.1
            raise _invalid("the proof's jti was already used")

    @contextmanager
    def spending(self, proof: CheckedProof | None) -> Iterator[None]:
        """Reserve ``proof`` for the block, then spend it; release it if the block raises.

        A concurrent use of the reserved proof is refused as already used, so only one of
        them runs the block; raises ``invalid_dpop_proof`` or 503 as :meth:`commit` does.
        """
        if proof is None:
            yield
            return
        try:
            reserved = self._replay.reserve(proof.jkt, proof.jti, expires_at=proof.expires_at)
        except ReplayCacheFull:
            raise self._full() from None
        if not reserved:  # §11.1
            raise _invalid("the proof's jti was already used")
        try:
            yield
        except BaseException:
            self._replay.release(proof.jkt, proof.jti)
            raise
        self._replay.confirm(proof.jkt, proof.jti)

    def _full(self) -> OAuthError:
        return OAuthError(
            "temporarily_unavailable",
            "too many recent DPoP proofs to remember; try again shortly",
            status_code=503,
            headers={"Retry-After": str(self._max_age_seconds)},
        )
