"""DPoP through the middleware and the verifier: request shapes (RFC 9449 §7), binding,
replay, nonces, modes, challenges, the verified-token cache, WebSockets and the logs."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient, WebSocketDenialResponse
from starlette.websockets import WebSocket

from claimguard import (
    ClaimGuardMiddleware,
    ConfigurationError,
    InvalidDPoPProof,
    ProtectedResource,
    ReplayStoreUnavailable,
    TokenVerifier,
)
from claimguard.dpop import MemoryReplayStore

from .conftest import AUDIENCE, ISSUER, NAMESPACE, FakeClock, Minter
from .dpop_proofs import ALGS, ProofKey, bearer_part

BASE = "http://testserver"
NONCE_SECRET = "s" * 32

pytestmark = pytest.mark.anyio


async def whoami(request: Request) -> Response:
    claims = request.user.claims
    return JSONResponse({"sub": claims.subject, "jkt": claims.dpop_jkt})


async def echo(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text(str(websocket.user.claims.dpop_jkt))
    await websocket.close()


def app_for(verifier: TokenVerifier, **options: Any) -> ClaimGuardMiddleware:
    inner = Starlette(routes=[Route("/whoami", whoami), WebSocketRoute("/ws", echo)])
    return ClaimGuardMiddleware(inner, verifier=verifier, **options)


def make_verifier(
    http_client: httpx.AsyncClient, clock: FakeClock, **options: Any
) -> TokenVerifier:
    return TokenVerifier(
        issuer=ISSUER,
        audience=AUDIENCE,
        namespace=NAMESPACE,
        http_client=http_client,
        clock=clock,
        **options,
    )


@pytest.fixture
def key() -> ProofKey:
    return ProofKey("ES256")


@pytest.fixture
def bound(mint: Minter, key: ProofKey) -> str:
    return mint(claims={"cnf": {"jkt": key.jkt}})


@pytest.fixture
async def client(verifier: TokenVerifier) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app_for(verifier)), base_url=BASE
    ) as client:
        yield client


def dpop(token: str, proof: str) -> dict[str, str]:
    return {"Authorization": f"DPoP {token}", "DPoP": proof}


def proof_for(key: ProofKey, clock: FakeClock, token: str, **options: Any) -> str:
    options.setdefault("iat", clock.time())
    return key.proof("GET", BASE + "/whoami", access_token=token, **options)


def challenge_of(response: httpx.Response) -> str:
    return response.headers["www-authenticate"]


# -- accepted ---------------------------------------------------------------------------


async def test_bound_token_with_its_proof_is_accepted_and_exposes_the_thumbprint(
    client: httpx.AsyncClient, key: ProofKey, bound: str, clock: FakeClock
) -> None:
    response = await client.get("/whoami", headers=dpop(bound, proof_for(key, clock, bound)))
    assert response.status_code == 200
    assert response.json() == {"sub": "auth0|alice", "jkt": key.jkt}
    assert "dpop-nonce" not in response.headers


@pytest.mark.parametrize("alg", ["EdDSA", "Ed25519", "RS256", "PS256"])
async def test_every_listed_algorithm_is_accepted(
    client: httpx.AsyncClient, mint: Minter, clock: FakeClock, alg: str
) -> None:
    key = ProofKey(alg)
    token = mint(claims={"cnf": {"jkt": key.jkt}})
    response = await client.get("/whoami", headers=dpop(token, proof_for(key, clock, token)))
    assert response.status_code == 200


async def test_bearer_tokens_still_work_in_allowed_mode(
    client: httpx.AsyncClient, mint: Minter
) -> None:
    response = await client.get("/whoami", headers={"Authorization": f"Bearer {mint()}"})
    assert response.status_code == 200
    assert response.json()["jkt"] is None


# -- request shapes (RFC 9449 §7) -------------------------------------------------------


async def test_bound_token_sent_as_bearer_is_invalid_token(
    client: httpx.AsyncClient, bound: str
) -> None:
    response = await client.get("/whoami", headers={"Authorization": f"Bearer {bound}"})
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"
    assert 'error="invalid_token"' in bearer_part(challenge_of(response))


async def test_two_dpop_headers_are_invalid_request(
    client: httpx.AsyncClient, key: ProofKey, bound: str, clock: FakeClock
) -> None:
    proof = proof_for(key, clock, bound)
    headers = [("Authorization", f"DPoP {bound}"), ("DPoP", proof), ("DPoP", proof)]
    response = await client.get("/whoami", headers=headers)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


async def test_proof_with_a_bearer_token_is_invalid_request(
    client: httpx.AsyncClient, key: ProofKey, mint: Minter, clock: FakeClock
) -> None:
    token = mint()
    headers = {"Authorization": f"Bearer {token}", "DPoP": proof_for(key, clock, token)}
    response = await client.get("/whoami", headers=headers)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


async def test_proof_without_a_token_is_invalid_request(
    client: httpx.AsyncClient, key: ProofKey, bound: str, clock: FakeClock
) -> None:
    response = await client.get("/whoami", headers={"DPoP": proof_for(key, clock, bound)})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


async def test_dpop_scheme_without_a_proof_is_invalid_dpop_proof(
    client: httpx.AsyncClient, bound: str
) -> None:
    response = await client.get("/whoami", headers={"Authorization": f"DPoP {bound}"})
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_dpop_proof"
    dpop_challenge = challenge_of(response).partition(", DPoP ")[2]
    assert dpop_challenge.startswith(ALGS)
    assert 'error="invalid_dpop_proof"' in dpop_challenge
    assert "error=" not in bearer_part(challenge_of(response))


async def test_unbound_token_with_the_dpop_scheme_is_refused(
    client: httpx.AsyncClient, key: ProofKey, mint: Minter, clock: FakeClock
) -> None:
    token = mint()
    response = await client.get("/whoami", headers=dpop(token, proof_for(key, clock, token)))
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"


async def test_proof_by_another_key_than_the_bound_one_is_refused(
    client: httpx.AsyncClient, bound: str, clock: FakeClock
) -> None:
    other = ProofKey("ES256")
    response = await client.get("/whoami", headers=dpop(bound, proof_for(other, clock, bound)))
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_dpop_proof"


async def test_proof_for_another_url_or_method_is_refused(
    client: httpx.AsyncClient, key: ProofKey, bound: str, clock: FakeClock
) -> None:
    elsewhere = key.proof("GET", BASE + "/other", access_token=bound, iat=clock.time())
    post = key.proof("POST", BASE + "/whoami", access_token=bound, iat=clock.time())
    for proof in (elsewhere, post):
        response = await client.get("/whoami", headers=dpop(bound, proof))
        assert response.status_code == 401
        assert response.json()["error"] == "invalid_dpop_proof"


# -- replay and the verified-token cache ------------------------------------------------


async def test_replayed_proof_is_refused(
    client: httpx.AsyncClient, key: ProofKey, bound: str, clock: FakeClock
) -> None:
    proof = proof_for(key, clock, bound)
    assert (await client.get("/whoami", headers=dpop(bound, proof))).status_code == 200
    again = await client.get("/whoami", headers=dpop(bound, proof))
    assert again.status_code == 401
    assert again.json()["error"] == "invalid_dpop_proof"


class CountingStore(MemoryReplayStore):
    def __init__(self, clock: FakeClock) -> None:
        super().__init__(clock=clock)
        self.calls = 0

    async def first_use(self, jkt: str, jti: str, *, ttl_seconds: float) -> bool:
        self.calls += 1
        return await super().first_use(jkt, jti, ttl_seconds=ttl_seconds)


async def test_cached_token_still_needs_a_fresh_proof_on_every_request(
    http_client: httpx.AsyncClient, clock: FakeClock, key: ProofKey, bound: str
) -> None:
    store = CountingStore(clock)
    verifier = make_verifier(http_client, clock, dpop_replay_store=store)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app_for(verifier)), base_url=BASE
    ) as client:
        for _ in range(3):
            response = await client.get(
                "/whoami", headers=dpop(bound, proof_for(key, clock, bound))
            )
            assert response.status_code == 200
        assert verifier.cached_tokens == 1
        assert store.calls == 3
        other = ProofKey("ES256")
        refused = [
            await client.get("/whoami", headers={"Authorization": f"DPoP {bound}"}),
            await client.get("/whoami", headers={"Authorization": f"Bearer {bound}"}),
            await client.get("/whoami", headers=dpop(bound, proof_for(other, clock, bound))),
        ]
    assert [r.status_code for r in refused] == [401, 401, 401]


async def test_replay_is_remembered_for_the_whole_iat_window(
    http_client: httpx.AsyncClient, clock: FakeClock, key: ProofKey, bound: str
) -> None:
    verifier = make_verifier(http_client, clock)
    proof = proof_for(key, clock, bound, iat=clock.time() + 5)
    url = BASE + "/whoami"
    await verifier.verify_dpop(bound, proof, method="GET", url=url)
    clock.advance(64)  # the proof's iat is still inside the 60 s window
    with pytest.raises(InvalidDPoPProof) as info:
        await verifier.verify_dpop(bound, proof, method="GET", url=url)
    assert info.value.code == "replayed"


class DownStore:
    async def first_use(self, jkt: str, jti: str, *, ttl_seconds: float) -> bool:
        raise ReplayStoreUnavailable("The replay store does not answer.", retry_after_seconds=7)


async def test_replay_store_unavailable_is_503_with_retry_after(
    http_client: httpx.AsyncClient, clock: FakeClock, key: ProofKey, bound: str
) -> None:
    verifier = make_verifier(http_client, clock, dpop_replay_store=DownStore())
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app_for(verifier)), base_url=BASE
    ) as client:
        response = await client.get("/whoami", headers=dpop(bound, proof_for(key, clock, bound)))
    assert response.status_code == 503
    assert response.headers["retry-after"] == "7"
    assert response.json()["cause"] == "replay_store"
    assert "www-authenticate" not in response.headers


# -- server nonces (RFC 9449 §9) --------------------------------------------------------


async def test_nonce_flow_refuses_then_accepts_and_returns_the_next_nonce(
    http_client: httpx.AsyncClient, clock: FakeClock, key: ProofKey, bound: str
) -> None:
    verifier = make_verifier(http_client, clock, dpop_nonce_secret=NONCE_SECRET)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app_for(verifier)), base_url=BASE
    ) as client:
        first = await client.get("/whoami", headers=dpop(bound, proof_for(key, clock, bound)))
        assert first.status_code == 401
        assert first.json()["error"] == "use_dpop_nonce"
        assert 'error="use_dpop_nonce"' in challenge_of(first)
        nonce = first.headers["dpop-nonce"]
        proof = proof_for(key, clock, bound, nonce=nonce)
        second = await client.get("/whoami", headers=dpop(bound, proof))
        assert second.status_code == 200
        assert second.headers["dpop-nonce"] == nonce
        clock.advance(600)  # two steps later the nonce is stale
        proof = proof_for(key, clock, bound, nonce=nonce)
        stale = await client.get("/whoami", headers=dpop(bound, proof))
        assert stale.status_code == 401
        assert stale.json()["error"] == "use_dpop_nonce"
        assert stale.headers["dpop-nonce"] != nonce


async def test_a_nonce_from_another_replica_with_the_same_secret_is_accepted(
    http_client: httpx.AsyncClient, clock: FakeClock, key: ProofKey, bound: str
) -> None:
    replica_a = make_verifier(http_client, clock, dpop_nonce_secret=NONCE_SECRET)
    replica_b = make_verifier(http_client, clock, dpop_nonce_secret=NONCE_SECRET)
    nonce = replica_a.dpop_nonce()
    assert nonce is not None
    proof = proof_for(key, clock, bound, nonce=nonce)
    claims = await replica_b.verify_dpop(bound, proof, method="GET", url=BASE + "/whoami")
    assert claims.dpop_jkt == key.jkt


# -- modes ------------------------------------------------------------------------------


async def test_required_mode_refuses_bearer_tokens_with_a_dpop_challenge(
    http_client: httpx.AsyncClient, clock: FakeClock, mint: Minter, key: ProofKey, bound: str
) -> None:
    verifier = make_verifier(http_client, clock, dpop="required")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app_for(verifier)), base_url=BASE
    ) as client:
        bearer = await client.get("/whoami", headers={"Authorization": f"Bearer {mint()}"})
        anonymous = await client.get("/whoami")
        accepted = await client.get("/whoami", headers=dpop(bound, proof_for(key, clock, bound)))
    assert bearer.status_code == 401
    assert challenge_of(bearer).startswith(f'DPoP {ALGS}, realm="api", error="invalid_token"')
    assert challenge_of(anonymous) == f'DPoP {ALGS}, realm="api"'
    assert accepted.status_code == 200


async def test_required_mode_tells_a_bound_token_sent_as_bearer_to_use_the_dpop_scheme(
    http_client: httpx.AsyncClient, clock: FakeClock, bound: str
) -> None:
    verifier = make_verifier(http_client, clock, dpop="required")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app_for(verifier)), base_url=BASE
    ) as client:
        as_bearer = await client.get("/whoami", headers={"Authorization": f"Bearer {bound}"})
    assert as_bearer.status_code == 401
    assert as_bearer.json()["error_description"] == (
        "This resource accepts only DPoP-bound tokens, sent with the DPoP scheme and a proof."
    )


async def test_disabled_mode_refuses_bound_tokens_and_knows_no_dpop_scheme(
    http_client: httpx.AsyncClient, clock: FakeClock, mint: Minter, key: ProofKey, bound: str
) -> None:
    verifier = make_verifier(http_client, clock, dpop="disabled")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app_for(verifier)), base_url=BASE
    ) as client:
        as_bearer = await client.get("/whoami", headers={"Authorization": f"Bearer {bound}"})
        as_dpop = await client.get("/whoami", headers=dpop(bound, proof_for(key, clock, bound)))
        plain = await client.get("/whoami", headers={"Authorization": f"Bearer {mint()}"})
    assert as_bearer.status_code == 401
    assert as_bearer.json()["error"] == "invalid_token"
    assert challenge_of(as_bearer).startswith('Bearer realm="api", error="invalid_token"')
    assert as_dpop.status_code == 401
    assert challenge_of(as_dpop) == 'Bearer realm="api"'  # no token it understands
    assert plain.status_code == 200


async def test_allowed_mode_challenges_name_both_schemes(client: httpx.AsyncClient) -> None:
    response = await client.get("/whoami")
    assert challenge_of(response) == f'Bearer realm="api", DPoP {ALGS}, realm="api"'


# -- htu: the public origin -------------------------------------------------------------


async def test_public_origin_is_the_origin_proofs_must_name(
    http_client: httpx.AsyncClient, clock: FakeClock, key: ProofKey, bound: str
) -> None:
    verifier = make_verifier(http_client, clock, public_origin="https://API.example.com:443/")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app_for(verifier)), base_url=BASE
    ) as client:
        public = key.proof(
            "GET", "https://api.example.com/whoami", access_token=bound, iat=clock.time()
        )
        assert (await client.get("/whoami", headers=dpop(bound, public))).status_code == 200
        # The Host the request came with no longer counts, whatever X-Forwarded-* says.
        headers = {**dpop(bound, proof_for(key, clock, bound)), "X-Forwarded-Host": "testserver"}
        assert (await client.get("/whoami", headers=headers)).status_code == 401


# -- WebSockets -------------------------------------------------------------------------


async def test_websocket_handshake_takes_a_proof_for_get_and_the_ws_url(
    verifier: TokenVerifier, key: ProofKey, bound: str, clock: FakeClock
) -> None:
    app = app_for(verifier)
    with TestClient(app) as client:
        proof = key.proof("GET", "ws://testserver/ws", access_token=bound, iat=clock.time())
        with client.websocket_connect("/ws", headers=dpop(bound, proof)) as ws:
            assert ws.receive_text() == key.jkt
        post = key.proof("POST", "ws://testserver/ws", access_token=bound, iat=clock.time())
        with (
            pytest.raises(WebSocketDenialResponse) as info,
            client.websocket_connect("/ws", headers=dpop(bound, post)),
        ):
            pass
    assert info.value.status_code == 403
    assert 'error="invalid_dpop_proof"' in info.value.headers["www-authenticate"]


# -- resource metadata (RFC 9728) -------------------------------------------------------


async def test_resource_metadata_names_dpop_as_the_verifier_does(
    http_client: httpx.AsyncClient, clock: FakeClock
) -> None:
    resource = ProtectedResource(resource=AUDIENCE, authorization_servers=[ISSUER])
    verifier = make_verifier(http_client, clock, dpop="required")
    app = app_for(verifier, protected_resource=resource)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url=BASE) as client:
        document = (await client.get("/.well-known/oauth-protected-resource")).json()
    assert document["dpop_bound_access_tokens_required"] is True
    assert document["dpop_signing_alg_values_supported"] == [
        "ES256",
        "EdDSA",
        "Ed25519",
        "RS256",
        "PS256",
    ]
    disabled = make_verifier(http_client, clock, dpop="disabled")
    with pytest.raises(ConfigurationError):
        app_for(disabled, protected_resource=resource.with_dpop("required"))


# -- logs -------------------------------------------------------------------------------


async def test_refusals_are_logged_with_their_cause_never_the_token_or_proof(
    client: httpx.AsyncClient, key: ProofKey, bound: str, clock: FakeClock, caplog: Any
) -> None:
    caplog.set_level(logging.DEBUG, logger="claimguard.middleware")
    proof = key.proof("GET", BASE + "/elsewhere", access_token=bound, iat=clock.time())
    await client.get("/whoami", headers=dpop(bound, proof))
    headers = [("Authorization", f"DPoP {bound}"), ("DPoP", proof), ("DPoP", proof)]
    await client.get("/whoami", headers=headers)
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "htu_mismatch" in logged
    assert "two_dpop_headers" in logged
    assert bound not in logged
    assert proof not in logged


# -- configuration ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [
        {"dpop": "sometimes"},
        {"dpop_nonce_secret": "short"},
        {"dpop_nonce_secret": NONCE_SECRET, "dpop_nonce_step_seconds": 0},
        {"public_origin": "https://api.example.com/base"},
        {"public_origin": "ftp://api.example.com"},
        {"dpop_iat_window_seconds": 0},
        {"dpop_iat_future_seconds": -1},
        {"dpop_max_proof_bytes": 10},
        {"dpop_replay_store": object()},
        {"dpop_nonce_step_seconds": 0},
        {"dpop_nonce_step_seconds": -5},
        {"dpop_nonce_step_seconds": 3601},
        {"dpop": "disabled", "dpop_nonce_secret": NONCE_SECRET},
        {"dpop": "disabled", "dpop_replay_store": MemoryReplayStore()},
    ],
)
async def test_bad_dpop_options_are_refused_at_construction(
    http_client: httpx.AsyncClient, clock: FakeClock, options: dict[str, Any]
) -> None:
    with pytest.raises(ConfigurationError):
        make_verifier(http_client, clock, **options)


# -- one key's share of the replay store ------------------------------------------------


async def test_one_token_cannot_fill_the_replay_store_for_everyone(
    http_client: httpx.AsyncClient, mint: Minter, clock: FakeClock
) -> None:
    store = MemoryReplayStore(max_entries=20, max_entries_per_key=5, clock=clock)
    verifier = make_verifier(http_client, clock, dpop_replay_store=store)
    greedy, innocent = ProofKey(), ProofKey()
    greedy_token = mint(claims={"cnf": {"jkt": greedy.jkt}})
    innocent_token = mint(claims={"cnf": {"jkt": innocent.jkt}})
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app_for(verifier)), base_url=BASE
    ) as client:
        statuses = [
            (
                await client.get(
                    "/whoami", headers=dpop(greedy_token, proof_for(greedy, clock, greedy_token))
                )
            ).status_code
            for _ in range(20)
        ]
        assert statuses == [200] * 5 + [401] * 15
        refused = await client.get(
            "/whoami", headers=dpop(greedy_token, proof_for(greedy, clock, greedy_token))
        )
        assert 'error="invalid_dpop_proof"' in challenge_of(refused)
        innocent_proof = proof_for(innocent, clock, innocent_token)
        response = await client.get("/whoami", headers=dpop(innocent_token, innocent_proof))
    assert response.status_code == 200


async def test_proof_ids_are_remembered_past_the_window_by_the_clock_skew_margin(
    http_client: httpx.AsyncClient, clock: FakeClock, key: ProofKey, bound: str
) -> None:
    seen: list[float] = []

    class Recording:
        async def first_use(self, jkt: str, jti: str, *, ttl_seconds: float) -> bool:
            seen.append(ttl_seconds)
            return True

    url = BASE + "/whoami"
    for options, ttl in (({}, 60 + 5 + 10), ({"dpop_replay_skew_seconds": 30}, 60 + 5 + 30)):
        verifier = make_verifier(http_client, clock, dpop_replay_store=Recording(), **options)
        await verifier.verify_dpop(bound, proof_for(key, clock, bound), method="GET", url=url)
        assert seen.pop() == ttl
    with pytest.raises(ConfigurationError, match="dpop_replay_skew_seconds"):
        make_verifier(http_client, clock, dpop_replay_skew_seconds=-1)


# -- htu: where the origin comes from without public_origin -----------------------------


async def test_the_protected_resource_origin_is_the_default_public_origin(
    verifier: TokenVerifier, key: ProofKey, bound: str, clock: FakeClock
) -> None:
    resource = ProtectedResource(resource=AUDIENCE, authorization_servers=[ISSUER])
    app = app_for(verifier, protected_resource=resource)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url=BASE) as client:
        # A proof made for another server, sent with that server's Host, is refused.
        elsewhere = key.proof(
            "GET", "http://other-rs.example/whoami", access_token=bound, iat=clock.time()
        )
        headers = {**dpop(bound, elsewhere), "Host": "other-rs.example"}
        response = await client.get("/whoami", headers=headers)
        assert response.status_code == 401
        assert 'error="invalid_dpop_proof"' in challenge_of(response)
        public = key.proof("GET", AUDIENCE + "/whoami", access_token=bound, iat=clock.time())
        assert (await client.get("/whoami", headers=dpop(bound, public))).status_code == 200


async def test_checking_proofs_against_the_host_header_warns_once(
    client: httpx.AsyncClient, key: ProofKey, bound: str, clock: FakeClock, caplog: Any
) -> None:
    with caplog.at_level(logging.WARNING, logger="claimguard"):
        for _ in range(2):
            response = await client.get(
                "/whoami", headers=dpop(bound, proof_for(key, clock, bound))
            )
            assert response.status_code == 200
    warnings = [r for r in caplog.records if r.name == "claimguard"]
    assert len(warnings) == 1
    assert warnings[0].levelno == logging.WARNING
    assert "public_origin" in warnings[0].getMessage()
    assert "Host" in warnings[0].getMessage()


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (
            {"verifier": {"public_origin": "https://API.example.com"}},
            "at https://api.example.com, from the verifier's public_origin.",
        ),
        (
            {"middleware": {"protected_resource": "resource"}},
            f"at {AUDIENCE}, from the origin of the protected resource {AUDIENCE!r}.",
        ),
        ({}, f"at {BASE}, from the request's scheme and Host header."),
    ],
)
async def test_an_htu_mismatch_names_the_expected_origin_and_its_source_never_the_proofs_htu(
    http_client: httpx.AsyncClient,
    clock: FakeClock,
    key: ProofKey,
    bound: str,
    caplog: Any,
    options: dict[str, dict[str, Any]],
    expected: str,
) -> None:
    verifier = make_verifier(http_client, clock, **options.get("verifier", {}))
    middleware = {
        name: ProtectedResource(resource=AUDIENCE, authorization_servers=[ISSUER])
        for name in options.get("middleware", {})
    }
    app = app_for(verifier, **middleware)
    caplog.set_level(logging.DEBUG, logger="claimguard.dpop")
    forged = 'https://evil.example/"x' + "a" * 500
    proof = key.proof("GET", forged, access_token=bound, iat=clock.time())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url=BASE) as client:
        response = await client.get("/whoami", headers=dpop(bound, proof))
    assert response.status_code == 401
    description = response.json()["error_description"]
    assert description == "The DPoP proof's htu must be this request's URL " + expected
    assert "evil" not in description
    assert "evil" not in challenge_of(response)
    logged = [r.getMessage() for r in caplog.records if r.name == "claimguard.dpop"]
    assert any(expected.rstrip(".").split(", from ")[1] in line for line in logged)
    assert all(len(line) < 800 and "a" * 250 not in line for line in logged)
