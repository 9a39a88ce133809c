from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends, FastAPI, WebSocket
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from claimguard import ClaimGuardMiddleware, Claims, TokenVerifier
from claimguard.fastapi import (
    CurrentClaims,
    current_claims,
    optional_claims,
    require_check,
    require_claim,
    require_scope,
)

from .conftest import NAMESPACE, Minter
from .dpop_proofs import bearer_part

pytestmark = pytest.mark.anyio


def is_gold(claims: Claims) -> bool:
    return bool(claims.custom["tier"] == "gold")


def build_api() -> FastAPI:
    api = FastAPI()

    @api.get("/premium")
    async def premium(claims: Annotated[Claims, require_claim("premium")]) -> dict[str, Any]:
        return {"sub": claims.subject, "premium": claims.custom["premium"]}

    @api.get("/admin", dependencies=[require_claim("roles", includes="admin")])
    async def admin() -> dict[str, str]:
        return {"admin": "yes"}

    @api.get("/messages", dependencies=[require_scope("read:messages")])
    def messages(claims: CurrentClaims, limit: int = 5) -> dict[str, Any]:
        return {"sub": claims.subject, "limit": limit}

    @api.get("/gold")
    async def gold(
        claims: Annotated[
            Claims, require_check(is_gold, description="Gold tier only.", scopes=("tier:gold",))
        ],
    ) -> dict[str, str]:
        return {"tier": "gold"}

    @api.get("/me")
    async def me(claims: Annotated[Claims, Depends(current_claims)]) -> dict[str, Any]:
        return {"sub": claims.subject}

    @api.get("/maybe")
    async def maybe(claims: Annotated[Claims | None, Depends(optional_claims)]) -> dict[str, Any]:
        return {"sub": None if claims is None else claims.subject}

    @api.get("/open")
    async def open_route() -> dict[str, str]:
        return {"open": "yes"}

    @api.websocket("/ws")
    async def socket(
        websocket: WebSocket, claims: Annotated[Claims, require_claim("premium")]
    ) -> None:
        await websocket.accept()
        await websocket.send_json({"sub": claims.subject})
        await websocket.close()

    return api


def build_app(verifier: TokenVerifier, **options: Any) -> ClaimGuardMiddleware:
    options.setdefault("public_paths", ["/docs", "/openapi.json", "/open"])
    return ClaimGuardMiddleware(build_api(), verifier=verifier, **options)


@pytest.fixture
async def client(verifier: TokenVerifier) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(build_app(verifier))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_denied(response: httpx.Response, scope: str) -> None:
    assert response.status_code == 403
    challenge = bearer_part(response.headers["www-authenticate"])
    assert challenge.startswith('Bearer realm="api", error="insufficient_scope", ')
    assert challenge.endswith(f'scope="{scope}"')
    assert response.json()["detail"]["error"] == "insufficient_scope"


async def test_require_claim_dependency(client: httpx.AsyncClient, mint: Minter) -> None:
    ok = await client.get("/premium", headers=bearer(mint(premium=True)))
    assert ok.json() == {"sub": "auth0|alice", "premium": True}
    assert_denied(
        await client.get("/premium", headers=bearer(mint(premium=False))), "claim:premium"
    )


async def test_require_claim_ignores_scope_words_and_lookalikes(
    client: httpx.AsyncClient, mint: Minter
) -> None:
    token = mint(claims={"scope": "premium claim:premium", "premium": True})
    assert_denied(await client.get("/premium", headers=bearer(token)), "claim:premium")
    truthy = mint(claims={NAMESPACE + "premium": "false"})
    assert_denied(await client.get("/premium", headers=bearer(truthy)), "claim:premium")


async def test_require_claim_includes_in_route_dependencies(
    client: httpx.AsyncClient, mint: Minter
) -> None:
    admin = mint(claims={NAMESPACE + "roles": ["admin"]})
    assert (await client.get("/admin", headers=bearer(admin))).json() == {"admin": "yes"}
    assert_denied(await client.get("/admin", headers=bearer(mint())), "claim:roles:admin")


async def test_require_scope_with_current_claims_and_other_params(
    client: httpx.AsyncClient, mint: Minter
) -> None:
    ok = await client.get("/messages?limit=9", headers=bearer(mint()))
    assert ok.json() == {"sub": "auth0|alice", "limit": 9}
    denied = await client.get("/messages", headers=bearer(mint(claims={"scope": "openid"})))
    assert_denied(denied, "read:messages")


async def test_require_check_denies_missing_claims_with_403(
    client: httpx.AsyncClient, mint: Minter
) -> None:
    good = mint(claims={NAMESPACE + "tier": "gold"})
    assert (await client.get("/gold", headers=bearer(good))).status_code == 200
    denied = await client.get("/gold", headers=bearer(mint()))
    assert_denied(denied, "tier:gold")
    assert denied.json()["detail"]["error_description"] == "Gold tier only."


async def test_current_claims_is_401_when_anonymous(verifier: TokenVerifier, mint: Minter) -> None:
    transport = httpx.ASGITransport(build_app(verifier, allow_anonymous=True))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        anonymous = await client.get("/me")
        assert anonymous.status_code == 401
        assert bearer_part(anonymous.headers["www-authenticate"]) == 'Bearer realm="api"'
        assert (await client.get("/premium")).status_code == 401
        assert (await client.get("/maybe")).json() == {"sub": None}
        maybe = await client.get("/maybe", headers=bearer(mint()))
        assert maybe.json() == {"sub": "auth0|alice"}
        assert (await client.get("/me", headers=bearer(mint()))).json() == {"sub": "auth0|alice"}


async def test_middleware_answers_before_fastapi(client: httpx.AsyncClient, mint: Minter) -> None:
    assert (await client.get("/premium")).status_code == 401
    expired = await client.get("/premium", headers=bearer(mint(lifetime=-3600)))
    assert expired.status_code == 401
    assert 'error="invalid_token"' in expired.headers["www-authenticate"]
    assert (await client.get("/open")).json() == {"open": "yes"}


async def test_openapi_declares_the_bearer_scheme_and_required_claims(
    client: httpx.AsyncClient,
) -> None:
    openapi = (await client.get("/openapi.json")).json()
    scheme = openapi["components"]["securitySchemes"]["bearerAuth"]
    assert scheme["type"] == "http"
    assert scheme["scheme"] == "bearer"
    assert scheme["bearerFormat"] == "JWT"
    assert "claimguard" in scheme["description"]
    paths = openapi["paths"]
    assert paths["/premium"]["get"]["security"] == [{"bearerAuth": ["claim:premium"]}]
    assert paths["/admin"]["get"]["security"] == [{"bearerAuth": ["claim:roles:admin"]}]
    assert paths["/messages"]["get"]["security"] == [{"bearerAuth": ["read:messages"]}]
    assert paths["/me"]["get"]["security"] == [{"bearerAuth": []}]
    assert "security" not in paths["/open"]["get"]
    parameters = paths["/messages"]["get"]["parameters"]
    assert [p["name"] for p in parameters] == ["limit"]


async def test_docs_page_is_served(client: httpx.AsyncClient) -> None:
    docs = await client.get("/docs")
    assert docs.status_code == 200
    assert "/openapi.json" in docs.text


async def test_websocket_dependency(verifier: TokenVerifier, mint: Minter) -> None:
    with TestClient(build_app(verifier)) as client:
        with client.websocket_connect("/ws", headers=bearer(mint(premium=True))) as ws:
            assert ws.receive_json() == {"sub": "auth0|alice"}
        with pytest.raises(WebSocketDisconnect) as info:  # noqa: SIM117
            with client.websocket_connect("/ws", headers=bearer(mint())):
                raise AssertionError("the handshake should have been refused")
    assert info.value.code == 1008
