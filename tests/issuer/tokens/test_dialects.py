"""Access tokens shaped like each provider's, and accepted by claimguard's matching profile."""

from typing import Any

import jwt
import pytest

from claimguard import TokenVerifier
from issuer import ConfigError, Issuer

pytestmark = pytest.mark.anyio

API = "shop-api"


def _issuer(dialect: Any, **kwargs: Any) -> Issuer:
    issuer = Issuer(signing_alg="ES256", **kwargs)
    issuer.add_api(API, scopes=["read:orders"], token_dialect=dialect)
    issuer.add_client(
        "app",
        client_secret="s",
        grant_types=["authorization_code", "client_credentials"],
        grants={API: ["read:orders"]},
    )
    issuer.add_user("alice@example.com", password="pw", roles=["admin", "support"])
    return issuer


async def _login(issuer: Issuer) -> tuple[dict[str, Any], dict[str, Any], str]:
    tokens = await issuer.login("alice@example.com", audience=API, scope="read:orders")
    header = jwt.get_unverified_header(tokens.access_token)
    claims = jwt.decode(tokens.access_token, options={"verify_signature": False})
    return header, claims, tokens.access_token


async def test_keycloak_dialect_has_bearer_typ_azp_and_realm_roles() -> None:
    header, claims, _ = await _login(_issuer("keycloak"))
    assert header["typ"] == "JWT"
    assert claims["typ"] == "Bearer"
    assert claims["azp"] == "app"
    assert claims["realm_access"] == {"roles": ["admin", "support"]}
    assert claims["scope"] == "read:orders"
    assert claims["aud"] == API


async def test_okta_dialect_has_scp_list_cid_uid_and_groups() -> None:
    _, claims, _ = await _login(_issuer("okta"))
    assert claims["scp"] == ["read:orders"]
    assert "scope" not in claims
    assert claims["cid"] == "app"
    assert claims["uid"] == claims["sub"]
    assert claims["groups"] == ["admin", "support"]


async def test_entra_dialect_has_scp_string_roles_tid_and_version() -> None:
    _, claims, _ = await _login(_issuer("entra"))
    assert claims["scp"] == "read:orders"
    assert "scope" not in claims
    assert claims["roles"] == ["admin", "support"]
    assert claims["azp"] == "app"
    assert claims["tid"] == "local"
    assert claims["ver"] == "2.0"


async def test_cognito_dialect_has_no_aud_but_client_id_and_token_use() -> None:
    _, claims, _ = await _login(_issuer("cognito"))
    assert "aud" not in claims
    assert claims["client_id"] == "app"
    assert claims["token_use"] == "access"
    assert claims["cognito:groups"] == ["admin", "support"]
    # The API's scopes name their resource server, as Cognito spells them.
    assert claims["scope"] == f"{API}/read:orders"


async def test_a_dialect_claim_from_an_action_is_replaced_by_the_issuers() -> None:
    issuer = _issuer("keycloak")

    async def on_execute_post_login(event: Any, api: Any) -> None:
        api.access_token.set_custom_claim("realm_access", {"roles": ["root"]})

    issuer.add_action(on_execute_post_login)
    _, claims, _ = await _login(issuer)
    assert claims["realm_access"] == {"roles": ["admin", "support"]}


@pytest.mark.parametrize(
    ("dialect", "claim", "value"),
    [
        ("entra", "roles", ["admin"]),
        ("cognito", "cognito:groups", ["admin"]),
        ("okta", "groups", ["admin"]),
        ("keycloak", "resource_access", {API: {"roles": ["admin"]}}),
        ("rfc9068", "token_use", "access"),
    ],
)
async def test_an_action_cannot_write_a_claim_a_dialect_owns(
    dialect: str, claim: str, value: Any
) -> None:
    # A user with no roles: the dialect writes nothing there, so an action's claim of that
    # name would have stayed and become a role (or, for token_use, a Cognito token) at the
    # API's matching profile.
    issuer = _issuer(dialect)
    issuer.add_user("bob@example.com", password="pw")

    async def on_execute_post_login(event: Any, api: Any) -> None:
        api.access_token.set_custom_claim(claim, value)

    issuer.add_action(on_execute_post_login)
    tokens = await issuer.login("bob@example.com", audience=API, scope="read:orders")
    claims = jwt.decode(tokens.access_token, options={"verify_signature": False})
    assert claims.get(claim) != value  # absent, or the issuer's own (no roles)
    (record,) = issuer.action_logs()
    assert any("reserved" in warning for warning in record.warnings)


async def test_a_client_credentials_token_names_no_user() -> None:
    issuer = _issuer("okta")
    async with issuer.http_client() as http:
        response = await http.post(
            "/oauth/token",
            data={"grant_type": "client_credentials", "audience": API},
            auth=("app", "s"),
        )
    assert response.status_code == 200, response.text
    claims = jwt.decode(response.json()["access_token"], options={"verify_signature": False})
    assert claims["cid"] == "app"
    assert claims["scp"] == ["read:orders"]
    assert "uid" not in claims
    assert "groups" not in claims


def test_an_unknown_dialect_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"'keycloak'.*not 'ping'"):
        Issuer().add_api(API, token_dialect="ping")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("dialect", "profile", "scopes"),
    [
        ("keycloak", "keycloak", {"read:orders", "role:admin", "role:support"}),
        ("okta", "okta", {"read:orders", "group:admin", "group:support"}),
        ("entra", "entra", {"read:orders", "role:admin", "role:support"}),
        ("cognito", "cognito", {f"{API}/read:orders", "role:admin", "role:support"}),
    ],
)
async def test_claimguards_matching_profile_accepts_the_dialects_token(
    dialect: str, profile: str, scopes: set[str]
) -> None:
    issuer = _issuer(dialect)
    # Cognito's access tokens have no aud: the app client id is what the API accepts.
    audience = "app" if dialect == "cognito" else API
    _, _, token = await _login(issuer)
    async with (
        issuer.http_client() as keys,
        TokenVerifier(
            issuer=issuer.url, audience=audience, profile=profile, http_client=keys
        ) as verifier,
    ):
        claims = await verifier.verify(token)
    assert claims.scopes == scopes
