"""The consent page for dynamically registered clients (RFC 7591 §5: their metadata is
self-asserted), and the APIs such clients may ask for."""

import base64
import hashlib
import logging
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from issuer import ConfigError, Issuer

from ..conftest import FakeClock, make_bare_issuer
from ..flows import (
    assert_config_error,
    hidden_fields,
    open_consent,
    redirect_params,
    submit_consent,
    submit_login,
)

pytestmark = pytest.mark.anyio
REDIRECT = "http://127.0.0.1:53682/callback"
API = "https://api.example.com"
BILLING = "https://billing.example.com"
VERIFIER = "consent-verifier-" + "v" * 40


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")


@pytest.fixture
def issuer(bare_issuer: Issuer) -> Issuer:
    """``bare_issuer`` (API ``https://api.example.com``, configured client ``app``) plus a
    second API, so consent can be told apart per API."""
    bare_issuer.add_api(BILLING, scopes=["pay"])
    return bare_issuer


async def register(client: httpx.AsyncClient, name: str = "Desk MCP") -> str:
    response = await client.post(
        "oidc/register",
        json={
            "redirect_uris": [REDIRECT],
            "client_name": name,
            "grant_types": ["authorization_code", "refresh_token"],
        },
    )
    assert response.status_code == 201, response.text
    client_id: str = response.json()["client_id"]
    return client_id


def authorize_url(client_id: str, *, scope: str = "openid read:messages", **extra: str) -> str:
    query = {
        "client_id": client_id,
        "response_type": "code",
        "redirect_uri": REDIRECT,
        "scope": scope,
        "state": "st-1",
        "code_challenge": s256(VERIFIER),
        "code_challenge_method": "S256",
        "audience": API,
        **extra,
    }
    return f"authorize?{httpx.QueryParams(query)}"


async def exchange(client: httpx.AsyncClient, client_id: str, code: str) -> httpx.Response:
    return await client.post(
        "oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "client_id": client_id,
            "redirect_uri": REDIRECT,
            "code_verifier": VERIFIER,
        },
    )


def lands_on_callback(response: httpx.Response) -> bool:
    location = urlsplit(response.headers.get("location", ""))
    return f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT


async def test_a_registered_client_needs_consent_naming_client_api_and_scopes(
    issuer: Issuer,
) -> None:
    async with issuer.http_client() as client:
        client_id = await register(client)
        logged_in = await submit_login(
            client, authorize_url(client_id), "alice@example.com", "alice-pw"
        )
        assert not lands_on_callback(logged_in)
        page = await open_consent(client, logged_in)
        allowed = await submit_consent(client, page, "allow")
        params = redirect_params(allowed)
        token = await exchange(client, client_id, params["code"])
    text = page.text
    assert "Desk MCP" in text
    assert "unverified" in text.lower()
    # The mark comes first, where a long self-asserted name cannot push it away.
    title = text.split("<title>", 1)[1].split("</title>", 1)[0]
    assert title.lower().index("unverified") < title.index("Desk MCP")
    assert API in text
    assert "read:messages" in text
    assert "openid" in text
    assert "alice@example.com" in text
    assert page.headers["x-frame-options"] == "DENY"
    assert lands_on_callback(allowed)
    assert params["state"] == "st-1"
    assert params["iss"] == issuer.url
    assert token.status_code == 200, token.text
    claims = issuer.verify_access_token(token.json()["access_token"], audience=API)
    assert claims is not None
    assert claims["azp"] == client_id


async def test_deny_redirects_with_access_denied_state_and_iss(
    issuer: Issuer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="issuer")
    async with issuer.http_client() as client:
        client_id = await register(client)
        logged_in = await submit_login(
            client, authorize_url(client_id), "alice@example.com", "alice-pw"
        )
        denied = await submit_consent(client, await open_consent(client, logged_in), "deny")
    params = redirect_params(denied)
    assert lands_on_callback(denied)
    assert params["error"] == "access_denied"
    assert params["state"] == "st-1"
    assert params["iss"] == issuer.url
    assert "code" not in params
    assert any(client_id in record.getMessage() for record in caplog.records)


async def test_consent_is_remembered_per_user_client_and_api(issuer: Issuer) -> None:
    async with issuer.http_client() as client:
        client_id = await register(client)

        async def login(email: str, password: str, url: str) -> httpx.Response:
            return await submit_login(client, url, email, password)

        first = await login("alice@example.com", "alice-pw", authorize_url(client_id))
        await submit_consent(client, await open_consent(client, first), "allow")
        again = await login("alice@example.com", "alice-pw", authorize_url(client_id))
        fewer = await login(
            "alice@example.com", "alice-pw", authorize_url(client_id, scope="openid")
        )
        more = await login(
            "alice@example.com",
            "alice-pw",
            authorize_url(client_id, scope="openid read:messages offline_access"),
        )
        other_api = await login(
            "alice@example.com", "alice-pw", authorize_url(client_id, audience=BILLING)
        )
        other_user = await login("bob@example.com", "bob-pw", authorize_url(client_id))
        other_client = await login(
            "alice@example.com", "alice-pw", authorize_url(await register(client))
        )
    assert lands_on_callback(again)
    assert "code" in redirect_params(again)
    assert lands_on_callback(fewer)
    for asks_again in (more, other_api, other_user, other_client):
        assert asks_again.status_code == 303
        assert not lands_on_callback(asks_again)


async def test_consent_to_more_scopes_covers_the_earlier_ones(issuer: Issuer) -> None:
    async with issuer.http_client() as client:
        client_id = await register(client)
        wide = authorize_url(client_id, scope="openid read:messages offline_access")
        first = await submit_login(
            client, authorize_url(client_id), "alice@example.com", "alice-pw"
        )
        await submit_consent(client, await open_consent(client, first), "allow")
        second = await submit_login(client, wide, "alice@example.com", "alice-pw")
        page = await open_consent(client, second)
        await submit_consent(client, page, "allow")
        third = await submit_login(client, wide, "alice@example.com", "alice-pw")
    assert "offline_access" in page.text
    assert lands_on_callback(third)


def configured_url(**extra: str) -> str:
    query = {"client_id": "app", "response_type": "code", "audience": API, **extra}
    return f"authorize?{httpx.QueryParams(query)}"


async def test_configured_clients_get_no_consent_page(issuer: Issuer) -> None:
    async with issuer.http_client() as client:
        posted = await submit_login(client, configured_url(), "alice@example.com", "alice-pw")
    assert posted.headers["location"].startswith("http://127.0.0.1:3000/callback?code=")


async def test_the_login_page_names_the_client_as_unverified_and_the_api(issuer: Issuer) -> None:
    issuer.add_client("desk", name="Desk MCP", redirect_uris=[REDIRECT])
    async with issuer.http_client() as client:
        client_id = await register(client, name="Desk MCP")
        registered = await client.get(authorize_url(client_id))
        configured = await client.get(authorize_url("desk"))
    assert registered.status_code == configured.status_code == 200
    for page in (registered, configured):
        assert "Desk MCP" in page.text
        assert API in page.text
    # Same name, but only the configured client may show it without the warning.
    assert "unverified" in registered.text.lower()
    assert "unverified" not in configured.text.lower()
    assert "unverified" in registered.text.split("</title>")[0].lower()


@pytest.mark.parametrize(
    "posted",
    [
        {},  # nothing
        {"decision": "allow"},  # no consent id, no token
        {"consent": "made-up", "csrf_token": "made-up", "decision": "allow"},
    ],
)
async def test_forged_consent_submissions_are_refused(
    issuer: Issuer, posted: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    async with issuer.http_client() as client:
        client_id = await register(client)
        logged_in = await submit_login(
            client, authorize_url(client_id), "alice@example.com", "alice-pw"
        )
        await open_consent(client, logged_in)
        response = await client.post("consent", data=posted)
    assert response.status_code in (400, 403)
    assert response.headers["content-type"].startswith("text/html")
    assert "location" not in response.headers
    assert caplog.records


async def test_consent_needs_the_browser_that_logged_in(issuer: Issuer) -> None:
    async with issuer.http_client() as client:
        client_id = await register(client)
        logged_in = await submit_login(
            client, authorize_url(client_id), "alice@example.com", "alice-pw"
        )
        page = await open_consent(client, logged_in)
    # Another browser (no cookie) holding the page's form fields gets nowhere.
    async with issuer.http_client() as other:
        shown = await other.get(logged_in.headers["location"])
        allowed = await submit_consent(other, page, "allow")
    assert shown.status_code == 403
    assert allowed.status_code == 403
    assert "location" not in allowed.headers


async def test_a_consent_is_answered_once(issuer: Issuer) -> None:
    async with issuer.http_client() as client:
        client_id = await register(client)
        logged_in = await submit_login(
            client, authorize_url(client_id), "alice@example.com", "alice-pw"
        )
        page = await open_consent(client, logged_in)
        cookie = dict(client.cookies)
        first = await submit_consent(client, page, "allow")
        client.cookies.update(cookie)
        replayed = await submit_consent(client, page, "allow")
    assert "code" in redirect_params(first)
    assert replayed.status_code == 400
    assert "location" not in replayed.headers


async def test_the_login_form_cannot_be_posted_to_the_consent_endpoint(issuer: Issuer) -> None:
    async with issuer.http_client() as client:
        client_id = await register(client)
        fields = hidden_fields(await client.get(authorize_url(client_id)))
        response = await client.post(
            "consent",
            data={"consent": fields["transaction"], "csrf_token": fields["csrf_token"],
                  "decision": "allow"},
        )  # fmt: skip
    assert response.status_code == 400
    assert "location" not in response.headers


async def test_a_pending_consent_expires(issuer: Issuer, clock: FakeClock) -> None:
    async with issuer.http_client() as client:
        client_id = await register(client)
        logged_in = await submit_login(
            client, authorize_url(client_id), "alice@example.com", "alice-pw"
        )
        page = await open_consent(client, logged_in)
        clock.advance(3600)
        late = await submit_consent(client, page, "allow")
    assert late.status_code == 400
    assert "location" not in late.headers


# -- which APIs registered clients may ask for ------------------------------------------


@pytest.fixture
def restricted(clock: FakeClock) -> Issuer:
    issuer = Issuer(clock=clock, signing_alg="ES256", registration_allowed_apis=[BILLING])
    issuer.add_api(API, scopes=["read:messages"])
    issuer.add_api(BILLING, scopes=["pay"])
    issuer.add_client("app", redirect_uris=["http://127.0.0.1:3000/callback"])
    issuer.add_user("alice@example.com", password="alice-pw")
    return issuer


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"audience": API}, "access_denied"),
        ({"resource": API}, "invalid_target"),
        ({"audience": API, "resource": API}, "invalid_target"),
    ],
)
async def test_a_registered_client_may_ask_only_for_allowed_apis(
    restricted: Issuer, params: dict[str, str], error: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with restricted.http_client() as client:
        client_id = await register(client)
        query = {"audience": "", **params}
        refused = await client.get(authorize_url(client_id, **query))
    assert lands_on_callback(refused)
    assert redirect_params(refused)["error"] == error
    assert redirect_params(refused)["state"] == "st-1"
    assert redirect_params(refused)["iss"] == restricted.url
    assert any(API in record.getMessage() for record in caplog.records)


async def test_an_allowed_api_and_configured_clients_are_unaffected(restricted: Issuer) -> None:
    async with restricted.http_client() as client:
        client_id = await register(client)
        allowed = await client.get(authorize_url(client_id, audience="", resource=BILLING))
        configured = await client.get(
            configured_url(code_challenge=s256(VERIFIER), code_challenge_method="S256")
        )
    assert allowed.status_code == 200
    assert BILLING in allowed.text
    assert configured.status_code == 200


async def test_the_only_api_is_not_a_way_around_the_allowed_apis(clock: FakeClock) -> None:
    issuer = Issuer(clock=clock, registration_allowed_apis=[])
    issuer.add_api(API, scopes=["read:messages"])
    async with issuer.http_client() as client:
        client_id = await register(client)
        refused = await client.get(authorize_url(client_id, audience=""))
    assert redirect_params(refused)["error"] == "access_denied"


def test_the_allowed_apis_come_from_the_registration_table(tmp_path: Path) -> None:
    path = tmp_path / "issuer.toml"
    path.write_text(
        f'[registration]\nallowed_apis = ["{BILLING}"]\n'
        f'[[apis]]\nidentifier = "{API}"\n[[apis]]\nidentifier = "{BILLING}"\n'
    )
    assert Issuer.from_config(path).registration_allowed_apis == (BILLING,)


def test_bad_allowed_apis_are_refused_in_python_too() -> None:
    with pytest.raises(ConfigError, match="not one string"):
        Issuer(registration_allowed_apis=API)
    with pytest.raises(ConfigError, match=r"registration_allowed_apis\[1\]: must be a non-empty"):
        Issuer(registration_allowed_apis=[API, ""])


@pytest.mark.parametrize(
    ("toml", "key", "problem"),
    [
        ('[registration]\nallowed_apis = ["https://nowhere.example"]\n',
         "registration.allowed_apis[0]", "not the identifier of an [[apis]] entry"),
        ("[registration]\nallowed_apis = [7]\n", "registration.allowed_apis[0]", "string"),
        ('[registration]\nallowed_apis = "https://x"\n', "registration.allowed_apis", "array"),
        ("[registration]\nallowed = []\n", "registration.allowed", "unknown key"),
        ("registration = 1\n", "registration", "table"),
    ],
)  # fmt: skip
def test_bad_registration_settings_name_file_key_and_problem(
    tmp_path: Path, toml: str, key: str, problem: str
) -> None:
    assert_config_error(tmp_path, toml, key, problem)


async def test_a_non_ascii_csrf_token_is_refused_cleanly(issuer: Issuer) -> None:
    async with issuer.http_client() as client:
        client_id = await register(client)
        logged_in = await submit_login(
            client, authorize_url(client_id), "alice@example.com", "alice-pw"
        )
        fields = hidden_fields(await open_consent(client, logged_in))
        response = await client.post(
            "consent", data={**fields, "csrf_token": "é" * 8, "decision": "allow"}
        )
    assert response.status_code == 403
    assert "location" not in response.headers


async def test_a_registered_client_gets_no_permission_beyond_the_consented_scopes(
    clock: FakeClock,
) -> None:
    # The permissions claim becomes scopes at the API (Auth0 RBAC): were it the user's
    # whole set, consenting to "openid" would hand an unverified client delete:messages.
    issuer = Issuer(clock=clock)
    issuer.add_api(
        API,
        scopes=["read:messages", "delete:messages"],
        permissions={"admin": ["read:messages", "delete:messages"]},
        enforce_rbac=True,
    )
    issuer.add_client(
        "app",
        client_secret="app-secret",
        grant_types=["password"],
    )
    issuer.add_user("alice@example.com", password="alice-pw", roles=["admin"])
    permissions: dict[str, object] = {}
    async with issuer.http_client() as client:
        client_id = await register(client)
        for scope in ("openid", "openid read:messages"):
            logged_in = await submit_login(
                client, authorize_url(client_id, scope=scope), "alice@example.com", "alice-pw"
            )
            allowed = await submit_consent(client, await open_consent(client, logged_in), "allow")
            token = await exchange(client, client_id, redirect_params(allowed)["code"])
            claims = issuer.verify_access_token(token.json()["access_token"], audience=API)
            assert claims is not None
            permissions[scope] = claims["permissions"]
    assert permissions == {"openid": [], "openid read:messages": ["read:messages"]}
    # A configured (first-party) client holds the user's permissions, as with Auth0.
    first_party = await issuer.login("alice@example.com", client_id="app", audience=API)
    claims = issuer.verify_access_token(first_party.access_token, audience=API)
    assert claims is not None
    assert claims["permissions"] == ["read:messages", "delete:messages"]


async def test_pending_consents_are_bounded_and_the_oldest_is_dropped_first(
    clock: FakeClock,
) -> None:
    issuer = make_bare_issuer(clock, max_pending_logins=1)
    pages = []
    async with issuer.http_client() as registrar:
        client_id = await register(registrar)
    for _ in range(2):
        browser = issuer.http_client()
        async with browser:
            logged_in = await submit_login(
                browser, authorize_url(client_id), "alice@example.com", "alice-pw"
            )
            pages.append((await open_consent(browser, logged_in), dict(browser.cookies)))
    answers = []
    for page, cookies in pages:
        async with issuer.http_client(cookies=cookies) as browser:
            answers.append(await submit_consent(browser, page, "allow"))
    assert answers[0].status_code == 400
    assert "Start the login again" in answers[0].text
    assert lands_on_callback(answers[1])
