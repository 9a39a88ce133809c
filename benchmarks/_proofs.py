"""DPoP proofs for the benchmarks (RFC 9449 §4.2), signed with ``cryptography`` directly.

A proof is good for one request only (its ``jti`` is remembered), so a timed DPoP loop
signs its ``n`` proofs before the clock starts: only the verifier's work is timed.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Awaitable, Callable

from _timing import TimedLoop
from _tokens import SigningKey, b64url

__all__ = ["HTM", "HTU", "ProofSigner", "dpop_loop"]

HTM = "GET"
HTU = "https://api.example.com/messages"
_PUBLIC_MEMBERS = {
    "EC": ("crv", "kty", "x", "y"),
    "OKP": ("crv", "kty", "x"),
    "RSA": ("e", "kty", "n"),
}

VerifyDPoP = Callable[..., Awaitable[object]]


class ProofSigner:
    """Signs DPoP proofs with ``key``; ``jkt`` is its RFC 7638 thumbprint, for ``cnf``."""

    def __init__(self, key: SigningKey) -> None:
        self.key = key
        public = key.public_jwk
        jwk = {member: public[member] for member in _PUBLIC_MEMBERS[public["kty"]]}
        canonical = json.dumps(jwk, separators=(",", ":"), sort_keys=True)
        self.jkt = b64url(hashlib.sha256(canonical.encode()).digest())
        header = {"typ": "dpop+jwt", "alg": key.alg, "jwk": jwk}
        self._header = b64url(json.dumps(header, separators=(",", ":")).encode())
        self._prefix = secrets.token_urlsafe(9)
        self._count = 0

    def proof(self, token: str) -> str:
        """A fresh proof for ``GET HTU`` carrying ``token``'s hash (``ath``)."""
        self._count += 1
        payload = {
            "jti": f"{self._prefix}.{self._count}",
            "htm": HTM,
            "htu": HTU,
            "iat": int(time.time()),
            "ath": b64url(hashlib.sha256(token.encode("ascii")).digest()),
        }
        signing_input = self._header + "." + b64url(json.dumps(payload).encode())
        return signing_input + "." + b64url(self.key.sign(signing_input.encode("ascii")))


def dpop_loop(verify_dpop: VerifyDPoP, token: str, signer: ProofSigner) -> TimedLoop:
    """A timed loop of ``verify_dpop(token, proof, ...)``, a fresh proof each call."""

    async def run(n: int) -> int:
        proofs = [signer.proof(token) for _ in range(n)]
        start = time.perf_counter_ns()
        for proof in proofs:
            await verify_dpop(token, proof, method=HTM, url=HTU)
        return time.perf_counter_ns() - start

    return run
