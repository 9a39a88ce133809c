"""Signing keys: generation, persistence, rotation and the published JWKS.

Rotation follows two steps. :meth:`KeyRing.prepare_rotation` publishes the next key in the
JWKS without signing with it, so verifiers can cache it first; :meth:`KeyRing.rotate` makes
it (or a fresh key, if none was prepared) the signing key. A retired key stays published
until every token it signed has expired.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from ..core._errors import ConfigError

__all__ = ["ALGORITHMS", "KeyRing", "SigningAlg", "SigningKey"]

SigningAlg = Literal["RS256", "ES256", "EdDSA"]
ALGORITHMS: tuple[SigningAlg, ...] = ("RS256", "ES256", "EdDSA")
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
_KEYS_FILE = "signing-keys.json"
# RFC 7638 §3.2: the members that make up a key's thumbprint.
_THUMBPRINT_MEMBERS = {
    "RSA": ("e", "kty", "n"),
    "EC": ("crv", "kty", "x", "y"),
    "OKP": ("crv", "kty", "x"),
}


def _generate(alg: SigningAlg) -> PrivateKey:
    if alg == "RS256":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if alg == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    return ed25519.Ed25519PrivateKey.generate()


def _public_jwk(key: PrivateKey) -> dict[str, Any]:
    if isinstance(key, rsa.RSAPrivateKey):
        return RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
    return OKPAlgorithm.to_jwk(key.public_key(), as_dict=True)


def _thumbprint(jwk: dict[str, Any]) -> str:
    members = {name: jwk[name] for name in _THUMBPRINT_MEMBERS[jwk["kty"]]}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()).decode().rstrip("=")


@dataclass
class SigningKey:
    """One key pair; ``kid`` is its RFC 7638 thumbprint."""

    alg: SigningAlg
    private_key: PrivateKey
    created_at: float
    retire_at: float | None = None

    def __post_init__(self) -> None:
        self.public_jwk = _public_jwk(self.private_key)
        self.kid = _thumbprint(self.public_jwk)

    @classmethod
    def generate(cls, alg: SigningAlg, *, created_at: float) -> SigningKey:
        return cls(alg, _generate(alg), created_at)

    def jwk(self) -> dict[str, Any]:
        # RFC 7517 §4.3: `use` and `key_ops` should not both be present.
        public = {k: v for k, v in self.public_jwk.items() if k != "key_ops"}
        return {**public, "kid": self.kid, "alg": self.alg, "use": "sig"}

    def to_record(self, state: str) -> dict[str, Any]:
        pem = self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return {
            "state": state,
            "alg": self.alg,
            "created_at": self.created_at,
            "retire_at": self.retire_at,
            "private_key_pem": pem.decode(),
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> SigningKey:
        key = serialization.load_pem_private_key(record["private_key_pem"].encode(), None)
        if not isinstance(
            key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
        ):
            raise ValueError("unsupported key type")
        return cls(record["alg"], key, float(record["created_at"]), record.get("retire_at"))


class KeyRing:
    """The active signing key, an optional prepared next key, and retired keys still published."""

    def __init__(
        self,
        *,
        alg: SigningAlg,
        clock: Callable[[], float],
        retention_seconds: float,
        data_dir: Path | None = None,
    ) -> None:
        if alg not in ALGORITHMS:
            raise ConfigError(
                f"must be one of {', '.join(ALGORITHMS)}, not {alg!r}", key="signing_alg"
            )
        self._alg = alg
        self._clock = clock
        self._retention_seconds = retention_seconds
        self._path = None if data_dir is None else _key_file(data_dir)
        self._next: SigningKey | None = None
        self._retired: list[SigningKey] = []
        loaded = self._load()
        if loaded is None or loaded.alg != alg:
            if loaded is not None:
                self._retire(loaded)
            self.active = SigningKey.generate(alg, created_at=clock())
            self._save()
        else:
            self.active = loaded

    def jwks(self) -> dict[str, Any]:
        """The public JWK Set: the active key, the prepared next key, unexpired retired keys."""
        now = self._clock()
        self._retired = [k for k in self._retired if k.retire_at is None or k.retire_at > now]
        keys = [self.active, *([self._next] if self._next else []), *self._retired]
        return {"keys": [key.jwk() for key in keys]}

    def find(self, kid: str) -> SigningKey | None:
        return next(
            (k for k in [self.active, *self._retired] if k.kid == kid),
            None,
        )

    def prepare_rotation(self) -> SigningKey:
        """Publish the next key without signing with it yet; idempotent until :meth:`rotate`."""
        if self._next is None:
            self._next = SigningKey.generate(self._alg, created_at=self._clock())
            self._save()
        return self._next

    def rotate(self) -> SigningKey:
        """Sign with the prepared (or a fresh) key from now on; keep the old one published."""
        new = self._next or SigningKey.generate(self._alg, created_at=self._clock())
        self._next = None
        self._retire(self.active)
        self.active = new
        self._save()
        return new

    def _retire(self, key: SigningKey) -> None:
        key.retire_at = self._clock() + self._retention_seconds
        self._retired.insert(0, key)

    def _load(self) -> SigningKey | None:
        if self._path is None:
            return None
        try:
            text = self._path.read_text()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise ConfigError(
                f"cannot read key file {self._path}: {exc.strerror or exc}", key="data_dir"
            ) from exc
        try:
            records = json.loads(text)
            keys = [(r["state"], SigningKey.from_record(r)) for r in records["keys"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"unreadable key file {self._path}: {exc}", key="data_dir") from exc
        active: SigningKey | None = None
        for state, key in keys:
            if state == "active":
                active = key
            elif state == "next":
                self._next = key
            else:
                self._retired.append(key)
        return active

    def _save(self) -> None:
        if self._path is None:
            return
        records = [self.active.to_record("active")]
        if self._next is not None:
            records.append(self._next.to_record("next"))
        records.extend(k.to_record("retired") for k in self._retired)
        temporary = self._path.with_suffix(".tmp")
        try:
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as handle:
                json.dump({"keys": records}, handle)
            os.replace(temporary, self._path)
        except OSError as exc:
            raise ConfigError(
                f"cannot write key file {exc.filename or temporary}: {exc.strerror or exc}",
                key="data_dir",
            ) from exc


def _key_file(data_dir: Path) -> Path:
    """The key file's path in ``data_dir``, which is created (mode 0700) if missing."""
    try:
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    except FileExistsError as exc:
        raise ConfigError(f"{data_dir} exists and is not a directory", key="data_dir") from exc
    except OSError as exc:
        raise ConfigError(
            f"cannot create directory {data_dir}: {exc.strerror or exc}", key="data_dir"
        ) from exc
    return data_dir / _KEYS_FILE
