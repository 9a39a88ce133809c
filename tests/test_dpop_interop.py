"""Proofs made by an independent RFC 9449 implementation, the npm package ``dpop`` under
Node, are accepted by the issuer's token endpoint and by claimguard's middleware, for every
algorithm both list; proofs it makes for another URL, method, token or key are refused.

The package names Ed25519 proofs ``alg: "Ed25519"``, the fully-specified name of RFC 9864
(``EdDSA`` is the older, polymorphic one): both verifiers accept either for an Ed25519 key.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from claimguard import ClaimGuardMiddleware, TokenVerifier
from issuer import Issuer

from .interop import ProofAlg, generate_jwk, node_dpop_proof, require_npm_dpop

pytestmark = pytest.mark.anyio

API = "https://api.example.com"
RESOURCE = "http://testserver/whoami"
ALGS: list[ProofAlg] = ["ES256", "Ed25519", "RS256", "PS256"]


@pytest.fixture(autouse=True)
def _npm_dpop() -> None:
    require_npm_dpop()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def whoami(request: Request) -> Response:
    return JSONResponse({"jkt": request.user.claims.dpop_jkt})


@dataclass
class Parties:
    issuer: Issuer
    api: httpx.AsyncClient

    @property
    def token_url(self) -> str:
        return f"{self.issuer.url}oauth/token"

    async def token(self, proof: str) -> httpx.Response:
        async with self.issuer.http_client() as client:
            return await client.post(
                "oauth/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": "machine",
                    "client_secret": "machine-secret",
                    "audience": API,
                },
                headers={"DPoP": proof},
            )

    async def bound_token(self, jwk: dict[str, Any], alg: ProofAlg) -> str:
        response = await self.token(node_dpop_proof(jwk, "POST", self.token_url, alg=alg))
        assert response.status_code == 200, response.text
        token: str = response.json()["access_token"]
        return token

    async def call(self, token: str, proof: str) -> httpx.Response:
        return await self.api.get(
            "/whoami", headers={"Authorization": f"DPoP {token}", "DPoP": proof}
        )


@pytest.fixture
async def parties() -> AsyncIterator[Parties]:
    issuer = Issuer(issuer_url="http://127.0.0.1:8765/", signing_alg="ES256")
    issuer.add_api(API, scopes=["read:messages"])
    issuer.add_client(
        "machine",
        client_secret="machine-secret",
        grant_types=["client_credentials"],
        grants={API: ["read:messages"]},
    )
    async with issuer.http_client() as keys:
        verifier = TokenVerifier(issuer=issuer.url, audience=API, http_client=keys, dpop="required")
        app = ClaimGuardMiddleware(Starlette(routes=[Route("/whoami", whoami)]), verifier=verifier)
        transport = httpx.ASGITransport(app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as api:
            yield Parties(issuer, api)


@pytest.mark.parametrize("alg", ALGS)
async def test_the_token_endpoint_binds_the_token_to_the_npm_proofs_key(
    parties: Parties, alg: ProofAlg
) -> None:
    jwk = generate_jwk(alg)
    response = await parties.token(node_dpop_proof(jwk, "POST", parties.token_url, alg=alg))
    assert response.status_code == 200, response.text
    assert response.json()["token_type"] == "DPoP"
    claims = parties.issuer.verify_access_token(response.json()["access_token"], audience=API)
    assert claims is not None
    assert claims["cnf"]["jkt"]


@pytest.mark.parametrize("alg", ALGS)
async def test_the_middleware_accepts_npm_proofs(parties: Parties, alg: ProofAlg) -> None:
    jwk = generate_jwk(alg)
    token = await parties.bound_token(jwk, alg)
    proof = node_dpop_proof(jwk, "GET", RESOURCE, alg=alg, access_token=token)
    response = await parties.call(token, proof)
    assert response.status_code == 200, response.text
    claims = parties.issuer.verify_access_token(token, audience=API)
    assert claims is not None
    assert response.json()["jkt"] == claims["cnf"]["jkt"]


async def test_the_token_endpoint_refuses_an_npm_proof_for_another_url(parties: Parties) -> None:
    proof = node_dpop_proof(generate_jwk(), "POST", "http://127.0.0.1:8765/other")
    response = await parties.token(proof)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_dpop_proof"


@pytest.mark.parametrize(
    ("method", "url", "for_token"),
    [
        ("GET", "http://testserver/elsewhere", True),
        ("POST", RESOURCE, True),
        ("GET", RESOURCE, False),
    ],
    ids=["htu", "htm", "ath"],
)
async def test_the_middleware_refuses_npm_proofs_for_another_request(
    parties: Parties, method: str, url: str, for_token: bool
) -> None:
    jwk = generate_jwk()
    token = await parties.bound_token(jwk, "ES256")
    proof = node_dpop_proof(jwk, method, url, access_token=token if for_token else "another")
    response = await parties.call(token, proof)
    assert response.status_code == 401
    assert 'error="invalid_dpop_proof"' in response.headers["www-authenticate"]


async def test_the_middleware_refuses_an_npm_proof_by_another_key(parties: Parties) -> None:
    token = await parties.bound_token(generate_jwk(), "ES256")
    proof = node_dpop_proof(generate_jwk(), "GET", RESOURCE, access_token=token)
    response = await parties.call(token, proof)
    assert response.status_code == 401
    assert 'error="invalid_dpop_proof"' in response.headers["www-authenticate"]
