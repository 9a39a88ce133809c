from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from claimguard import (
    ClaimGuardMiddleware,
    ConfigurationError,
    ProtectedResource,
    TokenVerifier,
    requires_claim,
)

from ..conftest import AUDIENCE, ISSUER, NAMESPACE, FakeClock, Minter
from ..dpop_proofs import bearer_part

pytestmark = pytest.mark.anyio

RESOURCE = "https://api.example.com/mcp"
METADATA_URL = "https://api.example.com/.well-known/oauth-protected-resource/mcp"


def protected_resource(**options: Any) -> ProtectedResource:
    options.setdefault("resource", RESOURCE)
    options.setdefault("authorization_servers", [ISSUER])
    return ProtectedResource(**options)


@pytest.fixture
def resource_verifier(http_client: httpx.AsyncClient, clock: FakeClock) -> TokenVerifier:
    return TokenVerifier(
        issuer=ISSUER, audience=RESOURCE, namespace=NAMESPACE, http_client=http_client, clock=clock
    )


@requires_claim("premium")
async def premium(request: Request) -> Response:
    return JSONResponse({"premium": True})


async def hello(request: Request) -> Response:
    return JSONResponse({"hello": request.user.identity})


@pytest.fixture
async def client(resource_verifier: TokenVerifier) -> AsyncIterator[httpx.AsyncClient]:
    inner = Starlette(routes=[Route("/mcp", hello), Route("/premium", premium)])
    app = ClaimGuardMiddleware(
        inner,
        verifier=resource_verifier,
        protected_resource=protected_resource(
            scopes_supported=["tools:call", "premium"],
            documentation="https://docs.example.com/mcp",
        ),
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app), base_url="https://api.example.com"
    ) as client:
        yield client


def test_document_has_the_rfc_9728_members() -> None:
    resource = protected_resource(
        scopes_supported=["tools:call"],
        documentation="https://docs.example.com/mcp",
        resource_name="Example MCP",
    )
    assert resource.document() == {
        "resource": RESOURCE,
        "authorization_servers": [ISSUER],
        "bearer_methods_supported": ["header"],
        "scopes_supported": ["tools:call"],
        "resource_documentation": "https://docs.example.com/mcp",
        "resource_name": "Example MCP",
    }
    assert json.loads(resource.body) == resource.document()


def test_optional_members_are_left_out() -> None:
    assert set(protected_resource().document()) == {
        "resource",
        "authorization_servers",
        "bearer_methods_supported",
    }


@pytest.mark.parametrize(
    ("resource", "url", "paths"),
    [
        (RESOURCE, METADATA_URL, {"/.well-known/oauth-protected-resource/mcp"}),
        (
            "https://api.example.com/v1/mcp/",
            "https://api.example.com/.well-known/oauth-protected-resource/v1/mcp",
            {"/.well-known/oauth-protected-resource/v1/mcp"},
        ),
        (
            "https://api.example.com",
            "https://api.example.com/.well-known/oauth-protected-resource",
            set(),
        ),
        (
            "http://127.0.0.1:8000/",
            "http://127.0.0.1:8000/.well-known/oauth-protected-resource",
            set(),
        ),
    ],
)
def test_metadata_url_inserts_the_well_known_path_before_the_resource_path(
    resource: str, url: str, paths: set[str]
) -> None:
    built = protected_resource(resource=resource)
    assert built.metadata_url == url
    assert built.metadata_paths == {"/.well-known/oauth-protected-resource", *paths}


@pytest.mark.parametrize(
    "options",
    [
        {"resource": "http://api.example.com/mcp"},
        {"resource": "https://api.example.com/mcp#frag"},
        {"resource": "https://api.example.com/mcp?x=1"},
        {"resource": "/mcp"},
        {"resource": ""},
        {"authorization_servers": []},
        {"authorization_servers": ISSUER},
        {"authorization_servers": ["not a url"]},
        {"scopes_supported": "tools:call"},
        {"scopes_supported": ["two words"]},
        {"documentation": "ftp://docs.example.com"},
        {"resource_name": ""},
    ],
)
def test_bad_options_are_refused_at_construction(options: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        protected_resource(**options)


@pytest.mark.parametrize(
    "path", ["/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"]
)
async def test_middleware_serves_the_document_without_a_token(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.json() == {
        "resource": RESOURCE,
        "authorization_servers": [ISSUER],
        "bearer_methods_supported": ["header"],
        "scopes_supported": ["tools:call", "premium"],
        "resource_documentation": "https://docs.example.com/mcp",
        "dpop_signing_alg_values_supported": ["ES256", "EdDSA", "Ed25519", "RS256", "PS256"],
        "dpop_bound_access_tokens_required": False,
    }


async def test_document_is_served_even_with_a_bad_token(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/.well-known/oauth-protected-resource/mcp", headers={"Authorization": "Bearer nonsense"}
    )
    assert response.status_code == 200


async def test_head_options_and_other_methods(client: httpx.AsyncClient) -> None:
    path = "/.well-known/oauth-protected-resource/mcp"
    head = await client.head(path)
    assert head.status_code == 200
    assert head.content == b""
    options = await client.options(path)
    assert options.status_code == 204
    assert "GET" in options.headers["access-control-allow-methods"]
    post = await client.post(path)
    assert post.status_code == 405
    assert post.headers["allow"] == "GET, HEAD, OPTIONS"


async def test_other_well_known_paths_still_need_a_token(client: httpx.AsyncClient) -> None:
    response = await client.get("/.well-known/oauth-protected-resource/other")
    assert response.status_code == 401


async def test_401_challenge_names_the_metadata_url(client: httpx.AsyncClient) -> None:
    response = await client.get("/mcp")
    assert response.status_code == 401
    assert bearer_part(response.headers["www-authenticate"]) == (
        f'Bearer realm="api", resource_metadata="{METADATA_URL}"'
    )
    bad = await client.get("/mcp", headers={"Authorization": "Bearer a.b.c"})
    assert bad.status_code == 401
    assert f'resource_metadata="{METADATA_URL}"' in bad.headers["www-authenticate"]
    assert 'error="invalid_token"' in bad.headers["www-authenticate"]


async def test_403_challenge_names_the_scope_to_step_up_to(
    client: httpx.AsyncClient, mint: Minter
) -> None:
    token = mint(claims={"aud": RESOURCE}, premium=False)
    response = await client.get("/premium", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403
    challenge = response.headers["www-authenticate"]
    assert 'error="insufficient_scope"' in challenge
    assert 'scope="claim:premium"' in challenge
    assert f'resource_metadata="{METADATA_URL}"' in challenge


async def test_audience_is_the_resource_url_exactly(
    client: httpx.AsyncClient, mint: Minter
) -> None:
    good = mint(claims={"aud": RESOURCE})
    response = await client.get("/mcp", headers={"Authorization": f"Bearer {good}"})
    assert response.status_code == 200
    for other in (
        AUDIENCE,
        RESOURCE + "/",
        "https://API.example.com/mcp",
        "https://api.example.com",
    ):
        token = mint(claims={"aud": other})
        refused = await client.get("/mcp", headers={"Authorization": f"Bearer {token}"})
        assert refused.status_code == 401, other
        assert 'error="invalid_token"' in refused.headers["www-authenticate"]


async def test_verifier_must_accept_the_resource_as_audience(verifier: TokenVerifier) -> None:
    with pytest.raises(ConfigurationError, match="audience must include the resource"):
        ClaimGuardMiddleware(
            Starlette(), verifier=verifier, protected_resource=protected_resource()
        )


async def test_explicit_resource_metadata_url_wins(resource_verifier: TokenVerifier) -> None:
    url = "https://proxy.example.com/.well-known/oauth-protected-resource/mcp"
    app = ClaimGuardMiddleware(
        Starlette(),
        verifier=resource_verifier,
        protected_resource=protected_resource(),
        resource_metadata_url=url,
    )
    assert app.challenger.resource_metadata_url == url


async def test_protected_resource_must_be_the_right_type(resource_verifier: TokenVerifier) -> None:
    with pytest.raises(ConfigurationError, match="ProtectedResource"):
        ClaimGuardMiddleware(
            Starlette(),
            verifier=resource_verifier,
            protected_resource={"resource": RESOURCE},  # type: ignore[arg-type]
        )


def test_acr_values_supported_is_published_when_given() -> None:
    mfa = "http://schemas.openid.net/pape/policies/2007/06/multi-factor"
    built = protected_resource(acr_values_supported=[mfa, "urn:example:hw", mfa])
    assert built.document()["acr_values_supported"] == [mfa, "urn:example:hw"]
    assert json.loads(built.body)["acr_values_supported"] == [mfa, "urn:example:hw"]


@pytest.mark.parametrize("acr_values", ["urn:one", ["two words"], [""], ['q"uote'], [7]])
def test_bad_acr_values_supported_are_refused(acr_values: Any) -> None:
    with pytest.raises(ConfigurationError):
        protected_resource(acr_values_supported=acr_values)
