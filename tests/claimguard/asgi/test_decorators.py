from __future__ import annotations

import inspect
from collections.abc import AsyncIterator
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends, FastAPI
from fastapi import Request as FastAPIRequest
from starlette.applications import Starlette
from starlette.endpoints import HTTPEndpoint
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient, WebSocketDenialResponse
from starlette.websockets import WebSocket, WebSocketDisconnect

from claimguard import (
    ClaimGuardMiddleware,
    Claims,
    ConfigurationError,
    TokenVerifier,
    claim_check,
    requires_claim,
    requires_scope,
)

from ..conftest import AUDIENCE, ISSUER, NAMESPACE, Minter
from ..dpop_proofs import bearer_part

pytestmark = pytest.mark.anyio


@requires_claim("premium")
async def async_premium(request: Request) -> Response:
    return PlainTextResponse("async premium")


@requires_claim("premium")
def sync_premium(request: Request) -> Response:
    return PlainTextResponse("sync premium")


class PremiumEndpoint(HTTPEndpoint):
    @requires_claim("premium")
    async def get(self, request: Request) -> Response:
        return PlainTextResponse("endpoint get")

    @requires_claim("premium")
    def post(self, request: Request) -> Response:
        return PlainTextResponse("endpoint post")


@requires_claim("tier", equals="gold")
async def gold(request: Request) -> Response:
    return PlainTextResponse("gold")


@requires_claim("roles", includes="admin")
async def admin(request: Request) -> Response:
    return PlainTextResponse("admin")


@requires_claim("level", equals=1)
async def level_one(request: Request) -> Response:
    return PlainTextResponse("level 1")


@requires_claim(NAMESPACE + "premium")
async def full_name(request: Request) -> Response:
    return PlainTextResponse("full name")


@requires_claim("email_verified")
async def plain_claim(request: Request) -> Response:
    return PlainTextResponse("plain claim")


@requires_scope("read:messages", "write:messages")
async def write(request: Request) -> Response:
    return PlainTextResponse("write")


@claim_check(lambda claims: claims.custom["tier"].startswith("g"), description="Gold only.")
async def checked(request: Request) -> Response:
    return PlainTextResponse("checked")


@requires_claim("premium")
async def premium_socket(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text("premium socket")
    await websocket.close()


ROUTES = [
    Route("/async", async_premium),
    Route("/sync", sync_premium),
    Route("/endpoint", PremiumEndpoint),
    Route("/gold", gold),
    Route("/admin", admin),
    Route("/level", level_one),
    Route("/full", full_name),
    Route("/plain", plain_claim),
    Route("/write", write),
    Route("/checked", checked),
    WebSocketRoute("/ws", premium_socket),
]


@pytest.fixture
def app(verifier: TokenVerifier) -> ClaimGuardMiddleware:
    return ClaimGuardMiddleware(Starlette(routes=ROUTES), verifier=verifier, allow_anonymous=True)


@pytest.fixture
async def client(app: ClaimGuardMiddleware) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app), base_url="http://testserver"
    ) as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def refused(client: TestClient, path: str, **options: Any) -> None:
    with client.websocket_connect(path, **options):
        raise AssertionError("the handshake should have been refused")


def assert_insufficient(response: httpx.Response, scope: str) -> None:
    assert response.status_code == 403
    challenge = bearer_part(response.headers["www-authenticate"])
    assert challenge.startswith('Bearer realm="api", error="insufficient_scope", ')
    assert challenge.endswith(f'scope="{scope}"')
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"] == "insufficient_scope"


@pytest.mark.parametrize(
    ("method", "path", "text", "scope"),
    [
        ("GET", "/async", "async premium", "claim:premium"),
        ("GET", "/sync", "sync premium", "claim:premium"),
        ("GET", "/endpoint", "endpoint get", "claim:premium"),
        ("POST", "/endpoint", "endpoint post", "claim:premium"),
        ("GET", "/full", "full name", "claim:" + NAMESPACE + "premium"),
    ],
)
async def test_premium_forms(
    client: httpx.AsyncClient, mint: Minter, method: str, path: str, text: str, scope: str
) -> None:
    allowed = await client.request(method, path, headers=bearer(mint(premium=True)))
    assert allowed.status_code == 200
    assert allowed.text == text
    assert_insufficient(
        await client.request(method, path, headers=bearer(mint(premium=False))), scope
    )
    assert_insufficient(await client.request(method, path, headers=bearer(mint())), scope)
    anonymous = await client.request(method, path)
    assert anonymous.status_code == 401
    assert bearer_part(anonymous.headers["www-authenticate"]) == 'Bearer realm="api"'


async def test_equals_names_name_colon_value_and_never_echoes_the_token_value(
    client: httpx.AsyncClient, mint: Minter
) -> None:
    gold_token = mint(claims={NAMESPACE + "tier": "gold"})
    assert (await client.get("/gold", headers=bearer(gold_token))).text == "gold"
    other = await client.get("/gold", headers=bearer(mint(claims={NAMESPACE + "tier": "s3cr3t"})))
    assert_insufficient(other, "claim:tier:gold")
    assert "s3cr3t" not in other.text
    assert "s3cr3t" not in other.headers["www-authenticate"]


async def test_equals_tells_true_from_one(client: httpx.AsyncClient, mint: Minter) -> None:
    one = mint(claims={NAMESPACE + "level": 1})
    true = mint(claims={NAMESPACE + "level": True})
    assert (await client.get("/level", headers=bearer(one))).status_code == 200
    assert_insufficient(await client.get("/level", headers=bearer(true)), "claim:level:1")


async def test_includes_checks_list_items(client: httpx.AsyncClient, mint: Minter) -> None:
    admin_token = mint(claims={NAMESPACE + "roles": ["editor", "admin"]})
    editor_token = mint(claims={NAMESPACE + "roles": ["editor"]})
    assert (await client.get("/admin", headers=bearer(admin_token))).text == "admin"
    assert_insufficient(
        await client.get("/admin", headers=bearer(editor_token)), "claim:roles:admin"
    )


@pytest.mark.parametrize("value", ["false", "true", 1, {"premium": False}, [False], ["x"], "yes"])
async def test_a_bare_claim_requirement_passes_only_for_json_true(
    client: httpx.AsyncClient, mint: Minter, value: object
) -> None:
    token = mint(claims={NAMESPACE + "premium": value})
    assert_insufficient(await client.get("/async", headers=bearer(token)), "claim:premium")


async def test_with_a_namespace_a_plain_lookalike_claim_is_refused(
    client: httpx.AsyncClient, mint: Minter
) -> None:
    lookalike = mint(claims={"premium": True, "email_verified": True})
    assert_insufficient(await client.get("/async", headers=bearer(lookalike)), "claim:premium")
    assert_insufficient(
        await client.get("/plain", headers=bearer(lookalike)), "claim:email_verified"
    )


async def test_plain_claims_count_when_the_verifier_falls_back_to_them(
    http_client: httpx.AsyncClient, clock: Any, mint: Minter
) -> None:
    verifier = TokenVerifier(
        issuer=ISSUER,
        audience=AUDIENCE,
        namespace=NAMESPACE,
        fallback_to_plain_claims=True,
        http_client=http_client,
        clock=clock,
    )
    app = ClaimGuardMiddleware(Starlette(routes=ROUTES), verifier=verifier)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as c:
        verified = mint(claims={"email_verified": True})
        unverified = mint(claims={"email_verified": False})
        assert (await c.get("/plain", headers=bearer(verified))).status_code == 200
        assert_insufficient(
            await c.get("/plain", headers=bearer(unverified)), "claim:email_verified"
        )
        assert (await c.get("/async", headers=bearer(mint(premium=True)))).status_code == 200


async def test_a_scope_word_named_like_a_claim_never_passes_a_claim_check(
    client: httpx.AsyncClient, mint: Minter
) -> None:
    # A client may ask for any scope the API defines; that is not a claim about the user.
    token = mint(claims={"scope": "openid premium claim:premium roles:admin claim:roles:admin"})
    assert_insufficient(await client.get("/async", headers=bearer(token)), "claim:premium")
    assert_insufficient(await client.get("/admin", headers=bearer(token)), "claim:roles:admin")


async def test_requires_scope_names_only_the_missing_scopes(
    client: httpx.AsyncClient, mint: Minter
) -> None:
    both = mint(claims={"scope": "read:messages write:messages"})
    assert (await client.get("/write", headers=bearer(both))).status_code == 200
    assert_insufficient(await client.get("/write", headers=bearer(mint())), "write:messages")


async def test_claim_check_denies_instead_of_crashing_on_missing_claims(
    client: httpx.AsyncClient, mint: Minter
) -> None:
    good = mint(claims={NAMESPACE + "tier": "gold"})
    assert (await client.get("/checked", headers=bearer(good))).status_code == 200
    for token in (
        mint(claims={NAMESPACE + "tier": "silver"}),
        mint(),
        mint(claims={NAMESPACE + "tier": 3}),
    ):
        response = await client.get("/checked", headers=bearer(token))
        assert response.status_code == 403
        assert response.json()["error_description"] == "Gold only."
        assert "scope=" not in response.headers["www-authenticate"]


# -- WebSocket endpoints ---------------------------------------------------------------------


async def test_websocket_endpoint_with_claim_is_served(app: Any, mint: Minter) -> None:
    token = mint(premium=True)
    with TestClient(app) as client, client.websocket_connect("/ws", headers=bearer(token)) as ws:
        assert ws.receive_text() == "premium socket"


async def test_websocket_endpoint_lacking_claim_is_closed_1008(app: Any, mint: Minter) -> None:
    with TestClient(app) as client, pytest.raises(WebSocketDisconnect) as info:
        refused(client, "/ws", headers=bearer(mint(premium=False)))
    assert info.value.code == 1008


async def test_anonymous_websocket_is_refused_with_403_and_the_challenge(app: Any) -> None:
    with TestClient(app) as client, pytest.raises(WebSocketDenialResponse) as info:
        refused(client, "/ws")
    assert info.value.status_code == 403
    assert bearer_part(info.value.headers["www-authenticate"]) == 'Bearer realm="api"'


# -- FastAPI path operations --------------------------------------------------------------


def page_size(size: int = 10) -> int:
    return size


def fastapi_app(verifier: TokenVerifier) -> ClaimGuardMiddleware:
    api = FastAPI()

    @api.get("/items/{item_id}")
    @requires_claim("premium")
    async def with_request(item_id: int, request: FastAPIRequest) -> dict[str, Any]:
        return {"item_id": item_id, "sub": request.user.identity}

    @api.get("/bare/{item_id}")
    @requires_claim("premium")
    async def without_request(
        item_id: int, q: str | None = None, size: Annotated[int, Depends(page_size)] = 0
    ) -> dict[str, Any]:
        return {"item_id": item_id, "q": q, "size": size}

    @api.get("/sync")
    @requires_scope("read:messages")
    def sync_operation(flag: bool = False) -> dict[str, Any]:
        return {"flag": flag}

    @api.websocket("/ws")
    @requires_claim("premium")
    async def socket(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_json({"sub": websocket.user.identity})
        await websocket.close()

    return ClaimGuardMiddleware(api, verifier=verifier, public_paths=["/openapi.json"])


async def test_fastapi_operation_with_request_param(verifier: TokenVerifier, mint: Minter) -> None:
    transport = httpx.ASGITransport(fastapi_app(verifier))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        ok = await client.get("/items/7", headers=bearer(mint(premium=True)))
        assert ok.json() == {"item_id": 7, "sub": "auth0|alice"}
        assert_insufficient(await client.get("/items/7", headers=bearer(mint())), "claim:premium")
        invalid = await client.get("/items/x", headers=bearer(mint(premium=True)))
        assert invalid.status_code == 422


async def test_fastapi_operation_without_request_param_keeps_dependency_injection(
    verifier: TokenVerifier, mint: Minter
) -> None:
    transport = httpx.ASGITransport(fastapi_app(verifier))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        ok = await client.get("/bare/3?q=hi&size=50", headers=bearer(mint(premium=True)))
        assert ok.json() == {"item_id": 3, "q": "hi", "size": 50}
        assert_insufficient(await client.get("/bare/3", headers=bearer(mint())), "claim:premium")
        assert (await client.get("/sync?flag=true", headers=bearer(mint()))).json() == {
            "flag": True
        }
        denied = await client.get("/sync", headers=bearer(mint(claims={"scope": "openid"})))
        assert_insufficient(denied, "read:messages")
        openapi = (await client.get("/openapi.json")).json()
    parameters = openapi["paths"]["/bare/{item_id}"]["get"]["parameters"]
    assert [p["name"] for p in parameters] == ["item_id", "q", "size"]
    assert "claimguard_connection" not in str(openapi)


async def test_fastapi_websocket_operation(verifier: TokenVerifier, mint: Minter) -> None:
    with TestClient(fastapi_app(verifier)) as client:
        with client.websocket_connect("/ws", headers=bearer(mint(premium=True))) as ws:
            assert ws.receive_json() == {"sub": "auth0|alice"}
        with pytest.raises(WebSocketDisconnect) as info:
            refused(client, "/ws", headers=bearer(mint()))
    assert info.value.code == 1008


# -- signatures and configuration ------------------------------------------------------------


def test_signature_is_preserved() -> None:
    assert list(inspect.signature(async_premium).parameters) == ["request"]
    assert async_premium.__name__ == "async_premium"
    assert inspect.iscoroutinefunction(async_premium)
    assert not inspect.iscoroutinefunction(sync_premium)


def test_connection_parameter_is_added_only_when_missing() -> None:
    @requires_claim("premium")
    async def bare(item_id: int, **extra: Any) -> None: ...

    assert list(inspect.signature(bare).parameters) == [
        "item_id",
        "claimguard_connection",
        "extra",
    ]


@pytest.mark.parametrize(
    "make",
    [
        lambda: requires_claim("two words"),
        lambda: requires_claim(""),
        lambda: requires_claim("tier", equals="gold", includes="gold"),
        lambda: requires_claim("claim:premium"),
        lambda: requires_claim("tier", equals="has space"),
        lambda: requires_claim("tier", equals=float("nan")),
        lambda: requires_claim("tier", equals=["list"]),
        lambda: requires_scope(),
        lambda: requires_scope("a b"),
        lambda: claim_check("not callable"),  # type: ignore[arg-type]
    ],
)
def test_bad_requirements_are_refused_when_declared(make: Any) -> None:
    with pytest.raises(ConfigurationError):
        make()


async def test_guard_without_middleware_fails_loudly() -> None:
    app = Starlette(routes=[Route("/async", async_premium)])
    transport = httpx.ASGITransport(app, raise_app_exceptions=True)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        with pytest.raises(ConfigurationError, match="ClaimGuardMiddleware is not installed"):
            await client.get("/async")


async def test_guarded_endpoint_sees_claims(verifier: TokenVerifier, mint: Minter) -> None:
    @requires_claim("premium")
    async def show(request: Request) -> Response:
        claims: Claims = request.user.claims
        return JSONResponse(dict(claims.custom))

    app = ClaimGuardMiddleware(Starlette(routes=[Route("/", show)]), verifier=verifier)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as c:
        response = await c.get("/", headers=bearer(mint(premium=True)))
    assert response.json() == {"premium": True}
