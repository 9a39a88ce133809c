"""DPoP (RFC 9449) for clients: a key that makes proofs, and an ``httpx.Auth`` that sends them.

::

    key = DPoPKey()                        # ES256; or "EdDSA" (or "Ed25519"), "RS256", "PS256"
    tokens = (await client.post(token_url, data=form, auth=DPoPAuth(key))).json()
    api = httpx.AsyncClient(auth=DPoPAuth(key, access_token=tokens["access_token"]))

The issuer binds the tokens it issues against a proof to ``key.jkt`` (``cnf.jkt``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import time
from collections.abc import Callable, Generator, Mapping
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import OKPAlgorithm

from .tokens._jwk import pyjwt_algorithm, thumbprint

__all__ = ["DPoPAlg", "DPoPAuth", "DPoPKey"]

# PyJWT signs Ed25519 only under the name EdDSA; proofs may carry RFC 9864's name instead.
_JWS = jwt.PyJWS()
_JWS.register_algorithm("Ed25519", OKPAlgorithm())

DPoPAlg = Literal["ES256", "EdDSA", "Ed25519", "RS256", "PS256"]
_ALGS: tuple[DPoPAlg, ...] = ("ES256", "EdDSA", "Ed25519", "RS256", "PS256")
_USE_NONCE = re.compile(r'error\s*=\s*"?use_dpop_nonce"?', re.IGNORECASE)


def _generate(alg: str) -> Any:
    if alg == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    if alg in ("EdDSA", "Ed25519"):
        return ed25519.Ed25519PrivateKey.generate()
    if alg in ("RS256", "PS256"):
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    raise ValueError(f"alg must be one of ES256, EdDSA, Ed25519, RS256, PS256, not {alg!r}")


def _fits(alg: str, key: Any) -> bool:
    if alg == "ES256":
        return isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp256r1"
    if alg == "EdDSA":
        return isinstance(key, ed25519.Ed25519PrivateKey)
    return isinstance(key, rsa.RSAPrivateKey) and key.key_size >= 2048


def _htu(url: str) -> str:
    # RFC 9449 §4.2: the target URI without query and fragment parts.
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", "", ""))


class DPoPKey:
    """A freshly generated DPoP key pair; the private key never leaves the object.

    ``alg`` ``"Ed25519"`` names proofs by RFC 9864's fully-specified name, ``"EdDSA"`` by
    the older one; the key is an Ed25519 key either way. ``clock`` (seconds since the
    epoch) sets each proof's ``iat``; tests inject theirs.
    """

    def __init__(self, alg: DPoPAlg = "ES256", *, clock: Callable[[], float] | None = None) -> None:
        self._set_up(alg, _generate(alg), clock)

    @classmethod
    def from_private_jwk(
        cls, jwk: Mapping[str, Any], *, clock: Callable[[], float] | None = None
    ) -> DPoPKey:
        """The key :meth:`private_jwk` exported (its ``alg`` member names the algorithm);
        ``ValueError`` when ``jwk`` is not such a private key."""
        alg = jwk.get("alg") if isinstance(jwk, Mapping) else None
        if alg not in _ALGS:
            raise ValueError(f"the JWK's alg must be one of {', '.join(_ALGS)}, not {alg!r}")
        try:
            private_key = jwt.get_algorithm_by_name(alg).from_jwk(dict(jwk))
        except (jwt.InvalidKeyError, ValueError, TypeError, KeyError) as exc:
            raise ValueError(f"not a usable {alg} key: {exc}") from None
        if not _fits(alg, private_key):
            raise ValueError(f"not a private {alg} key")
        key = cls.__new__(cls)
        key._set_up(alg, private_key, clock)
        return key

    def private_jwk(self) -> dict[str, Any]:
        """The private key as a JWK with its ``alg``, for :meth:`from_private_jwk`: keep it
        secret, as anyone holding it can use the tokens bound to it."""
        jwk: dict[str, Any] = jwt.get_algorithm_by_name(self.alg).to_jwk(
            self._private_key, as_dict=True
        )
        return {**jwk, "alg": self.alg}

    def _set_up(self, alg: DPoPAlg, private_key: Any, clock: Callable[[], float] | None) -> None:
        self.alg: DPoPAlg = alg
        self._private_key = private_key
        self._clock = clock or time.time
        jwk: dict[str, Any] = pyjwt_algorithm(alg).to_jwk(
            self._private_key.public_key(), as_dict=True
        )
        self._public_jwk = jwk
        self._jkt = thumbprint(jwk)

    @property
    def public_jwk(self) -> dict[str, Any]:
        """The public key as a JWK (a copy), as proofs carry it in their ``jwk`` header."""
        return dict(self._public_jwk)

    @property
    def jkt(self) -> str:
        """The key's RFC 7638 SHA-256 thumbprint: ``cnf.jkt`` of the tokens bound to it, and
        the ``dpop_jkt`` authorization request parameter (RFC 9449 §10)."""
        return self._jkt

    def proof(
        self,
        method: str,
        url: str,
        *,
        access_token: str | None = None,
        nonce: str | None = None,
    ) -> str:
        """A DPoP proof JWT (RFC 9449 §4.2) for one request: a fresh ``jti``, ``iat`` now,
        ``htm`` and ``htu`` (``url`` without query and fragment); ``ath`` when presenting
        ``access_token``; ``nonce`` when the server gave one."""
        payload: dict[str, Any] = {
            "jti": secrets.token_urlsafe(16),
            "htm": method.upper(),
            "htu": _htu(url),
            "iat": int(self._clock()),
        }
        if access_token is not None:
            digest = hashlib.sha256(access_token.encode("ascii")).digest()
            payload["ath"] = base64.urlsafe_b64encode(digest).decode().rstrip("=")
        if nonce is not None:
            payload["nonce"] = nonce
        return _JWS.encode(
            json.dumps(payload, separators=(",", ":")).encode(),
            self._private_key,
            algorithm=self.alg,
            headers={"typ": "dpop+jwt", "jwk": self._public_jwk},
        )


def _nonce_demanded(response: httpx.Response) -> bool:
    # RFC 9449 §8 (authorization server: 400 JSON) and §9 (resource server: 401 challenge).
    if response.status_code == 401:
        return bool(_USE_NONCE.search(response.headers.get("www-authenticate", "")))
    if response.status_code == 400:
        try:
            body = response.json()
        except ValueError:
            return False
        return isinstance(body, dict) and body.get("error") == "use_dpop_nonce"
    return False


class DPoPAuth(httpx.Auth):
    """Signs every request with a fresh DPoP proof from ``key``; with ``access_token``, also
    sends ``Authorization: DPoP <token>`` (RFC 9449 §7.1).

    When the server answers ``use_dpop_nonce`` with a ``DPoP-Nonce`` header the request is
    sent once more with that nonce; the latest nonce of each origin is used from then on.
    Works with ``httpx.Client`` and ``httpx.AsyncClient``.
    """

    requires_response_body = True

    def __init__(self, key: DPoPKey, *, access_token: str | None = None) -> None:
        # Checked now: a wrong argument would otherwise fail inside the first request.
        if not isinstance(key, DPoPKey):
            raise TypeError(f"DPoPAuth needs a DPoPKey, not {type(key).__name__}")
        if access_token is not None and not (isinstance(access_token, str) and access_token):
            raise TypeError("DPoPAuth: access_token must be a non-empty string or None")
        self.key = key
        self.access_token = access_token
        self._nonces: dict[str, str] = {}

    def _sign(self, request: httpx.Request, nonce: str | None) -> None:
        url = str(request.url)
        request.headers["DPoP"] = self.key.proof(
            request.method, url, access_token=self.access_token, nonce=nonce
        )
        if self.access_token is not None:
            request.headers["Authorization"] = f"DPoP {self.access_token}"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        origin = f"{request.url.scheme}://{request.url.netloc.decode('ascii')}"
        self._sign(request, self._nonces.get(origin))
        response = yield request
        nonce = response.headers.get("dpop-nonce")
        if nonce is None:
            return
        self._nonces[origin] = nonce
        if _nonce_demanded(response):
            self._sign(request, nonce)
            response = yield request
            self._nonces[origin] = response.headers.get("dpop-nonce", nonce)
