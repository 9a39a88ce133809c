"""Registering clients, their grants and APIs from Python."""

import pytest

from issuer import ConfigError, Issuer, IssuerError

API = "https://api.example.com"


@pytest.fixture
def issuer() -> Issuer:
    issuer = Issuer()
    issuer.add_api(API, scopes=["read:messages"])
    return issuer


@pytest.mark.parametrize(
    ("grants", "message"),
    [
        pytest.param(
            {"https://nope.example.com": ["read:messages"]},
            "grants['https://nope.example.com'].api: unknown API 'https://nope.example.com'"
            " (registered: 'https://api.example.com')",
            id="unknown-api",
        ),
        pytest.param(
            {API: ["write:messages"]},
            "grants['https://api.example.com'].scopes: 'write:messages' is not a scope of"
            " 'https://api.example.com' (it has: read:messages)",
            id="undefined-scope",
        ),
        pytest.param(
            [{"api": API, "scopes": ["read:messages"]}],
            "grants: must map each API identifier to its scopes",
            id="not-a-mapping",
        ),
        pytest.param(
            {API: "read:messages"},
            "grants['https://api.example.com'].scopes: must be a list of strings",
            id="scopes-as-one-string",
        ),
    ],
)
def test_invalid_grants_refuse_the_whole_client(
    issuer: Issuer, grants: object, message: str
) -> None:
    with pytest.raises(ConfigError) as error:
        issuer.add_client(
            "bot",
            client_secret="s",
            grant_types=["client_credentials"],
            grants=grants,  # type: ignore[arg-type]
        )
    assert str(error.value) == message
    assert "bot" not in issuer.directory.clients
    assert issuer.directory.client_grants == {}


def test_a_grant_needs_the_client_credentials_grant_type(issuer: Issuer) -> None:
    with pytest.raises(ConfigError, match="a grant needs client_credentials in grant_types"):
        issuer.add_client("app", client_secret="s", grants={API: []})
    issuer.add_client("app", client_secret="s")
    with pytest.raises(ConfigError, match="a grant needs client_credentials in grant_types"):
        issuer.add_client_grant("app", API, scopes=[])


def test_a_client_has_one_grant_per_api(issuer: Issuer) -> None:
    issuer.add_client(
        "bot", client_secret="s", grant_types=["client_credentials"], grants={API: []}
    )
    with pytest.raises(ConfigError) as error:
        issuer.add_client_grant("bot", API, scopes=["read:messages"])
    assert str(error.value) == "api: duplicate grant for API 'https://api.example.com'"
    grant = issuer.directory.client_grant("bot", API)
    assert grant is not None
    assert grant.scopes == ()


def test_rbac_switches_must_be_booleans() -> None:
    issuer = Issuer()
    with pytest.raises(ConfigError, match="enforce_rbac: must be true or false"):
        issuer.add_api(API, enforce_rbac="yes")  # type: ignore[arg-type]
    assert API not in issuer.directory.apis


@pytest.mark.anyio
async def test_login_without_a_client_id_needs_exactly_one_client(issuer: Issuer) -> None:
    issuer.add_user("alice@example.com", password="pw")
    with pytest.raises(
        IssuerError, match=r"^no client is registered; add one with add_client\(\)$"
    ):
        await issuer.login("alice@example.com")
    issuer.add_client("one")
    issuer.add_client("two")
    with pytest.raises(IssuerError, match=r"^2 clients are registered; name one \(client_id=\)$"):
        await issuer.login("alice@example.com")
