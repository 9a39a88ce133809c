"""``issuer.dpop``: DPoPKey proofs and DPoPAuth against a real issuer."""

import base64
import hashlib

import httpx
import jwt
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from issuer import Issuer
from issuer.dpop import DPoPAuth, DPoPKey
from issuer.tokens._jwk import thumbprint

from .conftest import FakeClock

pytestmark = pytest.mark.anyio
API = "https://api.example.com"


def test_a_proof_has_the_rfc_9449_shape(clock: FakeClock) -> None:
    key = DPoPKey(clock=clock)
    proof = key.proof("post", "https://as.example/token?x=1#f", access_token="tok", nonce="n")
    header = jwt.get_unverified_header(proof)
    assert header["typ"] == "dpop+jwt"
    assert header["alg"] == "ES256"
    assert header["jwk"] == key.public_jwk
    assert "d" not in header["jwk"]
    claims = jwt.decode(
        proof,
        jwt.PyJWK(key.public_jwk, "ES256"),
        algorithms=["ES256"],
        options={"verify_iat": False},
    )
    ath = base64.urlsafe_b64encode(hashlib.sha256(b"tok").digest()).decode().rstrip("=")
    assert claims["htm"] == "POST"
    assert claims["htu"] == "https://as.example/token"
    assert claims["iat"] == int(clock())
    assert claims["ath"] == ath
    assert claims["nonce"] == "n"
    again = jwt.decode(
        key.proof("POST", "https://as.example/token"), options={"verify_signature": False}
    )
    assert again["jti"] != claims["jti"]
    assert "ath" not in again


def test_jkt_is_the_rfc_7638_thumbprint() -> None:
    # RFC 7638 §3.1: the example key and its thumbprint.
    jwk = {
        "kty": "RSA",
        "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSo"
        "c_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_"
        "FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4v"
        "MQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
        "e": "AQAB",
        "alg": "RS256",
        "kid": "2011-04-29",
    }
    assert thumbprint(jwk) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
    key = DPoPKey("EdDSA")
    assert key.jkt == thumbprint(key.public_jwk)


def test_an_unknown_alg_is_refused() -> None:
    with pytest.raises(ValueError, match="ES256"):
        DPoPKey("HS256")  # type: ignore[arg-type]


def _nonce_resource(seen: list[Request]) -> Starlette:
    """A resource server that wants a nonce (RFC 9449 §9), like claimguard with nonces on."""

    async def endpoint(request: Request) -> Response:
        seen.append(request)
        proof = jwt.decode(request.headers["dpop"], options={"verify_signature": False})
        if proof.get("nonce") != "rs-nonce":
            return Response(
                status_code=401,
                headers={
                    "WWW-Authenticate": 'DPoP error="use_dpop_nonce"',
                    "DPoP-Nonce": "rs-nonce",
                },
            )
        return PlainTextResponse(request.headers["authorization"])

    return Starlette(routes=[Route("/data", endpoint)])


async def test_dpop_auth_retries_once_with_a_resource_servers_nonce() -> None:
    seen: list[Request] = []
    auth = DPoPAuth(DPoPKey(), access_token="the-token")
    transport = httpx.ASGITransport(app=_nonce_resource(seen))
    async with httpx.AsyncClient(transport=transport, base_url="http://rs.test", auth=auth) as c:
        first = await c.get("/data")
        second = await c.get("/data")
    assert first.status_code == 200
    assert first.text == "DPoP the-token"
    # One retry for the first request; the nonce is remembered for the next one.
    assert len(seen) == 3
    assert second.status_code == 200


async def test_dpop_auth_gives_up_after_one_retry() -> None:
    async def always(request: Request) -> Response:
        return Response(
            status_code=401,
            headers={"WWW-Authenticate": 'DPoP error="use_dpop_nonce"', "DPoP-Nonce": "x"},
        )

    seen = 0

    async def counting(scope, receive, send):  # type: ignore[no-untyped-def]
        nonlocal seen
        seen += 1
        await Starlette(routes=[Route("/", always)])(scope, receive, send)

    transport = httpx.ASGITransport(app=counting)
    async with httpx.AsyncClient(transport=transport, auth=DPoPAuth(DPoPKey())) as client:
        response = await client.get("http://rs.test/")
    assert response.status_code == 401
    assert seen == 2


def test_dpop_auth_works_with_a_sync_client_against_a_served_issuer() -> None:
    with Issuer.serving(signing_alg="ES256", dpop_nonces=True) as server:
        server.issuer.add_api(API)
        server.issuer.add_client(
            "app", client_secret="s", grant_types=["client_credentials"], grants={API: []}
        )
        key = DPoPKey()
        form = {"grant_type": "client_credentials", "client_id": "app",
                "client_secret": "s", "audience": API}  # fmt: skip
        with httpx.Client(auth=DPoPAuth(key)) as client:
            response = client.post(f"{server.url}oauth/token", data=form)
    assert response.status_code == 200, response.text
    claims = server.issuer.verify_access_token(response.json()["access_token"], audience=API)
    assert claims is not None
    assert claims["cnf"] == {"jkt": key.jkt}


@pytest.mark.parametrize("alg", ["ES256", "EdDSA", "RS256", "PS256"])
def test_a_key_exported_as_a_private_jwk_comes_back_with_the_same_thumbprint(alg: str) -> None:
    key = DPoPKey(alg)  # type: ignore[arg-type]
    again = DPoPKey.from_private_jwk(key.private_jwk())
    assert (again.alg, again.jkt) == (alg, key.jkt)
    proof = again.proof("GET", "https://api.example.com/x")
    assert jwt.get_unverified_header(proof)["jwk"] == key.public_jwk


@pytest.mark.parametrize(
    "jwk",
    [{}, {"alg": "HS256", "kty": "oct", "k": "c2VjcmV0"}, {**DPoPKey().public_jwk, "alg": "ES256"}],
)
def test_only_a_private_jwk_with_a_dpop_alg_makes_a_key(jwk: dict[str, str]) -> None:
    with pytest.raises(ValueError, match=r"alg must be one of|not a private"):
        DPoPKey.from_private_jwk(jwk)


@pytest.mark.parametrize(
    ("key", "options"),
    [
        ("notakey", {}),
        (None, {}),
        (DPoPKey(), {"access_token": b"t"}),
        (DPoPKey(), {"access_token": ""}),
    ],
)
def test_dpop_auth_refuses_what_is_not_a_key_or_a_token_when_built(
    key: object, options: dict[str, object]
) -> None:
    with pytest.raises(TypeError, match="DPoPAuth"):
        DPoPAuth(key, **options)  # type: ignore[arg-type]
