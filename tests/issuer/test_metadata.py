"""RFC 8414 authorization-server metadata beside the OpenID discovery document."""

import pytest

from issuer import Issuer

pytestmark = pytest.mark.anyio


async def test_oauth_metadata_names_the_same_issuer_as_discovery(bare_issuer: Issuer) -> None:
    async with bare_issuer.http_client() as client:
        oauth = (await client.get(".well-known/oauth-authorization-server")).json()
        openid = (await client.get(".well-known/openid-configuration")).json()
    assert oauth["issuer"] == openid["issuer"] == bare_issuer.url


async def test_oauth_metadata_has_what_an_mcp_client_needs(bare_issuer: Issuer) -> None:
    async with bare_issuer.http_client() as client:
        response = await client.get(".well-known/oauth-authorization-server")
    assert response.status_code == 200
    metadata = response.json()
    url = bare_issuer.url
    assert metadata["authorization_endpoint"] == f"{url}authorize"
    assert metadata["token_endpoint"] == f"{url}oauth/token"
    assert metadata["registration_endpoint"] == f"{url}oidc/register"
    assert metadata["jwks_uri"] == f"{url}.well-known/jwks.json"
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert metadata["response_types_supported"] == ["code"]
    assert {"none", "client_secret_basic", "client_secret_post"} <= set(
        metadata["token_endpoint_auth_methods_supported"]
    )
    assert {"authorization_code", "refresh_token", "client_credentials"} <= set(
        metadata["grant_types_supported"]
    )
    assert {"openid", "offline_access", "read:messages"} <= set(metadata["scopes_supported"])
    assert metadata["authorization_response_iss_parameter_supported"] is True


async def test_oauth_metadata_leaves_out_openid_only_members(bare_issuer: Issuer) -> None:
    async with bare_issuer.http_client() as client:
        metadata = (await client.get(".well-known/oauth-authorization-server")).json()
    assert "userinfo_endpoint" not in metadata
    assert "id_token_signing_alg_values_supported" not in metadata


async def test_openid_discovery_lists_registration_too(bare_issuer: Issuer) -> None:
    async with bare_issuer.http_client() as client:
        openid = (await client.get(".well-known/openid-configuration")).json()
    assert openid["registration_endpoint"] == f"{bare_issuer.url}oidc/register"
    assert openid["authorization_response_iss_parameter_supported"] is True


async def test_oauth_metadata_is_parsed_by_the_mcp_sdk(bare_issuer: Issuer) -> None:
    shared_auth = pytest.importorskip("mcp.shared.auth", reason="the mcp extra is not installed")
    async with bare_issuer.http_client() as client:
        response = await client.get(".well-known/oauth-authorization-server")
    metadata = shared_auth.OAuthMetadata.model_validate_json(response.content)
    assert str(metadata.issuer) == bare_issuer.url
    assert str(metadata.registration_endpoint) == f"{bare_issuer.url}oidc/register"
