"""OpenTelemetry metrics, read back through the SDK's in-memory reader."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from claimguard import (
    ClaimGuardMiddleware,
    ConfigurationError,
    InvalidDPoPProof,
    ReplayStoreUnavailable,
    TokenVerifier,
    requires_claim,
)

from ..conftest import AUDIENCE, ISSUER, NAMESPACE, FakeClock, FakeIssuerEndpoints, Minter
from ..dpop_proofs import ProofKey

pytestmark = pytest.mark.anyio


@pytest.fixture
def reader() -> InMemoryMetricReader:
    return InMemoryMetricReader()


@pytest.fixture
def metered(http_client: httpx.AsyncClient, clock: FakeClock, reader: InMemoryMetricReader) -> Any:
    return TokenVerifier(
        issuer=ISSUER,
        audience=AUDIENCE,
        namespace=NAMESPACE,
        http_client=http_client,
        clock=clock,
        metrics=MeterProvider(metric_readers=[reader]),
    )


def points(reader: InMemoryMetricReader) -> dict[str, list[Any]]:
    data = reader.get_metrics_data()
    found: dict[str, list[Any]] = {}
    assert data is not None
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                found.setdefault(metric.name, []).extend(metric.data.data_points)
    return found


def counts(reader: InMemoryMetricReader, name: str) -> dict[tuple[tuple[str, Any], ...], int]:
    return {
        tuple(sorted(point.attributes.items())): point.value
        for point in points(reader).get(name, [])
    }


@requires_claim("premium")
async def premium(request: Request) -> Response:
    return PlainTextResponse("premium")


def build_app(verifier: TokenVerifier, **options: Any) -> ClaimGuardMiddleware:
    return ClaimGuardMiddleware(
        Starlette(routes=[Route("/premium", premium)]), verifier=verifier, **options
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_verification_time_and_jwks_fetches_are_recorded(
    metered: TokenVerifier, mint: Minter, reader: InMemoryMetricReader
) -> None:
    token = mint()
    await metered.verify(token)
    await metered.verify(token)
    with pytest.raises(Exception, match="expired"):
        await metered.verify(mint(lifetime=-3600))
    histogram = {
        point.attributes["outcome"]: point
        for point in points(reader)["claimguard.verification.duration"]
    }
    assert histogram["valid"].count == 2
    assert histogram["invalid"].count == 1
    assert histogram["valid"].sum > 0
    assert counts(reader, "claimguard.jwks.fetches") == {(): 1}
    assert counts(reader, "claimguard.jwks.fetch_failures") == {}


async def test_failed_jwks_fetches_are_counted(
    metered: TokenVerifier,
    endpoints: FakeIssuerEndpoints,
    mint: Minter,
    reader: InMemoryMetricReader,
) -> None:
    endpoints.failing = True
    with pytest.raises(Exception, match="cannot be fetched"):
        await metered.verify(mint())
    assert counts(reader, "claimguard.jwks.fetches") == {(): 1}
    assert counts(reader, "claimguard.jwks.fetch_failures") == {(): 1}
    unavailable = points(reader)["claimguard.verification.duration"]
    assert [point.attributes["outcome"] for point in unavailable] == ["unavailable"]


async def test_middleware_and_guards_count_decisions(
    metered: TokenVerifier, mint: Minter, reader: InMemoryMetricReader
) -> None:
    transport = httpx.ASGITransport(build_app(metered))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        assert (await client.get("/premium", headers=bearer(mint(premium=True)))).status_code == 200
        assert (
            await client.get("/premium", headers=bearer(mint(premium=False)))
        ).status_code == 403
        assert (await client.get("/premium")).status_code == 401
        expired = bearer(mint(lifetime=-3600))
        assert (await client.get("/premium", headers=expired)).status_code == 401
    assert counts(reader, "claimguard.decisions") == {
        (("code", ""), ("outcome", "accepted")): 2,
        (("code", "insufficient_scope"), ("outcome", "refused")): 1,
        (("code", "unauthorized"), ("outcome", "refused")): 1,
        (("code", "invalid_token"), ("outcome", "refused")): 1,
    }


async def test_report_only_counts_would_refuse(
    metered: TokenVerifier, mint: Minter, reader: InMemoryMetricReader
) -> None:
    transport = httpx.ASGITransport(build_app(metered, report_only=True))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        assert (
            await client.get("/premium", headers=bearer(mint(premium=False)))
        ).status_code == 200
        assert (await client.get("/premium")).status_code == 200
    assert counts(reader, "claimguard.decisions") == {
        (("code", ""), ("outcome", "accepted")): 1,
        (("code", "insufficient_scope"), ("outcome", "would_refuse")): 1,
        (("code", "unauthorized"), ("outcome", "would_refuse")): 1,
    }


async def test_without_metrics_verify_is_the_plain_method(verifier: TokenVerifier) -> None:
    assert verifier.metrics is None
    assert "verify" not in vars(verifier)
    assert "verify_dpop" not in vars(verifier)
    assert build_app(verifier)._decisions is None


async def test_metrics_option_is_checked(http_client: httpx.AsyncClient) -> None:
    with pytest.raises(ConfigurationError, match="MeterProvider"):
        TokenVerifier(issuer=ISSUER, audience=AUDIENCE, http_client=http_client, metrics="yes")  # type: ignore[arg-type]


def test_claimguard_works_without_opentelemetry() -> None:
    code = (
        "import sys; sys.modules['opentelemetry'] = None\n"
        "import claimguard\n"
        "from claimguard import ClaimGuardMiddleware, ConfigurationError, TokenVerifier\n"
        "verifier = TokenVerifier(issuer='https://issuer.example.com/', audience='api')\n"
        "ClaimGuardMiddleware(lambda *a: None, verifier=verifier, report_only=True)\n"
        "assert not [m for m in sys.modules if m.startswith('opentelemetry') and sys.modules[m]]\n"
        "try:\n"
        "    TokenVerifier(issuer='https://issuer.example.com/', audience='api', metrics=True)\n"
        "except ConfigurationError as exc:\n"
        "    print(exc)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert "pip install 'claimguard-asgi[otel]'" in result.stdout


async def test_dpop_verifications_are_timed_by_outcome_and_scheme(
    metered: TokenVerifier, mint: Minter, clock: FakeClock, reader: InMemoryMetricReader
) -> None:
    key = ProofKey("ES256")
    token = mint(claims={"cnf": {"jkt": key.jkt}})
    url = "http://testserver/premium"

    def proof() -> str:
        return key.proof("GET", url, access_token=token, iat=clock.time())

    await metered.verify_dpop(token, proof(), method="GET", url=url)
    replayed = proof()
    await metered.verify_dpop(token, replayed, method="GET", url=url)
    with pytest.raises(InvalidDPoPProof):
        await metered.verify_dpop(token, replayed, method="GET", url=url)
    await metered.verify(mint())
    histogram = {
        (point.attributes["scheme"], point.attributes["outcome"]): point.count
        for point in points(reader)["claimguard.verification.duration"]
    }
    assert histogram == {("dpop", "valid"): 2, ("dpop", "invalid"): 1, ("bearer", "valid"): 1}


async def test_dpop_verifications_fail_closed_are_timed_as_unavailable(
    http_client: httpx.AsyncClient, mint: Minter, clock: FakeClock, reader: InMemoryMetricReader
) -> None:
    class DownStore:
        async def first_use(self, jkt: str, jti: str, *, ttl_seconds: float) -> bool:
            raise ReplayStoreUnavailable("the replay store cannot be reached")

    verifier = TokenVerifier(
        issuer=ISSUER,
        audience=AUDIENCE,
        http_client=http_client,
        clock=clock,
        dpop_replay_store=DownStore(),
        metrics=MeterProvider(metric_readers=[reader]),
    )
    key = ProofKey("ES256")
    token = mint(claims={"cnf": {"jkt": key.jkt}})
    url = "http://testserver/premium"
    with pytest.raises(ReplayStoreUnavailable):
        await verifier.verify_dpop(
            token,
            key.proof("GET", url, access_token=token, iat=clock.time()),
            method="GET",
            url=url,
        )
    recorded = points(reader)["claimguard.verification.duration"]
    assert [dict(point.attributes) for point in recorded] == [
        {"outcome": "unavailable", "scheme": "dpop"}
    ]
