"""``examples/dpop_app.py`` as two replicas behind one origin, sharing a real Redis.

Each replica is its own ``python -m uvicorn`` process, as in production, so nothing but
Redis and the configuration is shared between them: a proof accepted by one is refused
by the other (RFC 9449 §11.1), a nonce handed out by one is accepted by the other (§9),
and when Redis goes away both fail closed with 503 and recover when it returns.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from issuer import Issuer, IssuerServer
from issuer.dpop import DPoPAuth, DPoPKey

from ..redis_server import RedisServer, die_with_parent, free_port
from .conftest import AUDIENCE, CONFIG, ROOT

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

# The origin clients call: a load balancer's, in front of both replicas. Every proof names
# it in `htu`, while each request really reaches one replica on its own loopback port, so
# each replica is told this origin (CLAIMGUARD_PUBLIC_ORIGIN) instead of trusting the
# scheme and Host of the connection it happens to receive.
PUBLIC_ORIGIN = "https://api.example.com"
ACCOUNT = f"{PUBLIC_ORIGIN}/account"
NONCE_SECRET = "a nonce secret shared by every replica, 32+ bytes"
_START_SECONDS = 60.0
_START_ATTEMPTS = 3


@dataclass(frozen=True)
class Replicas:
    a: str
    b: str


@contextmanager
def _replica(env: dict[str, str], log: Path) -> Iterator[str]:
    """One replica under uvicorn in its own process; yields its URL once it answers."""
    for _attempt in range(_START_ATTEMPTS):
        port = free_port()
        command = [sys.executable, "-m", "uvicorn", "--factory", "examples.dpop_app:create_app"]
        command += ["--host", "127.0.0.1", "--port", str(port), "--no-access-log"]
        with log.open("ab") as output:
            process = subprocess.Popen(
                command,
                cwd=ROOT,
                env={**os.environ, **env},
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                preexec_fn=die_with_parent,
            )
        try:
            url = f"http://127.0.0.1:{port}"
            if _wait_until_serving(process, url):
                yield url
                return
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    raise RuntimeError(f"the replica did not start; its output:\n{log.read_text()}")


def _wait_until_serving(process: subprocess.Popen[bytes], url: str) -> bool:
    """Poll ``/public`` until it answers 200; ``False`` if the process exits first (the
    free port may have been taken meanwhile)."""
    deadline = time.monotonic() + _START_SECONDS
    with httpx.Client(base_url=url, timeout=5) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                return False
            try:
                if client.get("/public").status_code == 200:
                    return True
            except httpx.TransportError:
                pass
            time.sleep(0.1)
    raise RuntimeError(f"the replica at {url} did not answer within {_START_SECONDS}s")


@pytest.fixture(scope="module")
def issuer_server() -> Iterator[IssuerServer]:
    with Issuer.serving(config=CONFIG) as server:
        yield server


@pytest.fixture(scope="module")
def replicas(
    issuer_server: IssuerServer,
    redis_server: RedisServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Replicas]:
    """Two replicas configured alike: one issuer, one Redis, one nonce secret, one origin."""
    env = {
        "CLAIMGUARD_ISSUER": issuer_server.url,
        "CLAIMGUARD_DPOP": "required",
        "CLAIMGUARD_REDIS_URL": redis_server.url,
        "CLAIMGUARD_DPOP_NONCE_SECRET": NONCE_SECRET,
        "CLAIMGUARD_PUBLIC_ORIGIN": PUBLIC_ORIGIN,
    }
    logs = tmp_path_factory.mktemp("replicas")
    with _replica(env, logs / "a.log") as a, _replica(env, logs / "b.log") as b:
        yield Replicas(a=a, b=b)


@dataclass(frozen=True)
class Alice:
    key: DPoPKey
    token: str

    def headers(self, method: str, *, nonce: str | None = None) -> dict[str, str]:
        proof = self.key.proof(method, ACCOUNT, access_token=self.token, nonce=nonce)
        return {"Authorization": f"DPoP {self.token}", "DPoP": proof}


@pytest.fixture(scope="module")
def alice(issuer_server: IssuerServer) -> Alice:
    """A DPoP-bound token from a real token request carrying a proof, and its key."""
    key = DPoPKey()
    with httpx.Client(base_url=issuer_server.url, auth=DPoPAuth(key)) as client:
        response = client.post(
            "oauth/token",
            data={
                "grant_type": "password",
                "client_id": "demo-app",
                "client_secret": "demo-secret",
                "username": "alice@example.com",
                "password": "alice-password",
                "audience": AUDIENCE,
            },
        )
    body = response.json()
    assert response.status_code == 200, body
    assert body["token_type"] == "DPoP"
    return Alice(key=key, token=body["access_token"])


class LoadBalancer(httpx.AsyncBaseTransport):
    """What a load balancer does, as a client transport: each request for the public
    origin goes to the next replica in turn, its URL and headers untouched but for where
    the connection goes. ``answered_by`` lists the replica of each request sent."""

    def __init__(self, replicas: Replicas) -> None:
        self._upstreams = [httpx.URL(replicas.a), httpx.URL(replicas.b)]
        self._inner = httpx.AsyncHTTPTransport()
        self.answered_by: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        upstream = self._upstreams[len(self.answered_by) % len(self._upstreams)]
        self.answered_by.append(str(upstream))
        # A copy, so the client's own request keeps its public URL (a retry signs it
        # again); the Host header stays the public one, as through a real balancer.
        forwarded = httpx.Request(
            request.method,
            request.url.copy_with(scheme=upstream.scheme, host=upstream.host, port=upstream.port),
            headers=request.headers,
            stream=request.stream,
        )
        return await self._inner.handle_async_request(forwarded)

    async def aclose(self) -> None:
        await self._inner.aclose()


async def _nonce_from(client: httpx.AsyncClient, url: str, alice: Alice) -> str:
    """The nonce a replica hands out with its ``use_dpop_nonce`` challenge."""
    response = await client.get(url, headers=alice.headers("GET"))
    assert (response.status_code, _error(response)) == (401, "use_dpop_nonce")
    return response.headers["DPoP-Nonce"]


def _error(response: httpx.Response) -> str:
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith("DPoP "), challenge
    return str(response.json()["error"])


async def test_a_proof_accepted_by_one_replica_is_refused_by_the_other(
    replicas: Replicas, alice: Alice
) -> None:
    async with httpx.AsyncClient() as client:
        nonce = await _nonce_from(client, f"{replicas.a}/account", alice)
        headers = alice.headers("GET", nonce=nonce)
        accepted = await client.get(f"{replicas.a}/account", headers=headers)
        replayed = await client.get(f"{replicas.b}/account", headers=headers)
        fresh = await client.get(f"{replicas.b}/account", headers=alice.headers("GET", nonce=nonce))
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["jkt"] == alice.key.jkt
    assert replayed.status_code == 401
    assert _error(replayed) == "invalid_dpop_proof"
    # The same token with a new proof and the same nonce passes: only the replay was refused.
    assert fresh.status_code == 200, fresh.text


async def test_a_proof_sent_to_both_replicas_at_once_is_accepted_by_one(
    replicas: Replicas, alice: Alice
) -> None:
    async with httpx.AsyncClient() as client:
        nonce = await _nonce_from(client, f"{replicas.a}/account", alice)
        rounds = []
        for _ in range(5):
            headers = alice.headers("GET", nonce=nonce)
            answers = await asyncio.gather(
                client.get(f"{replicas.a}/account", headers=headers),
                client.get(f"{replicas.b}/account", headers=headers),
            )
            rounds.append(sorted(answer.status_code for answer in answers))
    # SET NX is atomic in Redis: however the two requests interleave, one of them wins.
    assert rounds == [[200, 401]] * 5


async def test_a_nonce_handed_out_by_one_replica_is_accepted_by_the_other(
    replicas: Replicas, alice: Alice
) -> None:
    async with httpx.AsyncClient() as client:
        # Nonces are on: a proof without one is refused by either replica.
        without = await client.get(f"{replicas.b}/account", headers=alice.headers("GET"))
        challenged = await client.get(f"{replicas.a}/account", headers=alice.headers("GET"))
        from_a = challenged.headers["DPoP-Nonce"]
        at_b = await client.get(f"{replicas.b}/account", headers=alice.headers("GET", nonce=from_a))
        # Every accepted response hands out the next nonce; A takes the one B gave.
        from_b = at_b.headers["DPoP-Nonce"]
        at_a = await client.get(f"{replicas.a}/account", headers=alice.headers("GET", nonce=from_b))
    assert (without.status_code, _error(without)) == (401, "use_dpop_nonce")
    assert (challenged.status_code, _error(challenged)) == (401, "use_dpop_nonce")
    assert at_b.status_code == 200, at_b.text
    assert at_a.status_code == 200, at_a.text


async def test_a_client_behind_the_balancer_needs_one_nonce_for_the_whole_fleet(
    replicas: Replicas, alice: Alice
) -> None:
    balancer = LoadBalancer(replicas)
    auth = DPoPAuth(alice.key, access_token=alice.token)
    async with httpx.AsyncClient(base_url=PUBLIC_ORIGIN, transport=balancer, auth=auth) as client:
        statuses = [(await client.get("/account")).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 200]
    # One use_dpop_nonce retry at the first request; from then on the nonce each replica
    # hands out is taken by the other, turn by turn.
    assert balancer.answered_by == [replicas.a, replicas.b] * 2 + [replicas.a]


async def test_both_replicas_fail_closed_without_redis_and_recover_when_it_returns(
    replicas: Replicas, alice: Alice, redis_server: RedisServer
) -> None:
    async with httpx.AsyncClient() as client:
        nonce = await _nonce_from(client, f"{replicas.a}/account", alice)
        redis_server.stop()
        try:
            down = {
                name: await client.get(f"{url}/account", headers=alice.headers("GET", nonce=nonce))
                for name, url in (("a", replicas.a), ("b", replicas.b))
            }
        finally:
            redis_server.start()
        back = {
            name: await client.get(f"{url}/account", headers=alice.headers("GET", nonce=nonce))
            for name, url in (("a", replicas.a), ("b", replicas.b))
        }
    for name, response in down.items():
        assert response.status_code == 503, (name, response.text)
        assert int(response.headers["Retry-After"]) >= 1
        assert response.json()["error"] == "temporarily_unavailable"
    assert {name: response.status_code for name, response in back.items()} == {"a": 200, "b": 200}
