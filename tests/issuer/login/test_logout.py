"""Logout redirects only to an allowed logout URL, matched exactly (RFC 9700 §4.11;
OpenID Connect RP-Initiated Logout 1.0 §3)."""

from pathlib import Path

import httpx
import pytest

from issuer import ConfigError, Issuer

from ..conftest import FakeClock
from ..flows import assert_config_error

pytestmark = pytest.mark.anyio
SPA_LOGOUT = "http://127.0.0.1:3000/logged-out"
TENANT_LOGOUT = "https://www.example.com/goodbye"
CALLBACK = "http://127.0.0.1:3000/callback"


@pytest.fixture
def issuer(clock: FakeClock) -> Issuer:
    issuer = Issuer(clock=clock, allowed_logout_urls=[TENANT_LOGOUT])
    issuer.add_client("spa", redirect_uris=[CALLBACK], allowed_logout_urls=[SPA_LOGOUT])
    issuer.add_client("other", redirect_uris=["http://127.0.0.1:4000/callback"])
    return issuer


async def logout(issuer: Issuer, path: str = "v2/logout", **params: str) -> httpx.Response:
    async with issuer.http_client() as client:
        return await client.get(path, params=params)


@pytest.mark.parametrize(
    ("path", "parameter"), [("v2/logout", "returnTo"), ("oidc/logout", "post_logout_redirect_uri")]
)
async def test_an_allowed_logout_url_of_the_client_is_followed(
    issuer: Issuer, path: str, parameter: str
) -> None:
    response = await logout(issuer, path, client_id="spa", **{parameter: SPA_LOGOUT})
    assert response.status_code == 303
    assert response.headers["location"] == SPA_LOGOUT


@pytest.mark.parametrize(
    ("allowed", "state", "location"),
    [
        (SPA_LOGOUT, "abc", SPA_LOGOUT + "?state=abc"),
        (SPA_LOGOUT + "?from=idp", "abc", SPA_LOGOUT + "?from=idp&state=abc"),
        (SPA_LOGOUT, "a b&c=d#e", SPA_LOGOUT + "?state=a+b%26c%3Dd%23e"),
    ],
)
async def test_oidc_logout_passes_state_back(
    clock: FakeClock, allowed: str, state: str, location: str
) -> None:
    # RP-Initiated Logout 1.0 §3: the OP passes `state` back to post_logout_redirect_uri.
    issuer = Issuer(clock=clock)
    issuer.add_client("spa", allowed_logout_urls=[allowed])
    response = await logout(
        issuer, "oidc/logout", client_id="spa", post_logout_redirect_uri=allowed, state=state
    )
    assert response.status_code == 303
    assert response.headers["location"] == location


async def test_auth0_logout_has_no_state_to_pass_back(issuer: Issuer) -> None:
    response = await logout(issuer, client_id="spa", returnTo=SPA_LOGOUT, state="abc")
    assert response.status_code == 303
    assert response.headers["location"] == SPA_LOGOUT


@pytest.mark.parametrize(
    "target",
    [
        "http://127.0.0.1:3000/",  # the client's origin
        CALLBACK,  # a redirect URI is not a logout URL
        SPA_LOGOUT + "/",
        SPA_LOGOUT + "?next=https://evil.example/",
        SPA_LOGOUT + "#x",
        SPA_LOGOUT.upper(),
        "http://127.0.0.1:3000/logged-out/../logged-out",
        "http://127.0.0.1:3000//evil.example/",
        TENANT_LOGOUT,  # the tenant's URL is for logouts without client_id
        "https://evil.example/",
    ],
)
async def test_anything_else_is_refused_with_a_page_and_a_log(
    issuer: Issuer, target: str, caplog: pytest.LogCaptureFixture
) -> None:
    response = await logout(issuer, client_id="spa", returnTo=target)
    assert response.status_code == 400
    assert "location" not in response.headers
    assert response.headers["content-type"].startswith("text/html")
    assert "not allowed" in response.text
    assert any("spa" in record.getMessage() for record in caplog.records)


async def test_without_client_id_only_the_tenant_urls_are_allowed(issuer: Issuer) -> None:
    tenant = await logout(issuer, "oidc/logout", post_logout_redirect_uri=TENANT_LOGOUT)
    client_url = await logout(issuer, returnTo=SPA_LOGOUT)
    assert tenant.status_code == 303
    assert tenant.headers["location"] == TENANT_LOGOUT
    assert client_url.status_code == 400


async def test_one_clients_url_is_not_anothers(issuer: Issuer) -> None:
    response = await logout(issuer, client_id="other", returnTo=SPA_LOGOUT)
    assert response.status_code == 400


async def test_an_unknown_client_is_refused(issuer: Issuer) -> None:
    response = await logout(issuer, client_id="nobody", returnTo=SPA_LOGOUT)
    assert response.status_code == 400
    assert "location" not in response.headers


async def test_two_different_return_urls_are_refused(issuer: Issuer) -> None:
    response = await logout(
        issuer, client_id="spa", returnTo=SPA_LOGOUT, post_logout_redirect_uri=TENANT_LOGOUT
    )
    assert response.status_code == 400


async def test_no_return_url_shows_the_logged_out_page(issuer: Issuer) -> None:
    response = await logout(issuer, client_id="spa")
    assert response.status_code == 200
    assert "logged out" in response.text


async def test_by_default_nothing_is_allowed(clock: FakeClock) -> None:
    issuer = Issuer(clock=clock)
    issuer.add_client("spa", redirect_uris=[CALLBACK])
    response = await logout(issuer, client_id="spa", returnTo="http://127.0.0.1:3000/")
    assert response.status_code == 400


def test_logout_urls_come_from_the_config_file(tmp_path: Path) -> None:
    path = tmp_path / "issuer.toml"
    path.write_text(
        f'allowed_logout_urls = ["{TENANT_LOGOUT}"]\n'
        f'[[clients]]\nclient_id = "spa"\nallowed_logout_urls = ["{SPA_LOGOUT}"]\n'
    )
    issuer = Issuer.from_config(path)
    assert issuer.allowed_logout_urls == (TENANT_LOGOUT,)
    assert issuer.directory.clients["spa"].allowed_logout_urls == (SPA_LOGOUT,)


@pytest.mark.parametrize(
    ("toml", "key", "problem"),
    [
        ('allowed_logout_urls = ["/relative"]\n', "allowed_logout_urls[0]", "absolute"),
        ('allowed_logout_urls = ["ftp://x.example/"]\n', "allowed_logout_urls[0]", "http"),
        ('allowed_logout_urls = ["https://"]\n', "allowed_logout_urls[0]", "absolute"),
        ('allowed_logout_urls = ["https://x.example/#top"]\n', "allowed_logout_urls[0]",
         "fragment"),
        ('allowed_logout_urls = ["https://x.example:99999/"]\n', "allowed_logout_urls[0]",
         "absolute"),
        ("allowed_logout_urls = [7]\n", "allowed_logout_urls[0]", "string"),
        ('allowed_logout_urls = "https://x.example/"\n', "allowed_logout_urls", "array"),
        ('[[clients]]\nclient_id = "spa"\nallowed_logout_urls = ["https://ok.example/", "x"]\n',
         "clients[0].allowed_logout_urls[1]", "absolute"),
    ],
)  # fmt: skip
def test_bad_logout_urls_name_file_key_and_problem(
    tmp_path: Path, toml: str, key: str, problem: str
) -> None:
    assert_config_error(tmp_path, toml, key, problem)


def test_bad_logout_urls_are_refused_in_python_too() -> None:
    with pytest.raises(ConfigError, match="fragment"):
        Issuer(allowed_logout_urls=["https://x.example/#top"])
    with pytest.raises(ConfigError, match="absolute"):
        Issuer().add_client("spa", allowed_logout_urls=["/relative"])
    with pytest.raises(ConfigError, match="not one string"):
        Issuer(allowed_logout_urls=TENANT_LOGOUT)


async def test_a_registered_client_may_name_its_logout_urls(clock: FakeClock) -> None:
    issuer = Issuer(clock=clock)
    target = "http://127.0.0.1:53682/logged-out"
    async with issuer.http_client() as client:
        registered = await client.post(
            "oidc/register",
            json={"redirect_uris": [CALLBACK], "post_logout_redirect_uris": [target]},
        )
        client_id = registered.json()["client_id"]
        followed = await client.get(
            "oidc/logout", params={"client_id": client_id, "post_logout_redirect_uri": target}
        )
        refused = await client.get(
            "oidc/logout", params={"client_id": client_id, "post_logout_redirect_uri": CALLBACK}
        )
    assert registered.json()["post_logout_redirect_uris"] == [target]
    assert followed.status_code == 303
    assert followed.headers["location"] == target
    assert refused.status_code == 400


@pytest.mark.parametrize(
    "uris", [["https://evil.example/bye"], ["http://127.0.0.1/bye#x"], "http://127.0.0.1/", [7]]
)
async def test_a_registered_client_may_only_name_loopback_logout_urls(
    clock: FakeClock, uris: object
) -> None:
    issuer = Issuer(clock=clock)
    async with issuer.http_client() as client:
        response = await client.post(
            "oidc/register", json={"redirect_uris": [CALLBACK], "post_logout_redirect_uris": uris}
        )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_client_metadata"
    assert issuer.directory.clients == {}
