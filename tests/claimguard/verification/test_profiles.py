"""Provider profiles: tokens shaped like each provider's documented access tokens (headers
and claims as the providers show them), served from a JWKS at that provider's discovery
path shape, accepted with the right scopes and refused for each provider's classic mistake."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from starlette.applications import Starlette
from starlette.authentication import requires
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from claimguard import (
    ClaimGuardMiddleware,
    ClaimProfile,
    ConfigurationError,
    InvalidToken,
    IssuerConfig,
    TokenVerifier,
    requires_claim,
    requires_scope,
)
from claimguard.profiles import EntraProfile, KeycloakProfile, OktaProfile

from ..conftest import FakeClock, SigningKey, _rsa

pytestmark = pytest.mark.anyio

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
PROJECT = "shop-prod-4711"
COGNITO_CLIENT = "3n4b5urk1ft4fl3mg5e62d9ado"
ENTRA_API = "api://0b4e6f1c-5a4e-4b8f-9e5d-2f3c1a7d8e90"
FIREBASE_JWKS = (
    "https://www.googleapis.com/service_accounts/v1/jwk/securetoken@system.gserviceaccount.com"
)


@dataclass
class Provider:
    """One provider: where it publishes keys, how its tokens look, how a verifier names it."""

    profile: str
    issuer: str
    audience: str
    jwks_uri: str
    key: SigningKey
    header: dict[str, Any]
    claims: Callable[[int], dict[str, Any]]
    discovery: bool = True
    namespace: str | None = None

    def config(self, **options: Any) -> IssuerConfig:
        return IssuerConfig(
            issuer=self.issuer,
            audience=self.audience,
            namespace=self.namespace,
            profile=options.pop("profile", self.profile),
            **options,
        )

    def token(self, now: float, *, key: SigningKey | None = None, **claims: Any) -> str:
        payload = {**self.claims(int(now)), **claims}
        for name in [k for k, v in payload.items() if v is None]:
            del payload[name]
        key = key or self.key
        header = {**self.header, "kid": self.header.get("kid", key.kid)}
        return jwt.encode(payload, key.private, algorithm=key.alg, headers=header)


@dataclass
class Network:
    """Every provider's discovery document and JWKS behind one ``httpx.MockTransport``."""

    providers: list[Provider]
    requests: list[str] = field(default_factory=list)
    extra_jwks: dict[str, Provider] = field(default_factory=dict)

    def handler(self, request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        self.requests.append(url)
        for provider in self.providers:
            discovery = provider.issuer.rstrip("/") + "/.well-known/openid-configuration"
            if provider.discovery and url == discovery:
                return httpx.Response(
                    200, json={"issuer": provider.issuer, "jwks_uri": provider.jwks_uri}
                )
            if url == provider.jwks_uri or self.extra_jwks.get(url) is provider:
                return httpx.Response(200, json={"keys": [provider.key.public_jwk]})
        return httpx.Response(404)


def _auth0(now: int) -> dict[str, Any]:
    return {
        "iss": "https://shop.eu.auth0.com/",
        "sub": "auth0|64f1c2d3e4b5a6978899aabb",
        "aud": ["https://api.shop.example.com", "https://shop.eu.auth0.com/userinfo"],
        "iat": now,
        "exp": now + 86400,
        "scope": "openid profile read:orders",
        "azp": "yQk2Zq1bV6dW8pTn3sXc4mLr7hJf0aEg",
        "permissions": ["read:orders", "write:orders"],
        "https://shop.example.com/roles": ["admin"],
    }


def _okta(now: int) -> dict[str, Any]:
    return {
        "ver": 1,
        "jti": "AT.mK7F6LX3s4f8eEwNvmPn0aWzG5oA2Uq1bHcJt9yRkDs",
        "iss": "https://dev-133337.okta.com/oauth2/default",
        "aud": "api://default",
        "iat": now,
        "exp": now + 3600,
        "cid": "0oa1b2c3d4E5F6g7H8i9",
        "uid": "00u1a2b3c4D5E6f7G8h9",
        "scp": ["openid", "orders:read"],
        "auth_time": now - 60,
        "sub": "alice@example.com",
        "groups": ["Everyone", "Shop Admins", "admins"],
    }


def _entra(now: int) -> dict[str, Any]:
    return {
        "aud": ENTRA_API,
        "iss": f"https://login.microsoftonline.com/{TENANT}/v2.0",
        "iat": now,
        "nbf": now,
        "exp": now + 3900,
        "aio": "AXQAi/8TAAAAr0p0kYmXlT0pH1yE3Hk=",
        "azp": "6e74172b-be56-4843-9ff4-e66a39bb12e3",
        "azpacr": "0",
        "name": "Alice Example",
        "oid": "690222be-ff1a-4d56-abd1-7e4f7d38e474",
        "preferred_username": "alice@contoso.example",
        "rh": "0.AAAAv_mIcq...",
        "roles": ["Orders.Admin"],
        "scp": "orders.read orders.write",
        "sub": "HKZpfaHyWadeOouYlitjrI-KffTm222X5rrV3xDqfKQ",
        "tid": TENANT,
        "uti": "fqiBqXLPj0eQa82S-IYFAA",
        "ver": "2.0",
    }


def _entra_v1(now: int) -> dict[str, Any]:
    return {
        **_entra(now),
        "iss": f"https://sts.windows.net/{TENANT}/",
        "ver": "1.0",
        "appid": "6e74172b-be56-4843-9ff4-e66a39bb12e3",
        "azp": None,
        "azpacr": None,
        "appidacr": "0",
    }


def _keycloak(now: int) -> dict[str, Any]:
    return {
        "exp": now + 300,
        "iat": now,
        "auth_time": now - 5,
        "jti": "onrtac:5d0e8f4c-6b7a-4a3e-9c1d-2e3f4a5b6c7d",
        "iss": "https://sso.example.org/realms/shop",
        "aud": ["shop-api", "account"],
        "sub": "f2b6a5e8-1c3d-4e7f-9a0b-8c7d6e5f4a3b",
        "typ": "Bearer",
        "azp": "shop-web",
        "sid": "9c1d2e3f-4a5b-6c7d-8e9f-0a1b2c3d4e5f",
        "acr": "1",
        "allowed-origins": ["https://shop.example.org"],
        "realm_access": {"roles": ["default-roles-shop", "offline_access", "admin"]},
        "resource_access": {
            "shop-api": {"roles": ["editor"]},
            "account": {"roles": ["manage-account", "view-profile"]},
        },
        "scope": "openid profile email orders:read",
        "email_verified": True,
        "preferred_username": "alice",
    }


def _cognito(now: int) -> dict[str, Any]:
    return {
        "sub": "aaaaaaaa-bbbb-cccc-dddd-example",
        "cognito:groups": ["admin"],
        "iss": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Ab129faBb",
        "version": 2,
        "client_id": COGNITO_CLIENT,
        "origin_jti": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        "event_id": "bbbbbbbb-cccc-dddd-eeee-ffffffffffff",
        "token_use": "access",
        "scope": "openid profile orders/read",
        "auth_time": now,
        "exp": now + 3600,
        "iat": now,
        "jti": "cccccccc-dddd-eeee-ffff-000000000000",
        "username": "alice",
    }


def _cognito_id(now: int) -> dict[str, Any]:
    return {
        **_cognito(now),
        "aud": COGNITO_CLIENT,
        "token_use": "id",
        "client_id": None,
        "scope": None,
        "email": "alice@example.com",
        "cognito:username": "alice",
    }


def _firebase(now: int) -> dict[str, Any]:
    return {
        "iss": f"https://securetoken.google.com/{PROJECT}",
        "aud": PROJECT,
        "auth_time": now - 120,
        "user_id": "kX3vJ8m2QpTz9bN4wR7yL1cF5hD6",
        "sub": "kX3vJ8m2QpTz9bN4wR7yL1cF5hD6",
        "iat": now,
        "exp": now + 3600,
        "email": "alice@example.com",
        "email_verified": True,
        "firebase": {
            "identities": {"email": ["alice@example.com"]},
            "sign_in_provider": "password",
        },
        "admin": True,
        "plan": "pro",
    }


@pytest.fixture(scope="module")
def provider_keys(rsa_private: Any) -> dict[str, SigningKey]:
    return {
        "auth0": SigningKey(
            rsa_private, "NjVBRjY5MDlCMUIwNzU4RTA2QzZFMDQ4QzQ2MDAyQjVDNjk1RTM2Qg", "RS256"
        ),
        "okta": SigningKey(_rsa(), "45js03w0djwedsw", "RS256"),
        "entra": SigningKey(_rsa(), "nOo3ZDrODXEK1jKWhXslHR_KXEg", "RS256"),
        "keycloak": SigningKey(_rsa(), "3Xq9yJb4G9b0f1pQ2WcR5kTn8uVh6LmE", "RS256"),
        "cognito": SigningKey(_rsa(), "1234example=", "RS256"),
        "firebase": SigningKey(_rsa(), "a4f1c2d3e4b5a6978899aabbccddeeff00112233", "RS256"),
    }


@pytest.fixture
def providers(provider_keys: dict[str, SigningKey]) -> dict[str, Provider]:
    k = provider_keys
    keycloak = "https://sso.example.org/realms/shop"
    cognito = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Ab129faBb"
    return {
        "auth0": Provider(
            "auth0",
            "https://shop.eu.auth0.com/",
            "https://api.shop.example.com",
            "https://shop.eu.auth0.com/.well-known/jwks.json",
            k["auth0"],
            {"typ": "JWT"},
            _auth0,
            namespace="https://shop.example.com/",
        ),
        "okta": Provider(
            "okta",
            "https://dev-133337.okta.com/oauth2/default",
            "api://default",
            "https://dev-133337.okta.com/oauth2/default/v1/keys",
            k["okta"],
            {"typ": None},
            _okta,
        ),
        "entra": Provider(
            "entra",
            f"https://login.microsoftonline.com/{TENANT}/v2.0",
            ENTRA_API,
            f"https://login.microsoftonline.com/{TENANT}/discovery/v2.0/keys",
            k["entra"],
            {"typ": "JWT"},
            _entra,
        ),
        "keycloak": Provider(
            "keycloak",
            keycloak,
            "shop-api",
            keycloak + "/protocol/openid-connect/certs",
            k["keycloak"],
            {"typ": "JWT"},
            _keycloak,
        ),
        "cognito": Provider(
            "cognito",
            cognito,
            COGNITO_CLIENT,
            cognito + "/.well-known/jwks.json",
            k["cognito"],
            {"typ": None},
            _cognito,
        ),
        "firebase": Provider(
            "firebase",
            f"https://securetoken.google.com/{PROJECT}",
            PROJECT,
            FIREBASE_JWKS,
            k["firebase"],
            {"typ": "JWT"},
            _firebase,
            discovery=False,
        ),
    }


@pytest.fixture
def network(providers: dict[str, Provider]) -> Network:
    return Network(list(providers.values()))


@pytest.fixture
async def client(network: Network) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.MockTransport(network.handler)) as http:
        yield http


def one_issuer(
    provider: Provider, client: httpx.AsyncClient, clock: FakeClock, **options: Any
) -> TokenVerifier:
    """The one-issuer shorthand, ``profile=`` included."""
    return TokenVerifier(
        issuer=provider.issuer,
        audience=provider.audience,
        namespace=provider.namespace,
        profile=options.pop("profile", provider.profile),
        http_client=client,
        clock=clock,
        **options,
    )


async def refused(verifier: TokenVerifier, token: str) -> InvalidToken:
    with pytest.raises(InvalidToken) as caught:
        await verifier.verify(token)
    return caught.value


EXPECTED_SCOPES = {
    "auth0": {"openid", "profile", "read:orders", "write:orders", "claim:roles:admin"},
    # "Shop Admins" holds a space: no scope, still readable in the claims.
    "okta": {"openid", "orders:read", "group:Everyone", "group:admins"},
    "entra": {"orders.read", "orders.write", "role:Orders.Admin"},
    "keycloak": {
        "openid",
        "profile",
        "email",
        "orders:read",
        "role:default-roles-shop",
        "role:offline_access",
        "role:admin",
        "client-role:editor",
    },
    "cognito": {"openid", "profile", "orders/read", "role:admin"},
    "firebase": {"claim:admin", "claim:plan:pro"},
}


# -- each provider's documented tokens ---------------------------------------------------


@pytest.mark.parametrize("name", sorted(EXPECTED_SCOPES))
async def test_a_providers_token_is_accepted_with_its_scopes(
    name: str,
    providers: dict[str, Provider],
    network: Network,
    client: httpx.AsyncClient,
    clock: FakeClock,
) -> None:
    provider = providers[name]
    verifier = one_issuer(provider, client, clock)
    claims = await verifier.verify(provider.token(clock.time()))
    assert claims.scopes == EXPECTED_SCOPES[name]
    assert claims.issuer == provider.issuer
    # Keys came from the provider's own JWKS location, by discovery where it has one.
    assert network.requests[-1] == provider.jwks_uri
    assert len(network.requests) == (2 if provider.discovery else 1)


async def test_the_default_profile_is_todays_rule(
    providers: dict[str, Provider], client: httpx.AsyncClient, clock: FakeClock
) -> None:
    auth0 = providers["auth0"]
    token = auth0.token(clock.time())
    plain = await one_issuer(auth0, client, clock, profile=None).verify(token)
    assert plain.scopes == EXPECTED_SCOPES["auth0"]
    keycloak = providers["keycloak"]
    # Without a profile, Keycloak's roles are not scopes: that is what its profile adds.
    plain = await one_issuer(keycloak, client, clock, profile=None).verify(
        keycloak.token(clock.time())
    )
    assert plain.scopes == {"openid", "profile", "email", "orders:read"}


async def test_firebase_custom_claims_need_no_namespace(
    providers: dict[str, Provider], client: httpx.AsyncClient, clock: FakeClock
) -> None:
    firebase = providers["firebase"]
    claims = await one_issuer(firebase, client, clock).verify(firebase.token(clock.time()))
    assert dict(claims.custom) == {"admin": True, "plan": "pro"}
    assert claims.lookup("admin") == (True, True)


# -- each provider's classic mistake ------------------------------------------------------


async def test_a_cognito_id_token_is_refused_naming_token_use(
    providers: dict[str, Provider], client: httpx.AsyncClient, clock: FakeClock
) -> None:
    cognito = providers["cognito"]
    verifier = one_issuer(cognito, client, clock)
    id_token = cognito.token(clock.time(), **_cognito_id(int(clock.time())))
    error = await refused(verifier, id_token)
    assert error.code == "wrong_token_use"
    assert "token_use" in error.description
    assert "ID token" in error.description
    # An access token for another app client of the same pool is not this API's.
    other = cognito.token(clock.time(), client_id="7d8e9f0a1b2c3d4e5f6a7b8c9d")
    assert (await refused(verifier, other)).code == "wrong_audience"


async def test_a_token_with_aud_is_not_a_cognito_access_token(
    providers: dict[str, Provider], client: httpx.AsyncClient, clock: FakeClock
) -> None:
    # An RFC 9068 token for another API that names this client and says token_use
    # "access" would otherwise pass as Cognito's and bring that API's scopes here.
    cognito = providers["cognito"]
    verifier = one_issuer(cognito, client, clock)
    access = cognito.token(clock.time())
    assert "aud" not in jwt.decode(access, options={"verify_signature": False})
    await verifier.verify(access)
    error = await refused(verifier, cognito.token(clock.time(), aud="other-api"))
    assert error.code == "wrong_token_use"
    assert "aud" in error.description


async def test_a_keycloak_token_for_the_account_audience_says_to_add_an_audience_mapper(
    providers: dict[str, Provider], client: httpx.AsyncClient, clock: FakeClock
) -> None:
    keycloak = providers["keycloak"]
    verifier = one_issuer(keycloak, client, clock)
    error = await refused(verifier, keycloak.token(clock.time(), aud="account"))
    assert error.code == "wrong_audience"
    assert "audience mapper" in error.description
    # Another wrong audience is refused with the usual words.
    error = await refused(verifier, keycloak.token(clock.time(), aud="other-api"))
    assert (error.code, "audience mapper" in error.description) == ("wrong_audience", False)
    id_token = keycloak.token(clock.time(), typ="ID", aud="shop-api")
    assert (await refused(verifier, id_token)).code == "wrong_token_use"


async def test_a_keycloak_token_without_typ_is_not_an_access_token(
    providers: dict[str, Provider], client: httpx.AsyncClient, clock: FakeClock
) -> None:
    keycloak = providers["keycloak"]
    untyped = keycloak.token(clock.time(), typ=None)
    error = await refused(one_issuer(keycloak, client, clock), untyped)
    assert error.code == "wrong_token_use"


async def test_an_entra_v1_token_is_refused_with_its_reason_unless_allowed(
    providers: dict[str, Provider],
    network: Network,
    client: httpx.AsyncClient,
    clock: FakeClock,
) -> None:
    entra = providers["entra"]
    v1 = entra.token(clock.time(), **_entra_v1(int(clock.time())))
    error = await refused(one_issuer(entra, client, clock), v1)
    assert error.code == "entra_v1_token"
    assert "accessTokenAcceptedVersion" in error.description
    # Among several issuers the v1 issuer is recognised before any key is fetched.
    several = TokenVerifier(
        issuers=[entra.config(), providers["auth0"].config()], http_client=client, clock=clock
    )
    network.requests.clear()
    assert (await refused(several, v1)).code == "entra_v1_token"
    assert network.requests == []
    # A v2 token claiming v1 is refused too.
    assert (await refused(several, entra.token(clock.time(), ver="1.0"))).code == ("entra_v1_token")

    v1_keys = f"https://login.microsoftonline.com/{TENANT}/discovery/keys"
    network.extra_jwks[v1_keys] = entra
    allowed = one_issuer(entra, client, clock, profile=EntraProfile(allow_v1=True))
    claims = await allowed.verify(v1)
    assert claims.issuer == f"https://sts.windows.net/{TENANT}/"
    assert claims.scopes == EXPECTED_SCOPES["entra"]
    assert v1_keys in network.requests
    assert (await allowed.verify(entra.token(clock.time()))).issuer == entra.issuer


async def test_an_entra_token_of_another_tenant_is_refused(
    providers: dict[str, Provider], client: httpx.AsyncClient, clock: FakeClock
) -> None:
    entra = providers["entra"]
    verifier = one_issuer(entra, client, clock)
    other = "5b2a1c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d"
    assert (await refused(verifier, entra.token(clock.time(), tid=other))).code == "wrong_tenant"
    assert (await refused(verifier, entra.token(clock.time(), tid=None))).code == "missing_claim"


async def test_a_firebase_token_of_another_project_is_refused(
    providers: dict[str, Provider], client: httpx.AsyncClient, clock: FakeClock
) -> None:
    firebase = providers["firebase"]
    verifier = one_issuer(firebase, client, clock)
    other = "someone-elses-app"
    # Google signs every project's tokens with the same keys: only iss and aud tell.
    token = firebase.token(clock.time(), iss=f"https://securetoken.google.com/{other}", aud=other)
    error = await refused(verifier, token)
    assert error.code == "wrong_issuer"
    assert "another Firebase project" in error.description
    error = await refused(verifier, firebase.token(clock.time(), aud=other))
    assert (error.code, error.description) == (
        "wrong_audience",
        "The token is for another Firebase project.",
    )


@pytest.mark.parametrize(
    ("claims", "code"),
    [
        ({"sub": ""}, "invalid_claim"),
        ({"sub": None}, "invalid_claim"),
        ({"auth_time": None}, "missing_claim"),
        ({"auth_time": "yesterday"}, "invalid_claim"),
        ({"auth_time": 10**10}, "not_yet_valid"),
    ],
)
async def test_firebase_requires_a_subject_and_a_past_auth_time(
    providers: dict[str, Provider],
    client: httpx.AsyncClient,
    clock: FakeClock,
    claims: dict[str, Any],
    code: str,
) -> None:
    firebase = providers["firebase"]
    verifier = one_issuer(firebase, client, clock)
    assert (await refused(verifier, firebase.token(clock.time(), **claims))).code == code


async def test_client_ids_restrict_the_client_a_token_was_issued_to(
    providers: dict[str, Provider], client: httpx.AsyncClient, clock: FakeClock
) -> None:
    okta = providers["okta"]
    verifier = one_issuer(okta, client, clock, profile=OktaProfile(client_ids=["0oaOTHER"]))
    assert (await refused(verifier, okta.token(clock.time()))).code == "wrong_client"
    verifier = one_issuer(
        okta, client, clock, profile=OktaProfile(client_ids=["0oa1b2c3d4E5F6g7H8i9"])
    )
    assert (await verifier.verify(okta.token(clock.time()))).scopes == EXPECTED_SCOPES["okta"]


async def test_scope_words_spelled_like_roles_or_groups_give_nothing(
    providers: dict[str, Provider], client: httpx.AsyncClient, clock: FakeClock
) -> None:
    keycloak = providers["keycloak"]
    token = keycloak.token(
        clock.time(),
        scope="openid role:superuser client-role:owner claim:premium",
        realm_access={"roles": []},
        resource_access={},
    )
    claims = await one_issuer(keycloak, client, clock).verify(token)
    assert claims.scopes == {"openid"}
    okta = providers["okta"]
    token = okta.token(clock.time(), scp=["openid", "group:admins"], groups=[])
    assert (await one_issuer(okta, client, clock).verify(token)).scopes == {"openid"}


async def test_keycloak_client_roles_come_from_the_named_client(
    providers: dict[str, Provider], client: httpx.AsyncClient, clock: FakeClock
) -> None:
    keycloak = providers["keycloak"]
    resource_access = {"shop.admin-api": {"roles": ["auditor"]}, "shop-api": {"roles": ["x"]}}
    token = keycloak.token(clock.time(), resource_access=resource_access)
    profile = KeycloakProfile(client="shop.admin-api")
    claims = await one_issuer(keycloak, client, clock, profile=profile).verify(token)
    assert {s for s in claims.scopes if s.startswith("client-role:")} == {"client-role:auditor"}


# -- custom profiles ----------------------------------------------------------------------


async def test_a_custom_profile_maps_dotted_paths_to_prefixed_scopes(
    providers: dict[str, Provider], client: httpx.AsyncClient, clock: FakeClock
) -> None:
    keycloak = providers["keycloak"]
    profile = ClaimProfile(
        scope_strings=("scope",),
        scope_lists=(),
        prefixed={"realm_access.roles": "realm:", "org.teams": "team:"},
    )
    token = keycloak.token(clock.time(), org={"teams": ["eng", "ops team"]})
    claims = await one_issuer(keycloak, client, clock, profile=profile).verify(token)
    assert claims.scopes == {
        "openid",
        "profile",
        "email",
        "orders:read",
        "realm:default-roles-shop",
        "realm:offline_access",
        "realm:admin",
        "team:eng",
    }


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"prefixed": {"roles": "role"}}, "ending with ':'"),
        ({"prefixed": {"roles": "claim:"}}, "'claim:'"),
        ({"prefixed": {"roles": "claim:x:"}}, "'claim:'"),
        ({"prefixed": {"realm_access..roles": "role:"}}, "dotted claim path"),
        ({"prefixed": {"": "role:"}}, "non-empty"),
        ({"scope_strings": "scope"}, "not one string"),
        ({"client_ids": ["a"]}, "client_claim"),
    ],
)
def test_bad_custom_profiles_fail_when_built(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        ClaimProfile(**options)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"profile": "azure"}, "profile must be one of"),
        ({"profile": "auth0", "issuer": "https://shop.eu.auth0.com"}, "must end with '/'"),
        ({"profile": "firebase", "audience": "another"}, "project id"),
        (
            {
                "profile": "entra",
                "issuer": None,
                "audience": None,
                "issuers": [IssuerConfig(issuer="https://a.example.com/", audience="a")],
            },
            "profile belongs",
        ),
        (
            {"profile": "entra", "issuer": f"https://sts.windows.net/{TENANT}/"},
            rf"v1 issuer.*'https://login\.microsoftonline\.com/{TENANT}/v2\.0'.*allow_v1=True",
        ),
        (
            {"profile": "entra", "issuer": "https://login.microsoftonline.com/common/v2.0"},
            "multi-tenant alias 'common'.*issuer_resolver",
        ),
        (
            {
                "profile": "entra",
                "issuer": "https://login.microsoftonline.com/organizations/v2.0",
            },
            "multi-tenant alias 'organizations'",
        ),
    ],
)
def test_bad_profile_options_fail_at_construction(options: dict[str, Any], message: str) -> None:
    base = {"issuer": "https://securetoken.google.com/p", "audience": "p"}
    with pytest.raises(ConfigurationError, match=message):
        TokenVerifier(**{**base, **options})


@pytest.mark.parametrize(
    ("client", "message"),
    [("", "client='' must be a client id"), (["shop", ""], "each a non-empty string")],
)
def test_a_keycloak_profile_naming_an_empty_client_fails_when_built(
    client: Any, message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        KeycloakProfile(client=client)


# -- three issuers at once ----------------------------------------------------------------


async def test_three_providers_at_once_each_token_accepted_by_its_own_issuer_only(
    providers: dict[str, Provider], client: httpx.AsyncClient, clock: FakeClock
) -> None:
    three = [providers[name] for name in ("auth0", "keycloak", "entra")]
    verifier = TokenVerifier(issuers=[p.config() for p in three], http_client=client, clock=clock)
    now = clock.time()
    for provider in three:
        claims = await verifier.verify(provider.token(now))
        assert claims.issuer == provider.issuer
        assert claims.scopes == EXPECTED_SCOPES[provider.profile]
        others = TokenVerifier(
            issuers=[p.config() for p in three if p is not provider],
            http_client=client,
            clock=clock,
        )
        assert (await refused(others, provider.token(now))).code == "wrong_issuer"

    auth0, keycloak, entra = three
    # iss names Auth0; signed with Keycloak's key under Auth0's kid, or under its own.
    forged = auth0.token(now, key=SigningKey(keycloak.key.private, auth0.key.kid, "RS256"))
    assert (await refused(verifier, forged)).code == "bad_signature"
    assert (await refused(verifier, auth0.token(now, key=keycloak.key))).code == "unknown_kid"
    # A Keycloak-shaped token naming Entra, signed by Entra's key under Keycloak's rules:
    # Entra's profile still applies (no tid), so nothing crosses over.
    crossed = keycloak.token(now, key=entra.key, iss=entra.issuer, aud=entra.audience)
    assert (await refused(verifier, crossed)).code == "missing_claim"


async def test_an_es256_key_is_no_way_round_a_profile(
    providers: dict[str, Provider], client: httpx.AsyncClient, clock: FakeClock
) -> None:
    # Profiles change the claims read, never the algorithm or key policy.
    keycloak = providers["keycloak"]
    ec_key = SigningKey(ec.generate_private_key(ec.SECP256R1()), keycloak.key.kid, "ES256")
    verifier = one_issuer(keycloak, client, clock)
    assert (await refused(verifier, keycloak.token(clock.time(), key=ec_key))).code == (
        "alg_key_mismatch"
    )


# -- guards mean the same for every provider ----------------------------------------------

# provider -> (a scope word, a role/group/claim scope for Starlette's requires(), and the
# requires_claim arguments) its documented token grants.
GUARDS: dict[str, tuple[str, str, tuple[str, dict[str, Any]]]] = {
    "auth0": ("read:orders", "claim:roles:admin", ("roles", {"includes": "admin"})),
    "okta": ("orders:read", "group:admins", ("groups", {"includes": "admins"})),
    "entra": ("orders.read", "role:Orders.Admin", ("roles", {"includes": "Orders.Admin"})),
    "keycloak": ("orders:read", "role:admin", ("email_verified", {})),
    "cognito": ("orders/read", "role:admin", ("cognito:groups", {"includes": "admin"})),
    "firebase": ("claim:plan:pro", "claim:admin", ("admin", {})),
}

# The same provider's token with that authorization data taken away.
UNPRIVILEGED: dict[str, dict[str, Any]] = {
    "auth0": {"scope": "openid", "permissions": [], "https://shop.example.com/roles": []},
    "okta": {"scp": ["openid"], "groups": ["Everyone"]},
    "entra": {"scp": "User.Read", "roles": None},
    "keycloak": {
        "scope": "openid",
        "realm_access": {"roles": []},
        "email_verified": False,
    },
    "cognito": {"scope": "openid", "cognito:groups": None},
    "firebase": {"admin": None, "plan": "free"},
}


def guarded_app(name: str, verifier: TokenVerifier) -> ClaimGuardMiddleware:
    scope, role, (claim, claim_options) = GUARDS[name]

    @requires_scope(scope)
    async def by_scope(request: Request) -> Response:
        return JSONResponse({"sub": request.user.identity})

    @requires([role])
    async def by_starlette(request: Request) -> Response:
        return JSONResponse({"sub": request.user.identity})

    @requires_claim(claim, **claim_options)
    async def by_claim(request: Request) -> Response:
        return JSONResponse({"sub": request.user.identity})

    routes = [
        Route("/scope", by_scope),
        Route("/starlette", by_starlette),
        Route("/claim", by_claim),
    ]
    return ClaimGuardMiddleware(Starlette(routes=routes), verifier=verifier)


@pytest.mark.parametrize("name", sorted(GUARDS))
async def test_guards_mean_the_same_for_every_provider(
    name: str, providers: dict[str, Provider], client: httpx.AsyncClient, clock: FakeClock
) -> None:
    provider = providers[name]
    app = guarded_app(name, one_issuer(provider, client, clock))
    privileged = provider.token(clock.time())
    unprivileged = provider.token(clock.time(), **UNPRIVILEGED[name])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        for path in ("/scope", "/starlette", "/claim"):
            answer = await http.get(path, headers={"Authorization": f"Bearer {privileged}"})
            assert answer.status_code == 200, (path, answer.text)
            assert answer.json()["sub"] == provider.claims(0)["sub"]
            answer = await http.get(path, headers={"Authorization": f"Bearer {unprivileged}"})
            assert answer.status_code == 403, path
        # A tampered token is a 401, whatever the profile.
        answer = await http.get("/scope", headers={"Authorization": "Bearer " + privileged[:-4]})
        assert answer.status_code == 401
