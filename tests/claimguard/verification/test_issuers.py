"""Several issuers: fixed ``IssuerConfig`` lists and an ``issuer_resolver``, each issuer
checked with its own keys and rules, and no network access for an ``iss`` nobody accepts."""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import anyio
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
    Claims,
    ConfigurationError,
    InvalidToken,
    IssuerConfig,
    KeySetUnavailable,
    ProtectedResource,
    TokenVerifier,
)

from ..conftest import DROP, FakeClock, FakeIssuerEndpoints, Minter, SigningKey, _rsa

pytestmark = pytest.mark.anyio

# Three issuers shaped like Auth0 (trailing slash, namespaced claims), Keycloak (a realm
# path, no trailing slash) and Entra ID v2 (a tenant path, keys at an explicit jwks_uri).
AUTH0 = "https://tenant.eu.auth0.example.com/"
KEYCLOAK = "https://sso.example.org/realms/shop"
ENTRA = "https://login.microsoftonline.example.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0"
ENTRA_JWKS = "https://login.microsoftonline.example.com/common/discovery/v2.0/keys"
AUTH0_AUDIENCE = "https://api.example.com"
KEYCLOAK_AUDIENCE = "shop-api"
ENTRA_AUDIENCE = "api://orders"
AUTH0_NAMESPACE = "https://myapp.example.com/"
KID = "shared"  # every issuer publishes its own key under the same kid


@dataclass
class Issuers:
    """Discovery + JWKS of several issuers behind one ``httpx.MockTransport``."""

    served: dict[str, FakeIssuerEndpoints] = field(default_factory=dict)
    jwks_uris: dict[str, str] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)

    def add(self, issuer: str, keys: list[dict[str, Any]], jwks_uri: str | None = None) -> None:
        self.served[issuer] = FakeIssuerEndpoints(keys=keys, issuer=issuer, base=issuer)
        if jwks_uri is not None:
            self.jwks_uris[jwks_uri] = issuer

    def handler(self, request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        self.requests.append(url)
        if url in self.jwks_uris:
            endpoints = self.served[self.jwks_uris[url]]
            endpoints.jwks_requests += 1
            return httpx.Response(200, json={"keys": endpoints.keys})
        for issuer, endpoints in self.served.items():
            if url.startswith(issuer.rstrip("/") + "/.well-known/"):
                return endpoints.handler(request)
        return httpx.Response(404)

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self.handler))


@dataclass(frozen=True)
class Keys:
    auth0: SigningKey
    keycloak: SigningKey
    entra: SigningKey


@pytest.fixture(scope="module")
def keys(rsa_private: Any) -> Keys:
    return Keys(
        auth0=SigningKey(rsa_private, KID, "RS256"),
        keycloak=SigningKey(ec.generate_private_key(ec.SECP256R1()), KID, "ES256"),
        entra=SigningKey(_rsa(), KID, "RS256"),
    )


@pytest.fixture
def issuers(keys: Keys) -> Issuers:
    served = Issuers()
    served.add(AUTH0, [keys.auth0.public_jwk])
    served.add(KEYCLOAK, [keys.keycloak.public_jwk])
    served.add(ENTRA, [keys.entra.public_jwk], jwks_uri=ENTRA_JWKS)
    return served


CONFIGS = [
    IssuerConfig(issuer=AUTH0, audience=AUTH0_AUDIENCE, namespace=AUTH0_NAMESPACE),
    IssuerConfig(issuer=KEYCLOAK, audience=[KEYCLOAK_AUDIENCE], algorithms=["ES256"]),
    IssuerConfig(issuer=ENTRA, audience=ENTRA_AUDIENCE, jwks_uri=ENTRA_JWKS),
]


@pytest.fixture
async def client(issuers: Issuers) -> AsyncIterator[httpx.AsyncClient]:
    async with issuers.client() as http_client:
        yield http_client


@pytest.fixture
def verifier(client: httpx.AsyncClient, clock: FakeClock) -> TokenVerifier:
    return TokenVerifier(issuers=CONFIGS, http_client=client, clock=clock)


def auth0_token(mint: Minter, keys: Keys, **claims: Any) -> str:
    return mint(
        key=keys.auth0,
        claims={
            "iss": AUTH0,
            "aud": [AUTH0_AUDIENCE, AUTH0 + "userinfo"],
            "permissions": ["read:orders"],
            AUTH0_NAMESPACE + "premium": True,
            **claims,
        },
    )


def keycloak_token(mint: Minter, keys: Keys, **claims: Any) -> str:
    return mint(
        key=keys.keycloak,
        claims={
            "iss": KEYCLOAK,
            "aud": KEYCLOAK_AUDIENCE,
            "scope": "openid profile basket:write",
            "realm_access": {"roles": ["customer"]},
            **claims,
        },
    )


def entra_token(mint: Minter, keys: Keys, **claims: Any) -> str:
    return mint(
        key=keys.entra,
        claims={
            "iss": ENTRA,
            "aud": ENTRA_AUDIENCE,
            "scope": "Orders.Read",
            "tid": "9188040d-6c67-4c5b-b112-36a304b66dad",
            **claims,
        },
    )


async def refused(verifier: TokenVerifier, token: str) -> InvalidToken:
    with pytest.raises(InvalidToken) as caught:
        await verifier.verify(token)
    return caught.value


# -- three fixed issuers ----------------------------------------------------------------


async def test_each_issuer_accepts_its_own_tokens_with_its_own_rules(
    verifier: TokenVerifier, mint: Minter, keys: Keys
) -> None:
    auth0 = await verifier.verify(auth0_token(mint, keys))
    keycloak = await verifier.verify(keycloak_token(mint, keys))
    entra = await verifier.verify(entra_token(mint, keys))

    assert (auth0.issuer, keycloak.issuer, entra.issuer) == (AUTH0, KEYCLOAK, ENTRA)
    # The namespace is Auth0's alone: its claim becomes a scope there, and nowhere else.
    assert auth0.scopes == {"openid", "read:messages", "read:orders", "claim:premium"}
    assert keycloak.scopes == {"openid", "profile", "basket:write"}
    assert entra.scopes == {"Orders.Read"}
    same_claim_elsewhere = entra_token(mint, keys, **{AUTH0_NAMESPACE + "premium": True})
    assert "claim:premium" not in (await verifier.verify(same_claim_elsewhere)).scopes


async def test_an_issuers_audience_and_algorithms_are_its_own(
    verifier: TokenVerifier, mint: Minter, keys: Keys
) -> None:
    # Auth0's audience is not accepted for a Keycloak token, nor the other way round.
    assert (await refused(verifier, keycloak_token(mint, keys, aud=AUTH0_AUDIENCE))).code == (
        "wrong_audience"
    )
    assert (await refused(verifier, auth0_token(mint, keys, aud=KEYCLOAK_AUDIENCE))).code == (
        "wrong_audience"
    )
    # Keycloak accepts ES256 only, while RS256 is fine for the two others.
    rs256_keycloak = mint(key=keys.entra, claims={"iss": KEYCLOAK, "aud": KEYCLOAK_AUDIENCE})
    assert (await refused(verifier, rs256_keycloak)).code == "alg_not_allowed"


async def test_a_token_naming_one_issuer_but_signed_with_anothers_key_is_refused(
    verifier: TokenVerifier, issuers: Issuers, mint: Minter, keys: Keys
) -> None:
    # Same kid, same algorithm: only the key sets being kept apart tells them apart.
    await verifier.verify(entra_token(mint, keys))
    forged = mint(key=keys.entra, claims={"iss": AUTH0, "aud": AUTH0_AUDIENCE})
    assert (await refused(verifier, forged)).code == "bad_signature"
    forged_the_other_way = mint(key=keys.auth0, claims={"iss": ENTRA, "aud": ENTRA_AUDIENCE})
    assert (await refused(verifier, forged_the_other_way)).code == "bad_signature"
    # Each issuer's keys came from its own JWKS only.
    assert issuers.served[AUTH0].jwks_requests >= 1
    assert issuers.served[ENTRA].jwks_requests >= 1
    assert issuers.served[KEYCLOAK].jwks_requests == 0


@pytest.mark.parametrize(
    "iss",
    [
        "https://evil.example.com/",
        AUTH0.rstrip("/"),  # exact string comparison: no slash normalising
        AUTH0.upper(),
        KEYCLOAK + "/",
        DROP,
        42,
        None,
        [AUTH0],
        {"iss": AUTH0},
    ],
)
async def test_an_iss_no_configuration_accepts_is_wrong_issuer_without_any_request(
    verifier: TokenVerifier, issuers: Issuers, clock: FakeClock, keys: Keys, iss: Any
) -> None:
    payload = {"aud": AUTH0_AUDIENCE, "exp": clock.time() + 60}
    if iss is not DROP:
        payload["iss"] = iss
    # Signed by hand: PyJWT refuses to write an iss that is not a string.
    token = jwt.api_jws.encode(
        json.dumps(payload).encode(), keys.auth0.private, "RS256", {"kid": KID}
    )
    assert (await refused(verifier, token)).code == "wrong_issuer"
    assert issuers.requests == []


async def test_a_key_leaving_one_issuer_forgets_only_that_issuers_tokens(
    client: httpx.AsyncClient, issuers: Issuers, clock: FakeClock, mint: Minter, keys: Keys
) -> None:
    # A second issuer publishing the very same key material under the same kid.
    twin = "https://twin.example.com/"
    issuers.add(twin, [keys.auth0.public_jwk])
    verifier = TokenVerifier(
        issuers=[CONFIGS[0], IssuerConfig(issuer=twin, audience=AUTH0_AUDIENCE)],
        http_client=client,
        clock=clock,
    )
    twin_token = mint(key=keys.auth0, claims={"iss": twin, "aud": AUTH0_AUDIENCE})
    await verifier.verify(twin_token)
    auth0 = auth0_token(mint, keys)
    await verifier.verify(auth0)
    assert verifier.cached_tokens == 2

    # Auth0 now publishes another key under the same kid; the twin still has the old one.
    issuers.served[AUTH0].keys = [keys.keycloak.public_jwk]
    await verifier.preflight()
    assert verifier.cached_tokens == 1
    assert (await refused(verifier, auth0)).code == "alg_key_mismatch"
    assert (await verifier.verify(twin_token)).issuer == twin


async def test_claims_from_the_one_issuer_shorthand_name_it(
    client: httpx.AsyncClient, clock: FakeClock, mint: Minter, keys: Keys
) -> None:
    verifier = TokenVerifier(issuer=AUTH0, audience=AUTH0_AUDIENCE, http_client=client, clock=clock)
    claims = await verifier.verify(auth0_token(mint, keys))
    assert claims.issuer == verifier.issuer == AUTH0
    assert Claims({"iss": "https://x.example.com/"}).issuer is None


# -- options and inspection -------------------------------------------------------------


class _SyncResolver:
    def __call__(self, iss: str) -> IssuerConfig | None:
        return None


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"issuer": AUTH0, "audience": "a", "issuers": CONFIGS}, "issuer belongs"),
        ({"issuers": CONFIGS, "audience": "a"}, "audience belongs"),
        ({"issuers": CONFIGS, "namespace": "https://n.example.com/"}, "namespace belongs"),
        ({"issuers": CONFIGS, "algorithms": ["RS256"]}, "algorithms belongs"),
        ({"issuers": CONFIGS, "jwks_uri": ENTRA_JWKS}, "jwks_uri belongs"),
        ({"issuers": []}, "at least one"),
        ({"issuers": CONFIGS[0]}, "sequence of IssuerConfig"),
        ({"issuers": [{"issuer": AUTH0, "audience": "a"}]}, "sequence of IssuerConfig"),
        ({"issuers": [CONFIGS[0], CONFIGS[0]]}, "configured twice"),
        ({"issuers": [IssuerConfig(issuer="http://x.example.com/", audience="a")]}, "https"),
        ({"issuers": [IssuerConfig(issuer=AUTH0, audience=[])]}, "audience"),
        ({"issuers": [IssuerConfig(issuer=AUTH0, audience="a", algorithms=["HS256"])]}, "HS"),
        ({"issuer_resolver": "not callable"}, "async callable"),
        ({"issuers": CONFIGS, "max_resolved_issuers": 0}, "max_resolved_issuers"),
        ({"audience": "a"}, "no issuer to trust: give issuer="),
        ({}, r"issuer= \(and audience=\), issuers=\[IssuerConfig\(...\)\] or issuer_resolver="),
        ({"issuer_resolver": lambda iss: None}, "must be an async callable.*not function"),
        ({"issuer_resolver": _SyncResolver()}, "must be an async callable.*not _SyncResolver"),
        ({"issuer": AUTH0}, "audience must"),
        (
            {"issuers": [IssuerConfig(issuer=AUTH0, audience="a", jwks_max_age_seconds=0)]},
            f"issuer {AUTH0!r}: jwks_max_age_seconds must be positive",
        ),
        (
            # The verifier's refresh ahead (60 s) must stay below this issuer's max age.
            {"issuers": [IssuerConfig(issuer=AUTH0, audience="a", jwks_max_age_seconds=60)]},
            "jwks_refresh_ahead_seconds must be below jwks_max_age_seconds",
        ),
        (
            {"issuers": [IssuerConfig(issuer=AUTH0, audience="a", jwks_stale_seconds=-1)]},
            "jwks_stale_seconds must not be negative",
        ),
        (
            {"issuers": [IssuerConfig(issuer=AUTH0, audience="a", jwks_timeout_seconds="5")]},  # type: ignore[arg-type]
            "jwks_timeout_seconds must be a number, not '5'",
        ),
        (
            {"issuers": [IssuerConfig(issuer=AUTH0, audience="a", jwks_max_bytes=True)]},
            "jwks_max_bytes must be a number",
        ),
    ],
)
def test_bad_issuer_options_fail_at_construction(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        TokenVerifier(**options)


async def test_single_issuer_attributes_are_unchanged_and_several_are_documented(
    verifier: TokenVerifier, client: httpx.AsyncClient
) -> None:
    one = TokenVerifier(issuer=AUTH0, audience=[AUTH0_AUDIENCE, "b"], http_client=client)
    assert one.issuer == AUTH0
    assert one.audiences == {AUTH0_AUDIENCE, "b"}
    assert one.key_set is not None
    assert verifier.issuer is None
    assert verifier.key_set is None
    # What every fixed issuer accepts: here nothing in common.
    assert verifier.audiences == frozenset()
    shared = TokenVerifier(
        issuers=[
            IssuerConfig(issuer=AUTH0, audience=[AUTH0_AUDIENCE, "b"]),
            IssuerConfig(issuer=KEYCLOAK, audience=[AUTH0_AUDIENCE]),
        ],
        http_client=client,
    )
    assert shared.audiences == {AUTH0_AUDIENCE}
    assert TokenVerifier(issuer_resolver=_refuse_all, http_client=client).audiences is None


async def test_a_protected_resource_must_be_every_fixed_issuers_audience(
    client: httpx.AsyncClient,
) -> None:
    resource = ProtectedResource(resource=AUTH0_AUDIENCE, authorization_servers=[AUTH0])
    one_accepts_it = TokenVerifier(
        issuers=[
            IssuerConfig(issuer=AUTH0, audience=AUTH0_AUDIENCE),
            IssuerConfig(issuer=KEYCLOAK, audience=KEYCLOAK_AUDIENCE),
        ],
        http_client=client,
    )
    with pytest.raises(
        ConfigurationError,
        match=r"audience must include the resource .*every fixed issuer's audience must include",
    ):
        ClaimGuardMiddleware(Starlette(), verifier=one_accepts_it, protected_resource=resource)
    both_accept_it = TokenVerifier(
        issuers=[
            IssuerConfig(issuer=AUTH0, audience=AUTH0_AUDIENCE),
            IssuerConfig(issuer=KEYCLOAK, audience=[KEYCLOAK_AUDIENCE, AUTH0_AUDIENCE]),
        ],
        http_client=client,
    )
    ClaimGuardMiddleware(Starlette(), verifier=both_accept_it, protected_resource=resource)


async def test_preflight_health_and_jwks_state_cover_every_issuer(
    verifier: TokenVerifier, issuers: Issuers
) -> None:
    assert set(verifier.health_by_issuer()) == {AUTH0, KEYCLOAK, ENTRA}
    assert not verifier.health().ready
    await verifier.preflight()
    assert all(health.ready for health in verifier.health_by_issuer().values())
    assert verifier.health().ready
    assert verifier.health().kids == 3
    assert verifier.jwks_state(ENTRA).jwks_uri == ENTRA_JWKS
    assert set(verifier.jwks_states()) == {AUTH0, KEYCLOAK, ENTRA}
    with pytest.raises(ConfigurationError, match="no key set"):
        verifier.jwks_state()

    issuers.served[KEYCLOAK].failing = True
    with pytest.raises(ConfigurationError) as caught:
        await verifier.preflight()
    assert KEYCLOAK in str(caught.value)
    assert AUTH0 not in str(caught.value)
    health = verifier.health()
    assert health.cause == "unreachable"
    assert health.last_error is not None
    assert verifier.health_by_issuer()[KEYCLOAK].last_error is not None
    assert verifier.health_by_issuer()[AUTH0].last_error is None


async def test_combined_health_names_an_issuer_not_fetched_yet_after_a_failing_one(
    verifier: TokenVerifier, issuers: Issuers, mint: Minter, keys: Keys
) -> None:
    health = verifier.health()
    assert (health.ready, health.cause) == (False, "not_fetched")
    assert health.last_error is not None
    assert repr(AUTH0) in health.last_error

    issuers.served[KEYCLOAK].failing = True
    with pytest.raises(KeySetUnavailable):
        await verifier.verify(keycloak_token(mint, keys))
    assert verifier.health().cause == "unreachable"
    assert verifier.health_by_issuer()[ENTRA].cause == "not_fetched"


@requires("claim:premium")
async def premium(request: Request) -> Response:
    return JSONResponse({"issuer": request.user.claims.issuer})


@requires("basket:write")
async def basket(request: Request) -> Response:
    return JSONResponse({"issuer": request.user.claims.issuer})


async def test_the_middleware_works_unchanged_with_several_issuers(
    verifier: TokenVerifier, mint: Minter, keys: Keys
) -> None:
    app = ClaimGuardMiddleware(
        Starlette(routes=[Route("/premium", premium), Route("/basket", basket)]),
        verifier=verifier,
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:

        async def get(path: str, token: str) -> httpx.Response:
            return await http.get(path, headers={"Authorization": f"Bearer {token}"})

        answer = await get("/premium", auth0_token(mint, keys))
        assert (answer.status_code, answer.json()) == (200, {"issuer": AUTH0})
        answer = await get("/basket", keycloak_token(mint, keys))
        assert (answer.status_code, answer.json()) == (200, {"issuer": KEYCLOAK})
        assert (await get("/basket", auth0_token(mint, keys))).status_code == 403
        forged = mint(key=keys.auth0, claims={"iss": "https://evil.example.com/"})
        answer = await get("/basket", forged)
        assert answer.status_code == 401
        assert 'error="invalid_token"' in answer.headers["www-authenticate"]


# -- a resolver -------------------------------------------------------------------------

TENANTS = "https://login.tenants.example.com/"


def tenant_issuer(tenant: str) -> str:
    return f"{TENANTS}{tenant}/v2.0"


async def _refuse_all(iss: str) -> IssuerConfig | None:
    return None


class Resolver:
    """A tenant directory: a known tenant's issuer gets its configuration, others none."""

    def __init__(self, known: set[str]) -> None:
        self.known = known
        self.asked: list[str] = []
        self.failing = False

    async def __call__(self, iss: str) -> IssuerConfig | None:
        self.asked.append(iss)
        if self.failing:
            raise RuntimeError("tenant directory is down")
        for tenant in self.known:
            if iss == tenant_issuer(tenant):
                return IssuerConfig(issuer=iss, audience=ENTRA_AUDIENCE)
        return None


def tenant_token(mint: Minter, key: SigningKey, tenant: str) -> str:
    return mint(key=key, claims={"iss": tenant_issuer(tenant), "aud": ENTRA_AUDIENCE})


@pytest.fixture
def tenant_keys(keys: Keys, issuers: Issuers) -> dict[str, SigningKey]:
    tenants = {f"good-{n}": keys.entra if n % 2 else keys.auth0 for n in range(5)}
    for tenant, key in tenants.items():
        issuers.add(tenant_issuer(tenant), [key.public_jwk])
    return tenants


async def test_a_flood_of_made_up_tenants_costs_one_resolver_call_each_and_no_fetch(
    client: httpx.AsyncClient,
    issuers: Issuers,
    clock: FakeClock,
    mint: Minter,
    keys: Keys,
    tenant_keys: dict[str, SigningKey],
) -> None:
    resolver = Resolver(set(tenant_keys))
    verifier = TokenVerifier(
        issuer_resolver=resolver, max_resolved_issuers=3, http_client=client, clock=clock
    )
    made_up = [tenant_token(mint, keys.entra, f"tenant-{n:04d}") for n in range(1000)]
    for _ in range(3):
        for token in made_up:
            assert (await refused(verifier, token)).code == "wrong_issuer"
    assert len(resolver.asked) == 1000
    assert len(set(resolver.asked)) == 1000
    assert issuers.requests == []
    assert verifier.jwks_states() == {}

    clock.advance(30)  # jwks_cooldown_seconds: each refusal may be asked again, once
    for token in made_up[:10] * 2:
        await refused(verifier, token)
    assert len(resolver.asked) == 1010
    assert issuers.requests == []


async def test_resolved_issuers_are_held_least_recently_used_first_out(
    client: httpx.AsyncClient,
    issuers: Issuers,
    clock: FakeClock,
    mint: Minter,
    tenant_keys: dict[str, SigningKey],
) -> None:
    resolver = Resolver(set(tenant_keys))
    verifier = TokenVerifier(
        issuer_resolver=resolver, max_resolved_issuers=3, http_client=client, clock=clock
    )
    tokens = {t: tenant_token(mint, key, t) for t, key in tenant_keys.items()}
    for tenant in ("good-0", "good-1", "good-2", "good-0", "good-3"):
        assert (await verifier.verify(tokens[tenant])).issuer == tenant_issuer(tenant)
    # good-1 was the least recently used: it went, with its key set and cached tokens.
    held = {tenant_issuer(t) for t in ("good-0", "good-2", "good-3")}
    assert set(verifier.jwks_states()) == held
    assert set(verifier.health_by_issuer()) == held
    assert verifier.cached_tokens == 3
    assert len(resolver.asked) == 4
    fetches = issuers.served[tenant_issuer("good-1")].jwks_requests
    assert fetches == 1

    for tenant in tenant_keys:
        await verifier.verify(tokens[tenant])
    assert len(verifier.jwks_states()) == 3
    assert verifier.cached_tokens <= 3
    assert issuers.served[tenant_issuer("good-1")].jwks_requests == 2


async def test_a_resolver_must_answer_for_the_exact_iss(
    client: httpx.AsyncClient, issuers: Issuers, mint: Minter, keys: Keys
) -> None:
    async def too_generous(iss: str) -> IssuerConfig:
        # Maps any spelling to the one configured issuer: never accepted for another iss.
        return IssuerConfig(issuer=AUTH0, audience=AUTH0_AUDIENCE)

    async def not_a_config(iss: str) -> Any:
        return {"issuer": iss, "audience": AUTH0_AUDIENCE}

    async def unusable(iss: str) -> IssuerConfig:
        return IssuerConfig(issuer=iss, audience=AUTH0_AUDIENCE, algorithms=["HS256"])

    for resolver in (too_generous, not_a_config, unusable):
        verifier = TokenVerifier(issuer_resolver=resolver, http_client=client)
        token = mint(key=keys.auth0, claims={"iss": AUTH0.rstrip("/"), "aud": AUTH0_AUDIENCE})
        assert (await refused(verifier, token)).code == "wrong_issuer"
    assert issuers.requests == []


async def test_a_failing_resolver_is_unavailable_and_asked_again(
    client: httpx.AsyncClient, clock: FakeClock, mint: Minter, keys: Keys
) -> None:
    resolver = Resolver({"good-0"})
    resolver.failing = True
    verifier = TokenVerifier(issuer_resolver=resolver, http_client=client, clock=clock)
    token = tenant_token(mint, keys.auth0, "good-0")
    for _ in range(2):
        with pytest.raises(KeySetUnavailable) as caught:
            await verifier.verify(token)
        assert caught.value.status == 503
    assert len(resolver.asked) == 2


async def test_concurrent_tokens_of_one_new_iss_share_one_resolver_call(
    client: httpx.AsyncClient, clock: FakeClock, mint: Minter, keys: Keys
) -> None:
    answer = anyio.Event()
    calls: list[str] = []

    async def slow(iss: str) -> IssuerConfig | None:
        calls.append(iss)
        await answer.wait()
        return None

    verifier = TokenVerifier(issuer_resolver=slow, http_client=client, clock=clock)
    token = tenant_token(mint, keys.auth0, "someone")
    codes: list[str] = []

    async def one() -> None:
        codes.append((await refused(verifier, token)).code)

    async with anyio.create_task_group() as group:
        for _ in range(10):
            group.start_soon(one)
        await anyio.wait_all_tasks_blocked()
        answer.set()
    assert codes == ["wrong_issuer"] * 10
    assert len(calls) == 1


async def test_fixed_issuers_are_tried_before_the_resolver(
    client: httpx.AsyncClient, clock: FakeClock, mint: Minter, keys: Keys
) -> None:
    resolver = Resolver(set())
    verifier = TokenVerifier(
        issuers=[CONFIGS[0]], issuer_resolver=resolver, http_client=client, clock=clock
    )
    assert (await verifier.verify(auth0_token(mint, keys))).issuer == AUTH0
    assert resolver.asked == []


# -- each issuer's caching rules --------------------------------------------------------


async def test_each_issuer_refetches_its_keys_after_its_own_max_age(
    client: httpx.AsyncClient, issuers: Issuers, clock: FakeClock, mint: Minter, keys: Keys
) -> None:
    verifier = TokenVerifier(
        issuers=[
            dataclasses.replace(CONFIGS[0], jwks_max_age_seconds=120, jwks_refresh_ahead_seconds=0),
            CONFIGS[1],  # the verifier's own rules: 600 s, refreshed 60 s ahead
        ],
        http_client=client,
        clock=clock,
    )

    async def verify_both(n: int) -> None:
        await verifier.verify(auth0_token(mint, keys, jti=f"a{n}"))
        await verifier.verify(keycloak_token(mint, keys, jti=f"k{n}"))
        for _ in range(5):
            await anyio.lowlevel.checkpoint()  # let a background refresh finish

    def fetches() -> tuple[int, int]:
        return issuers.served[AUTH0].jwks_requests, issuers.served[KEYCLOAK].jwks_requests

    await verify_both(0)
    assert fetches() == (1, 1)
    clock.advance(121)  # past Auth0's 120 s, far from Keycloak's 600 s
    await verify_both(1)
    assert fetches() == (2, 1)
    clock.advance(541 - 121)  # inside Keycloak's refresh-ahead window (540 s)
    await verify_both(2)
    assert fetches() == (3, 2)
    assert verifier.health_by_issuer()[AUTH0].ready
    clock.advance(130)
    # Readiness follows each issuer's own max age too.
    assert verifier.health_by_issuer()[AUTH0].stale
    assert not verifier.health_by_issuer()[KEYCLOAK].stale


async def test_an_issuers_body_cap_and_deadline_are_its_own(
    client: httpx.AsyncClient, clock: FakeClock, mint: Minter, keys: Keys
) -> None:
    verifier = TokenVerifier(
        issuers=[
            dataclasses.replace(CONFIGS[0], jwks_max_bytes=64, jwks_timeout_seconds=2),
            CONFIGS[1],
        ],
        http_client=client,
        clock=clock,
    )
    with pytest.raises(KeySetUnavailable):
        await verifier.verify(auth0_token(mint, keys))
    assert "more than 64 bytes" in (verifier.jwks_state(AUTH0).last_error or "")
    # The other issuer keeps the verifier's cap (256 KiB), on the same HTTP client.
    assert (await verifier.verify(keycloak_token(mint, keys))).issuer == KEYCLOAK


async def test_a_resolved_configuration_with_bad_caching_rules_is_refused(
    client: httpx.AsyncClient, issuers: Issuers, clock: FakeClock, mint: Minter, keys: Keys
) -> None:
    async def resolver(iss: str) -> IssuerConfig | None:
        return IssuerConfig(issuer=iss, audience=ENTRA_AUDIENCE, jwks_cooldown_seconds=-1)

    verifier = TokenVerifier(issuer_resolver=resolver, http_client=client, clock=clock)
    token = tenant_token(mint, keys.entra, "good-1")
    assert (await refused(verifier, token)).code == "wrong_issuer"
    assert issuers.requests == []


# -- logs -------------------------------------------------------------------------------


def _refusal_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "claimguard.middleware" and r.levelno == logging.DEBUG
    ]


async def test_refusal_logs_name_the_issuer_that_was_tried(
    verifier: TokenVerifier,
    clock: FakeClock,
    mint: Minter,
    keys: Keys,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="claimguard")
    app = ClaimGuardMiddleware(Starlette(routes=[Route("/basket", basket)]), verifier=verifier)
    long_iss = "https://evil.example.com/" + "x" * 500 + "\nrefused GET '/forged'"
    expired = keycloak_token(mint, keys, exp=clock.time() - 3600)
    tokens = [
        auth0_token(mint, keys, aud=KEYCLOAK_AUDIENCE),
        expired,
        mint(key=keys.entra, claims={"iss": AUTH0, "aud": AUTH0_AUDIENCE}),
        mint(key=keys.auth0, claims={"iss": "https://evil.example.com/"}),
        mint(key=keys.auth0, claims={"iss": long_iss}),
        "not-a-token",
    ]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        for token in tokens:
            answer = await http.get("/basket", headers={"Authorization": f"Bearer {token}"})
            assert answer.status_code == 401

    cut = repr(long_iss[:64])
    assert _refusal_lines(caplog) == [
        f"refused http GET '/basket': 401 wrong_audience (issuer {AUTH0!r})",
        f"refused http GET '/basket': 401 expired (issuer {KEYCLOAK!r})",
        f"refused http GET '/basket': 401 bad_signature (issuer {AUTH0!r})",
        "refused http GET '/basket': 401 wrong_issuer "
        "(no configured issuer accepts iss 'https://evil.example.com/')",
        "refused http GET '/basket': 401 wrong_issuer "
        f"(no configured issuer accepts iss {cut}… ({len(long_iss)} characters))",
        "refused http GET '/basket': 401 malformed (no issuer selected)",
    ]
    assert not any(long_iss in record.getMessage() for record in caplog.records)


async def test_resolver_logs_name_the_iss_shortened(
    client: httpx.AsyncClient,
    clock: FakeClock,
    mint: Minter,
    keys: Keys,
    caplog: pytest.LogCaptureFixture,
) -> None:
    resolver = Resolver({"good-1"})
    resolver.failing = True
    verifier = TokenVerifier(issuer_resolver=resolver, http_client=client, clock=clock)
    tenant = "good-1" + "\u202e" + "y" * 200
    with pytest.raises(KeySetUnavailable):
        await verifier.verify(tenant_token(mint, keys.entra, tenant))
    [warning] = [r.getMessage() for r in caplog.records if r.name == "claimguard"]
    iss = tenant_issuer(tenant)
    assert warning == (
        f"issuer resolver failed for iss {iss[:64]!r}… ({len(iss)} characters): "
        "RuntimeError('tenant directory is down')"
    )
    assert "\u202e" not in warning  # escaped, never written out
