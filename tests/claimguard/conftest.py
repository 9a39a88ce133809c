"""Fixtures for claimguard's tests: generated keys, a token minter, a JWKS endpoint, a fake clock.

Keys are generated here, never committed. The JWKS endpoint is an ``httpx.MockTransport``
that serves discovery and JWKS the way an issuer does and counts what it was asked.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

ISSUER = "https://issuer.example.com/"
AUDIENCE = "https://api.example.com"
NAMESPACE = "https://myapp.example.com/"
DISCOVERY_URL = ISSUER + ".well-known/openid-configuration"
JWKS_URL = ISSUER + ".well-known/jwks.json"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class FakeClock:
    """A clock tests move by hand; ``sleep`` returns once the clock has been advanced enough."""

    def __init__(self, start: float | None = None) -> None:
        self.now = float(int(time.time())) if start is None else start
        self._changed = anyio.Event()

    def time(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
        self._changed.set()
        self._changed = anyio.Event()

    async def sleep(self, seconds: float) -> None:
        deadline = self.now + seconds
        while self.now < deadline:
            await self._changed.wait()


@dataclass(frozen=True)
class SigningKey:
    """A private key with its public JWK, as an issuer holds it."""

    private: Any
    kid: str
    alg: str

    @property
    def public_jwk(self) -> dict[str, Any]:
        public = self.private.public_key()
        if self.alg in ("RS256", "PS256"):
            jwk = RSAAlgorithm.to_jwk(public, as_dict=True)
        elif self.alg == "ES256":
            jwk = ECAlgorithm.to_jwk(public, as_dict=True)
        else:
            jwk = OKPAlgorithm.to_jwk(public, as_dict=True)
        return {**jwk, "kid": self.kid, "use": "sig", "alg": self.alg}


def _rsa(bits: int = 2048) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


@pytest.fixture(scope="session")
def rsa_private() -> rsa.RSAPrivateKey:
    return _rsa()


@pytest.fixture(scope="session")
def rsa_key(rsa_private: rsa.RSAPrivateKey) -> SigningKey:
    return SigningKey(rsa_private, "rsa-1", "RS256")


@pytest.fixture(scope="session")
def ec_key() -> SigningKey:
    return SigningKey(ec.generate_private_key(ec.SECP256R1()), "ec-1", "ES256")


@pytest.fixture(scope="session")
def ed_key() -> SigningKey:
    return SigningKey(ed25519.Ed25519PrivateKey.generate(), "ed-1", "EdDSA")


@pytest.fixture(scope="session")
def rsa_key_2() -> SigningKey:
    return SigningKey(_rsa(), "rsa-2", "RS256")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


Minter = Callable[..., str]


@pytest.fixture
def mint(rsa_key: SigningKey, clock: FakeClock) -> Minter:
    """Mint a token: ``mint(premium=True)``; ``claims=``/``headers=``/``key=`` override defaults."""

    def _mint(
        *,
        key: SigningKey | None = None,
        claims: dict[str, Any] | None = None,
        headers: dict[str, Any] | None = None,
        premium: bool | None = None,
        lifetime: float = 3600,
    ) -> str:
        key = key or rsa_key
        now = int(clock.time())
        payload: dict[str, Any] = {
            "iss": ISSUER,
            "sub": "auth0|alice",
            "aud": [AUDIENCE, ISSUER + "userinfo"],
            "iat": now,
            "exp": now + int(lifetime),
            "scope": "openid read:messages",
        }
        if premium is not None:
            payload[NAMESPACE + "premium"] = premium
        payload.update(claims or {})
        for name in [k for k, v in payload.items() if v is _DROP]:
            del payload[name]
        hdr: dict[str, Any] = {"kid": key.kid}
        hdr.update(headers or {})
        for name in [k for k, v in hdr.items() if v is _DROP]:
            del hdr[name]
        return jwt.encode(payload, key.private, algorithm=key.alg, headers=hdr)

    return _mint


_DROP = object()
DROP: Any = _DROP
"""Pass as a claim value to ``mint`` to leave a default claim out."""


@dataclass
class FakeIssuerEndpoints:
    """Discovery + JWKS over ``httpx.MockTransport``, counting each request it answers.

    ``base`` is where it serves (discovery below it without its trailing slash, JWKS at
    ``.well-known/jwks.json``); ``issuer`` is what its discovery document names.
    """

    keys: list[dict[str, Any]] = field(default_factory=list)
    issuer: str = ISSUER
    base: str = ISSUER
    failing: bool = False
    discovery_requests: int = 0
    jwks_requests: int = 0
    jwks_status: int = 200
    jwks_body: bytes | None = None

    def handler(self, request: httpx.Request) -> httpx.Response:
        if self.failing:
            raise httpx.ConnectError("connection refused", request=request)
        url = str(request.url)
        base = self.base.rstrip("/")
        jwks_url = base + "/.well-known/jwks.json"
        if url == base + "/.well-known/openid-configuration":
            self.discovery_requests += 1
            return httpx.Response(200, json={"issuer": self.issuer, "jwks_uri": jwks_url})
        if url == jwks_url:
            self.jwks_requests += 1
            if self.jwks_body is not None:
                return httpx.Response(self.jwks_status, content=self.jwks_body)
            body = json.dumps({"keys": self.keys}).encode()
            return httpx.Response(self.jwks_status, content=body)
        return httpx.Response(404)

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self.handler))


@pytest.fixture
def endpoints(rsa_key: SigningKey, ec_key: SigningKey, ed_key: SigningKey) -> FakeIssuerEndpoints:
    return FakeIssuerEndpoints(keys=[rsa_key.public_jwk, ec_key.public_jwk, ed_key.public_jwk])


@pytest.fixture
async def http_client(endpoints: FakeIssuerEndpoints) -> Iterator[httpx.AsyncClient]:  # type: ignore[misc]
    async with endpoints.client() as client:
        yield client


@pytest.fixture
def verifier(http_client: httpx.AsyncClient, clock: FakeClock) -> Any:
    """A real TokenVerifier against the fake endpoints, on the fake clock."""
    from claimguard import TokenVerifier

    return TokenVerifier(
        issuer=ISSUER,
        audience=AUDIENCE,
        namespace=NAMESPACE,
        http_client=http_client,
        clock=clock,
    )
