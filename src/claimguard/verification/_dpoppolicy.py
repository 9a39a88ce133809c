"""How a verifier treats DPoP (RFC 9449): its mode, its windows, its nonces and its replay store.

- ``disabled``: only ``Bearer`` is spoken. A token bound to a key (``cnf.jkt``) is refused
  even so: its issuer meant it to be useless without the key, and accepting it as a bearer
  token would undo that (RFC 9449 §7.2; RFC 7800 §3 lets a recipient refuse a
  confirmation method it does not process).
- ``allowed`` (the default): a bound token needs the ``DPoP`` scheme and a valid proof; an
  unbound token may still come as ``Bearer``.
- ``required``: only the ``DPoP`` scheme with a bound token and a valid proof.

The proof itself is checked by :mod:`claimguard.verification._dpopproof`; here the
checks that need the verified token or state: the key's thumbprint against ``cnf.jkt``,
the server nonce and the replay store, in that order, so that only a proof that passed
everything else spends its ``jti``.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from .._clock import Clock
from .._errors import ConfigurationError, InvalidDPoPProof, InvalidToken, UseDPoPNonce
from ._claims import Claims
from ._dpopnonce import DPoPNonces
from ._dpopproof import Proof, ProofKeys, check_proof
from ._htu import check_public_origin
from ._replay import MemoryReplayStore, ReplayStore

__all__ = ["DPoPMode", "DPoPPolicy", "bound_jkt"]

DPoPMode = Literal["allowed", "required", "disabled"]
_MODES = ("allowed", "required", "disabled")


def bound_jkt(claims: Claims) -> str | None:
    """The thumbprint ``claims`` are bound to (``cnf.jkt``), or ``None`` for a bearer token.

    A ``cnf`` that is not an object, or a ``jkt`` that is not a non-empty string, is an
    invalid token: reading it as "unbound" would turn a malformed bound token into a
    bearer token.
    """
    cnf = claims.get("cnf")
    if cnf is None:
        return None
    if not isinstance(cnf, dict):
        raise InvalidToken("bad_cnf", "The token's 'cnf' claim is not an object.")
    if "jkt" not in cnf:
        return None
    jkt = cnf["jkt"]
    if not isinstance(jkt, str) or not jkt:
        raise InvalidToken("bad_cnf", "The token's 'cnf.jkt' is not a non-empty string.")
    return jkt


def _seconds(name: str, value: Any, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigurationError(f"{name} must be a number of seconds")
    if not low <= value <= high:
        raise ConfigurationError(f"{name} must be between {low:g} and {high:g}")
    return float(value)


class DPoPPolicy:
    """A verifier's DPoP settings, checked when it is built (see :class:`TokenVerifier`)."""

    __slots__ = (
        "clock",
        "iat_future_seconds",
        "iat_window_seconds",
        "keys",
        "max_proof_bytes",
        "mode",
        "nonces",
        "public_origin",
        "replay_skew_seconds",
        "replay_store",
    )

    def __init__(
        self,
        *,
        mode: DPoPMode,
        replay_store: ReplayStore | None,
        nonce_secret: str | bytes | None,
        nonce_step_seconds: float,
        public_origin: str | None,
        iat_window_seconds: float,
        iat_future_seconds: float,
        replay_skew_seconds: float,
        max_proof_bytes: int,
        clock: Clock,
    ) -> None:
        if mode not in _MODES:
            raise ConfigurationError(f"dpop must be one of {', '.join(_MODES)}, not {mode!r}")
        self.mode: DPoPMode = mode
        if mode == "disabled":
            # Settings that could never act are a misconfiguration, not something to ignore.
            for option, value in (
                ("dpop_replay_store", replay_store),
                ("dpop_nonce_secret", nonce_secret),
            ):
                if value is not None:
                    raise ConfigurationError(f"{option} has no effect with dpop='disabled'")
        # Checked with or without a secret, so a wrong value fails now, not when one is set.
        nonce_step_seconds = _seconds("dpop_nonce_step_seconds", nonce_step_seconds, 1, 3600)
        if replay_store is not None and not isinstance(replay_store, ReplayStore):
            raise ConfigurationError(
                "dpop_replay_store must have async first_use(jkt, jti, *, ttl_seconds)"
            )
        self.replay_store: ReplayStore = (
            replay_store if replay_store is not None else MemoryReplayStore(clock=clock)
        )
        self.nonces = (
            None
            if nonce_secret is None
            else DPoPNonces(nonce_secret, step_seconds=nonce_step_seconds)
        )
        self.public_origin = check_public_origin(public_origin)
        self.iat_window_seconds = _seconds("dpop_iat_window_seconds", iat_window_seconds, 1, 600)
        self.iat_future_seconds = _seconds("dpop_iat_future_seconds", iat_future_seconds, 0, 60)
        self.replay_skew_seconds = _seconds("dpop_replay_skew_seconds", replay_skew_seconds, 0, 300)
        if isinstance(max_proof_bytes, bool) or not isinstance(max_proof_bytes, int):
            raise ConfigurationError("dpop_max_proof_bytes must be an integer")
        if not 1024 <= max_proof_bytes <= 64 * 1024:
            raise ConfigurationError("dpop_max_proof_bytes must be between 1024 and 65536")
        self.max_proof_bytes = max_proof_bytes
        self.clock = clock
        #: Keys of proof headers already checked: a client's key is parsed once.
        self.keys = ProofKeys()

    @property
    def replay_ttl_seconds(self) -> float:
        """How long a proof id is remembered: as long as its ``iat`` could still pass
        (RFC 9449 §11.1), from ``iat_future_seconds`` before it to the window after it,
        plus ``replay_skew_seconds``: a shared store counts the lifetime from the first
        use, while each replica judges ``iat`` by its own clock, so a replica whose clock
        lags would otherwise still accept a proof the store has already forgotten."""
        return self.iat_window_seconds + self.iat_future_seconds + self.replay_skew_seconds

    def check_bearer(self, claims: Claims) -> None:
        """Refuse ``claims`` presented with the ``Bearer`` scheme if they are bound."""
        if bound_jkt(claims) is not None:
            if self.mode == "disabled":
                raise InvalidToken(
                    "dpop_bound_token", "DPoP-bound tokens are not accepted by this resource."
                )
            # RFC 9449 §7.2: a bound token sent as a bearer token is refused.
            raise InvalidToken(
                "dpop_bound_token",
                "A DPoP-bound token must be sent with the DPoP scheme and a proof.",
            )

    def check_proof(self, proof: str, *, token: str, method: str, htu: str) -> Proof:
        """The proof's own checks (RFC 9449 §4.3), before the token is verified."""
        return check_proof(
            proof,
            method=method,
            htu=htu,
            access_token=token,
            now=self.clock.time(),
            iat_window_seconds=self.iat_window_seconds,
            iat_future_seconds=self.iat_future_seconds,
            max_bytes=self.max_proof_bytes,
            keys=self.keys,
        )

    async def bind(self, proof: Proof, claims: Claims) -> None:
        """The checks that need the verified token or state: binding, nonce, replay."""
        jkt = bound_jkt(claims)
        if jkt is None:
            # RFC 9449 §7.1: the DPoP scheme is for tokens bound to the proof's key.
            raise InvalidToken("not_dpop_bound", "The token is not bound to a DPoP key.")
        if proof.jkt != jkt:
            raise InvalidDPoPProof(
                "jkt_mismatch", "The DPoP proof is not signed by the key the token is bound to."
            )
        now = self.clock.time()
        nonces = self.nonces
        if nonces is not None and not nonces.accepts(proof.nonce, now):
            raise UseDPoPNonce(
                "nonce_missing" if proof.nonce is None else "nonce_stale",
                "The DPoP proof must carry the server's current nonce.",
                nonce=nonces.current(now),
            )
        if not await self.replay_store.first_use(
            proof.jkt, proof.jti, ttl_seconds=self.replay_ttl_seconds
        ):
            raise InvalidDPoPProof("replayed", "The DPoP proof has been used before.")

    def next_nonce(self) -> str | None:
        """The nonce to send with a response (``DPoP-Nonce``), or ``None`` without nonces."""
        return None if self.nonces is None else self.nonces.current(self.clock.time())
