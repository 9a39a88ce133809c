"""Hand-made DPoP proofs for the token endpoint tests: valid ones, and each kind of broken."""

import secrets
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import ec

from issuer import Issuer

API = "https://api.example.com"
DROP = object()


def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def public_jwk(key: Any, alg: str = "ES256") -> dict[str, Any]:
    jwk: dict[str, Any] = jwt.get_algorithm_by_name(alg).to_jwk(key.public_key(), as_dict=True)
    return jwk


def proof(
    issuer: Issuer,
    *,
    key: Any = None,
    alg: str = "ES256",
    header: dict[str, Any] | None = None,
    claims: dict[str, Any] | None = None,
) -> str:
    """A proof for the issuer's token endpoint, signed by ``key`` (a new EC key by default);
    ``header`` and ``claims`` override members, and ``DROP`` removes one."""
    key = key or ec_key()
    full_header = {"typ": "dpop+jwt", "jwk": public_jwk(key, alg), **(header or {})}
    payload = {
        "jti": secrets.token_urlsafe(12),
        "htm": "POST",
        "htu": f"{issuer.url}oauth/token",
        "iat": int(issuer.clock()),
        **(claims or {}),
    }
    return jwt.encode(
        {k: v for k, v in payload.items() if v is not DROP},
        key,
        algorithm=alg,
        headers={k: v for k, v in full_header.items() if v is not DROP},
    )


async def client_credentials(
    issuer: Issuer, *proofs: str, audience: str = API, client_id: str = "app"
) -> httpx.Response:
    """The client_credentials grant for the ``app`` client, with ``proofs`` as DPoP headers."""
    async with issuer.http_client() as client:
        return await client.post(
            "oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": client_id,
                "client_secret": "app-secret",
                "audience": audience,
            },
            headers=[("DPoP", p) for p in proofs],
        )


def refused(response: httpx.Response, error: str = "invalid_dpop_proof") -> str:
    """Assert an RFC 6749 §5.2 error ``error`` and return its description."""
    assert response.status_code == 400, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["error"] == error, body
    return str(body.get("error_description", ""))
