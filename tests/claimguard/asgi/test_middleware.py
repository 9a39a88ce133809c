from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from starlette.applications import Starlette
from starlette.authentication import requires
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient, WebSocketDenialResponse
from starlette.types import Message, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect

from claimguard import ClaimGuardMiddleware, ClaimsUser, ConfigurationError, TokenVerifier

from ..conftest import AUDIENCE, ISSUER, NAMESPACE, FakeClock, FakeIssuerEndpoints, Minter
from ..dpop_proofs import bearer_part

pytestmark = pytest.mark.anyio


async def whoami(request: Request) -> Response:
    return JSONResponse(
        {
            "authenticated": request.user.is_authenticated,
            "identity": request.user.identity,
            "scopes": request.auth.scopes,
        }
    )


@requires("claim:premium")
async def premium(request: Request) -> Response:
    return JSONResponse({"premium": True})


@requires("claim:roles:admin")
async def admin(request: Request) -> Response:
    return JSONResponse({"admin": True})


async def echo(websocket: WebSocket) -> None:
    await websocket.accept()
    async for text in websocket.iter_text():
        await websocket.send_text(text)


def build_app(verifier: TokenVerifier, **options: Any) -> ClaimGuardMiddleware:
    inner = Starlette(
        routes=[
            Route("/whoami", whoami),
            Route("/premium", premium),
            Route("/admin", admin),
            Route("/public", whoami),
            Route("/public/{rest:path}", whoami),
            Route("/publicity", whoami),
            WebSocketRoute("/ws", echo),
        ]
    )
    return ClaimGuardMiddleware(inner, verifier=verifier, **options)


@pytest.fixture
async def client(verifier: TokenVerifier) -> AsyncIterator[httpx.AsyncClient]:
    app = build_app(verifier, public_paths=["/public"])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app), base_url="http://testserver"
    ) as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unsigned(header: dict[str, Any], payload: dict[str, Any]) -> str:
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}"


def _payload(clock: FakeClock, **extra: Any) -> dict[str, Any]:
    now = int(clock.time())
    return {
        "iss": ISSUER,
        "sub": "auth0|eve",
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + 600,
        **extra,
    }


# -- HTTP: the status table -------------------------------------------------------------


async def test_valid_token_sets_user_and_sorted_scopes(
    client: httpx.AsyncClient, mint: Minter
) -> None:
    token = mint(premium=True, claims={NAMESPACE + "roles": ["editor", "admin"]})
    response = await client.get("/whoami", headers=bearer(token))
    assert response.status_code == 200
    assert response.json() == {
        "authenticated": True,
        "identity": "auth0|alice",
        "scopes": [
            "claim:premium",
            "claim:roles:admin",
            "claim:roles:editor",
            "openid",
            "read:messages",
        ],
    }


async def test_no_token_is_401_without_error_code(client: httpx.AsyncClient) -> None:
    response = await client.get("/whoami")
    assert response.status_code == 401
    assert bearer_part(response.headers["www-authenticate"]) == 'Bearer realm="api"'
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {
        "error": "unauthorized",
        "error_description": "A bearer token is required.",
    }


async def test_other_auth_scheme_counts_as_no_token(client: httpx.AsyncClient) -> None:
    response = await client.get("/whoami", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert response.status_code == 401
    assert bearer_part(response.headers["www-authenticate"]) == 'Bearer realm="api"'


def _expired(mint: Minter, rsa_key: Any, clock: FakeClock) -> str:
    return mint(lifetime=-3600)


def _tampered(mint: Minter, rsa_key: Any, clock: FakeClock) -> str:
    header, _, signature = mint(premium=False).split(".")
    forged = _b64(json.dumps(_payload(clock, **{NAMESPACE + "premium": True})).encode())
    return f"{header}.{forged}.{signature}"


def _wrong_audience(mint: Minter, rsa_key: Any, clock: FakeClock) -> str:
    return mint(claims={"aud": "https://other.example.com"})


def _wrong_issuer(mint: Minter, rsa_key: Any, clock: FakeClock) -> str:
    return mint(claims={"iss": "https://evil.example.com/"})


def _alg_none(mint: Minter, rsa_key: Any, clock: FakeClock) -> str:
    return _unsigned({"alg": "none", "kid": rsa_key.kid}, _payload(clock)) + "."


def _hs256_with_public_key(mint: Minter, rsa_key: Any, clock: FakeClock) -> str:
    pem = rsa_key.private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signing_input = _unsigned({"alg": "HS256", "typ": "JWT", "kid": rsa_key.kid}, _payload(clock))
    signature = hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def _garbage(mint: Minter, rsa_key: Any, clock: FakeClock) -> str:
    return "not-a-jwt"


@pytest.mark.parametrize(
    "make",
    [
        _expired,
        _tampered,
        _wrong_audience,
        _wrong_issuer,
        _alg_none,
        _hs256_with_public_key,
        _garbage,
    ],
)
async def test_bad_tokens_are_401_invalid_token(
    client: httpx.AsyncClient, mint: Minter, rsa_key: Any, clock: FakeClock, make: Any
) -> None:
    response = await client.get("/whoami", headers=bearer(make(mint, rsa_key, clock)))
    assert response.status_code == 401
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith('Bearer realm="api", error="invalid_token", error_description="')
    body = response.json()
    assert body["error"] == "invalid_token"
    assert body["error_description"]


async def test_two_authorization_headers_are_400(client: httpx.AsyncClient, mint: Minter) -> None:
    token = mint()
    headers = [("Authorization", f"Bearer {token}"), ("Authorization", f"Bearer {token}")]
    response = await client.get("/whoami", headers=headers)
    assert response.status_code == 400
    assert 'error="invalid_request"' in response.headers["www-authenticate"]
    assert response.json()["error"] == "invalid_request"


async def test_bad_header_syntax_is_400(client: httpx.AsyncClient) -> None:
    response = await client.get("/whoami", headers={"Authorization": 'Bearer "quoted"'})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


async def test_token_in_query_string_is_refused(client: httpx.AsyncClient, mint: Minter) -> None:
    response = await client.get("/whoami", params={"access_token": mint()})
    assert response.status_code == 400
    assert "query string" in response.json()["error_description"]


async def test_keys_unavailable_is_503_with_retry_after(
    client: httpx.AsyncClient, mint: Minter, endpoints: FakeIssuerEndpoints
) -> None:
    endpoints.failing = True
    response = await client.get("/whoami", headers=bearer(mint()))
    assert response.status_code == 503
    assert int(response.headers["retry-after"]) >= 1
    assert "www-authenticate" not in response.headers
    assert response.json()["error"] == "temporarily_unavailable"


async def test_realm_and_resource_metadata_are_configurable(verifier: TokenVerifier) -> None:
    url = "https://api.example.com/.well-known/oauth-protected-resource"
    app = build_app(verifier, realm="shop", resource_metadata_url=url)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as c:
        response = await c.get("/whoami")
    assert bearer_part(response.headers["www-authenticate"]) == (
        f'Bearer realm="shop", resource_metadata="{url}"'
    )


# -- Starlette's own requires() behind the middleware -----------------------------------


async def test_starlette_requires_premium(client: httpx.AsyncClient, mint: Minter) -> None:
    assert (await client.get("/premium", headers=bearer(mint(premium=True)))).status_code == 200
    assert (await client.get("/premium", headers=bearer(mint(premium=False)))).status_code == 403
    assert (await client.get("/premium", headers=bearer(mint()))).status_code == 403


async def test_starlette_requires_role_from_namespaced_list(
    client: httpx.AsyncClient, mint: Minter
) -> None:
    admin_token = mint(claims={NAMESPACE + "roles": ["admin"]})
    editor_token = mint(claims={NAMESPACE + "roles": ["editor"]})
    assert (await client.get("/admin", headers=bearer(admin_token))).json() == {"admin": True}
    assert (await client.get("/admin", headers=bearer(editor_token))).status_code == 403


async def test_starlette_requires_for_a_claim_is_not_met_by_requested_scope_words(
    client: httpx.AsyncClient, mint: Minter
) -> None:
    # Scope words come from what the client asked for; "premium" or even "claim:premium"
    # there is no claim about the user.
    words = mint(claims={"scope": "premium claim:premium roles:admin claim:roles:admin"})
    assert (await client.get("/premium", headers=bearer(words))).status_code == 403
    assert (await client.get("/admin", headers=bearer(words))).status_code == 403
    perms = mint(claims={"permissions": ["claim:premium", "claim:roles:admin"]})
    assert (await client.get("/premium", headers=bearer(perms))).status_code == 403
    assert (await client.get("/admin", headers=bearer(perms))).status_code == 403


# -- public paths and anonymous access ---------------------------------------------------


@pytest.mark.parametrize("path", ["/public", "/public/", "/public/docs/index.html"])
async def test_public_paths_let_anonymous_requests_in(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 200
    assert response.json() == {"authenticated": False, "identity": "", "scopes": []}


async def _status_of(app: Any, path: str) -> int:
    """Send ``path`` to ``app`` exactly as given: HTTP clients would normalise dot segments."""
    statuses: list[int] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [],
        "server": ("127.0.0.1", 80),
        "client": ("127.0.0.1", 5000),
    }
    await app(scope, receive, send)
    return statuses[0]


@pytest.mark.parametrize(
    "path", ["/publicity", "/whoami", "/public/../whoami", "/public/./x", "/public/..", "/Public"]
)
async def test_public_paths_cannot_be_fooled(verifier: TokenVerifier, path: str) -> None:
    app = build_app(verifier, public_paths=["/public"])
    assert await _status_of(app, path) == 401


@pytest.mark.parametrize("path", ["/public", "/public/", "/public/a/b"])
async def test_public_paths_match_exactly_or_below(verifier: TokenVerifier, path: str) -> None:
    app = build_app(verifier, public_paths=["/public/"])
    assert await _status_of(app, path) == 200


async def test_root_public_path_matches_only_the_root(verifier: TokenVerifier) -> None:
    app = build_app(verifier, public_paths=["/"])
    assert await _status_of(app, "/") == 404
    assert await _status_of(app, "/whoami") == 401


async def test_public_path_with_valid_token_is_authenticated(
    client: httpx.AsyncClient, mint: Minter
) -> None:
    response = await client.get("/public", headers=bearer(mint(premium=True)))
    assert response.json()["authenticated"] is True
    assert "claim:premium" in response.json()["scopes"]


async def test_public_path_with_bad_token_is_still_401(
    client: httpx.AsyncClient, mint: Minter
) -> None:
    response = await client.get("/public", headers=bearer(mint(lifetime=-3600)))
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


async def test_public_paths_are_matched_below_root_path(verifier: TokenVerifier) -> None:
    app = build_app(verifier, public_paths=["/public"])
    transport = httpx.ASGITransport(app, root_path="/api")
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        assert (await c.get("/api/public/x")).status_code == 200
        assert (await c.get("/api/whoami")).status_code == 401


@pytest.mark.parametrize(
    "paths", [["public"], ["/a?b"], ["/a/../b"], ["/a//b"], ["/a\\b"], "/public", [3]]
)
async def test_bad_public_paths_are_refused_at_construction(
    verifier: TokenVerifier, paths: Any
) -> None:
    with pytest.raises(ConfigurationError, match="public"):
        build_app(verifier, public_paths=paths)


def test_verifier_is_checked_at_construction() -> None:
    with pytest.raises(ConfigurationError, match="verifier"):
        ClaimGuardMiddleware(Starlette(), verifier=object())  # type: ignore[arg-type]


async def test_allow_anonymous(verifier: TokenVerifier, mint: Minter) -> None:
    app = build_app(verifier, allow_anonymous=True)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as c:
        anonymous = await c.get("/whoami")
        assert anonymous.json() == {"authenticated": False, "identity": "", "scopes": []}
        assert (await c.get("/premium")).status_code == 403
        assert (await c.get("/premium", headers=bearer(mint(premium=True)))).status_code == 200
        assert (await c.get("/whoami", headers=bearer("bad"))).status_code == 401


async def test_user_object_exposes_claims(verifier: TokenVerifier, mint: Minter) -> None:
    seen: list[Any] = []

    async def endpoint(request: Request) -> Response:
        seen.append(request.user)
        return Response()

    app = ClaimGuardMiddleware(Starlette(routes=[Route("/", endpoint)]), verifier=verifier)
    token = mint(premium=True, claims={"email": "alice@example.com"})
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as c:
        await c.get("/", headers=bearer(token))
    (user,) = seen
    assert isinstance(user, ClaimsUser)
    assert user.identity == "auth0|alice"
    assert user.display_name == "alice@example.com"
    assert user.claims.custom == {"premium": True}


async def test_other_scope_types_pass_through_untouched(verifier: TokenVerifier) -> None:
    calls: list[tuple[Scope, Receive, Send]] = []

    async def inner(scope: Scope, receive: Receive, send: Send) -> None:
        calls.append((scope, receive, send))

    async def receive() -> Message:
        return {"type": "lifespan.startup"}

    async def send(message: Message) -> None:
        raise AssertionError("nothing may be sent")

    scope: Scope = {"type": "lifespan", "asgi": {"version": "3.0"}}
    await ClaimGuardMiddleware(inner, verifier=verifier)(scope, receive, send)
    assert calls == [(scope, receive, send)]
    assert "user" not in scope


# -- WebSocket -------------------------------------------------------------------------------


async def test_websocket_with_valid_token_is_accepted(ws_app: Any, ws_token: str) -> None:
    with (
        TestClient(ws_app) as client,
        client.websocket_connect("/ws", headers=bearer(ws_token)) as ws,
    ):
        ws.send_text("hello")
        assert ws.receive_text() == "hello"


@pytest.fixture
def ws_app(verifier: TokenVerifier) -> ClaimGuardMiddleware:
    return build_app(verifier)


@pytest.fixture
def ws_token(mint: Minter) -> str:
    return mint(premium=True)


async def test_websocket_without_token_is_refused_with_403_and_the_challenge(ws_app: Any) -> None:
    with TestClient(ws_app) as client, pytest.raises(WebSocketDenialResponse) as info:
        _connect(client, "/ws")
    assert info.value.status_code == 403
    assert bearer_part(info.value.headers["www-authenticate"]) == 'Bearer realm="api"'
    assert info.value.json()["error"] == "unauthorized"


async def test_websocket_with_bad_token_is_refused_with_403(ws_app: Any, mint: Minter) -> None:
    with TestClient(ws_app) as client, pytest.raises(WebSocketDenialResponse) as info:
        _connect(client, "/ws", headers=bearer(mint(lifetime=-3600)))
    assert info.value.status_code == 403
    assert 'error="invalid_token"' in info.value.headers["www-authenticate"]


async def test_websocket_malformed_request_is_refused_with_403(ws_app: Any) -> None:
    with TestClient(ws_app) as client, pytest.raises(WebSocketDenialResponse) as info:
        _connect(client, "/ws?access_token=abc")
    assert info.value.status_code == 403
    assert info.value.json()["error"] == "invalid_request"


async def test_websocket_keys_unavailable_closes_1011(
    ws_app: Any, ws_token: str, endpoints: FakeIssuerEndpoints
) -> None:
    endpoints.failing = True
    with TestClient(ws_app) as client, pytest.raises(WebSocketDisconnect) as info:
        _connect(client, "/ws", headers=bearer(ws_token))
    assert info.value.code == 1011


def _connect(client: TestClient, path: str, **options: Any) -> None:
    with client.websocket_connect(path, **options):
        raise AssertionError("the handshake should have been refused")


async def _handshake(app: Any, headers: list[tuple[bytes, bytes]]) -> list[Message]:
    """Drive a handshake on a server without the denial-response extension."""
    sent: list[Message] = []
    inbox: list[Message] = [{"type": "websocket.connect"}]

    async def receive() -> Message:
        if inbox:
            return inbox.pop(0)
        await anyio.sleep_forever()
        raise AssertionError

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "websocket",
        "asgi": {"version": "3.0"},
        "scheme": "ws",
        "path": "/ws",
        "raw_path": b"/ws",
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "server": ("127.0.0.1", 80),
        "client": ("127.0.0.1", 5000),
        "subprotocols": [],
        "extensions": {},
    }
    with anyio.fail_after(5):
        await app(scope, receive, send)
    return sent


async def test_websocket_refusal_without_denial_extension_closes_1008(
    ws_app: Any, mint: Minter
) -> None:
    for headers in ([], [(b"authorization", b"Bearer " + mint(lifetime=-3600).encode())]):
        (message,) = await _handshake(ws_app, headers)
        assert message["type"] == "websocket.close"
        assert message["code"] == 1008
        assert message["reason"]


async def test_websocket_is_closed_1008_when_the_token_expires(
    ws_app: Any, mint: Minter, clock: FakeClock
) -> None:
    token = mint(premium=True, lifetime=600)
    with TestClient(ws_app) as client, client.websocket_connect("/ws", headers=bearer(token)) as ws:
        ws.send_text("before")
        assert ws.receive_text() == "before"
        # HTTP accepts the token until exp plus the leeway (30 s): so does the socket.
        client.portal.call(clock.advance, 629)
        ws.send_text("still valid")
        assert ws.receive_text() == "still valid"
        client.portal.call(clock.advance, 1)
        with pytest.raises(WebSocketDisconnect) as info:
            ws.receive_text()
    assert info.value.code == 1008
    assert "expired" in info.value.reason


async def test_websocket_is_closed_when_the_token_passes_its_maximum_age(
    http_client: httpx.AsyncClient, mint: Minter, clock: FakeClock
) -> None:
    verifier = TokenVerifier(
        issuer=ISSUER,
        audience=AUDIENCE,
        max_token_age_seconds=60,
        http_client=http_client,
        clock=clock,
    )
    token = mint(lifetime=3600)
    app = build_app(verifier)
    with TestClient(app) as client, client.websocket_connect("/ws", headers=bearer(token)) as ws:
        # HTTP refuses the token after iat + 60 s + 30 s leeway: so does the open socket.
        client.portal.call(clock.advance, 89)
        ws.send_text("still young")
        assert ws.receive_text() == "still young"
        client.portal.call(clock.advance, 1)
        ws.send_text("too old")
        with pytest.raises(WebSocketDisconnect) as info:
            ws.receive_text()
    assert info.value.code == 1008
    assert "expired" in info.value.reason
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as c:
        refused = await c.get("/whoami", headers=bearer(token))
    assert 'error="invalid_token"' in refused.headers["www-authenticate"]


async def test_websocket_closed_by_the_app_is_not_closed_again(
    verifier: TokenVerifier, mint: Minter, clock: FakeClock
) -> None:
    async def once(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text("bye")
        await websocket.close(1000)

    app = ClaimGuardMiddleware(Starlette(routes=[WebSocketRoute("/ws", once)]), verifier=verifier)
    with TestClient(app) as client:
        with client.websocket_connect("/ws", headers=bearer(mint(lifetime=60))) as ws:
            assert ws.receive_text() == "bye"
            with pytest.raises(WebSocketDisconnect) as info:
                ws.receive_text()
            assert info.value.code == 1000
        client.portal.call(clock.advance, 3600)


async def test_websocket_app_errors_propagate_unwrapped(
    verifier: TokenVerifier, mint: Minter
) -> None:
    async def broken(websocket: WebSocket) -> None:
        raise LookupError("boom")

    app = ClaimGuardMiddleware(Starlette(routes=[WebSocketRoute("/ws", broken)]), verifier=verifier)
    with TestClient(app) as client, pytest.raises(LookupError, match="boom"):
        _connect(client, "/ws", headers=bearer(mint()))


# -- refusals never repeat what the token says ------------------------------------------

MARKER = "zz-marker-<script>"


@pytest.mark.parametrize(
    "claims",
    [
        {"iss": "https://" + MARKER + ".example/"},
        {"aud": MARKER},
        {"exp": 1, "sub": MARKER},
        {"kid_in_claims": MARKER, "nbf": 9_999_999_999},
    ],
)
async def test_refusals_never_echo_unverified_token_content(
    client: httpx.AsyncClient, mint: Minter, claims: dict[str, Any]
) -> None:
    response = await client.get("/whoami", headers=bearer(mint(claims=claims)))
    assert response.status_code == 401
    assert MARKER not in response.text
    assert MARKER not in response.headers["www-authenticate"]


async def test_unknown_kid_is_not_echoed(client: httpx.AsyncClient, mint: Minter) -> None:
    response = await client.get("/whoami", headers=bearer(mint(headers={"kid": MARKER})))
    assert response.status_code == 401
    assert MARKER not in response.text
    assert MARKER not in response.headers["www-authenticate"]


@pytest.mark.parametrize(
    ("break_it", "cause"),
    [
        (lambda e: setattr(e, "failing", True), "unreachable"),
        (lambda e: setattr(e, "issuer", "https://issuer.example.com"), "bad_discovery"),
        (lambda e: setattr(e, "keys", []), "no_usable_keys"),
    ],
)
@pytest.mark.parametrize("debug", [False, True])
async def test_a_503_body_says_which_kind_of_failure_it_is(
    verifier: TokenVerifier,
    mint: Minter,
    endpoints: FakeIssuerEndpoints,
    break_it: Any,
    cause: str,
    debug: bool,
) -> None:
    break_it(endpoints)
    app = build_app(verifier, debug=debug)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app), base_url="http://testserver"
    ) as client:
        response = await client.get("/whoami", headers=bearer(mint()))
    assert response.status_code == 503
    assert int(response.headers["retry-after"]) >= 1
    body = response.json()
    assert body["error"] == "temporarily_unavailable"
    assert body["cause"] == cause
    detail = verifier.jwks_state().last_error
    assert detail is not None
    # The precise cause names the issuer's URLs: only a debug answer carries it.
    assert (detail in body["error_description"]) is debug
    assert ("issuer.example.com" in body["error_description"]) is debug
