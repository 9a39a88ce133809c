"""The issuer's OAuth hygiene (RFC 9700, the OAuth 2.0 Security Best Current Practice).

One test per rule; each fails if its rule is broken. Browser steps go through the real
login page with plain httpx (see ``flows.py``); the concurrency test uses real uvicorn.
"""

import base64
import hashlib
import hmac
import json
import math
import re
from typing import Any
from urllib.parse import quote, urlsplit

import anyio
import httpx
import pytest

from issuer import ActionFailed, Issuer
from issuer.core import _hashing as hashing_module
from issuer.core._hashing import verify_secret
from issuer.core._records import Client, User
from issuer.login._consent import ConsentEndpoint
from issuer.login._csrf import cookie_matches, csrf_matches
from issuer.oauth._authorize import CSRF_COOKIE, AuthorizeEndpoint
from issuer.oauth._codes import CodeStore

from .conftest import SEED_CONFIG
from .flows import password_grant, redirect_params, submit_login

pytestmark = pytest.mark.anyio
CALLBACK = "http://127.0.0.1:3000/callback"
API = "https://api.example.com"
VERIFIER = "correct-verifier-" + "v" * 40
LOGGED_OUT = "http://127.0.0.1:3000/"


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")


@pytest.fixture
def issuer(bare_issuer: Issuer) -> Issuer:
    """``bare_issuer`` plus a public client ``spa`` (PKCE required)."""
    bare_issuer.add_client("spa", redirect_uris=[CALLBACK])
    return bare_issuer


@pytest.fixture(scope="module")
def shared_issuer() -> Issuer:
    """One issuer for the tests that only read: each refuses before anything is stored."""
    issuer = Issuer(signing_alg="ES256")
    issuer.add_client("spa", redirect_uris=[CALLBACK], allowed_logout_urls=[LOGGED_OUT])
    return issuer


def authorize_query(client_id: str = "spa", **extra: str | None) -> dict[str, str]:
    query: dict[str, str | None] = {
        "client_id": client_id,
        "response_type": "code",
        "redirect_uri": CALLBACK,
        "scope": "openid offline_access",
        "state": "st-1",
        "code_challenge": s256(VERIFIER),
        "code_challenge_method": "S256",
        **extra,
    }
    return {k: v for k, v in query.items() if v is not None}


async def obtain_code(client: httpx.AsyncClient, query: dict[str, str]) -> str:
    posted = await submit_login(
        client, f"authorize?{httpx.QueryParams(query)}", "alice@example.com", "alice-pw"
    )
    return redirect_params(posted)["code"]


async def exchange(
    client: httpx.AsyncClient, code: str, client_id: str = "spa", **fields: str | None
) -> httpx.Response:
    data: dict[str, str | None] = {
        "grant_type": "authorization_code",
        "code": code,
        "client_id": client_id,
        "redirect_uri": CALLBACK,
        "code_verifier": VERIFIER,
        **fields,
    }
    return await client.post("oauth/token", data={k: v for k, v in data.items() if v is not None})


async def refresh(client: httpx.AsyncClient, token: str, client_id: str = "spa") -> httpx.Response:
    return await client.post(
        "oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": token, "client_id": client_id},
    )


def assert_error_page(response: httpx.Response) -> None:
    """A refusal shown to the browser: never a redirect, never cached."""
    assert response.status_code == 400, response.text
    assert "location" not in response.headers
    assert response.headers["cache-control"] == "no-store"
    assert "evil" not in response.text


# -- PKCE: S256 only, no downgrade (RFC 9700 §2.1.1, §4.8; RFC 7636) -------------------


@pytest.mark.parametrize(
    ("challenge", "method"),
    [
        (VERIFIER, "plain"),
        (VERIFIER, None),  # RFC 7636 §4.3: no method means plain
        (s256(VERIFIER), "s256"),  # method names are case-sensitive
        (s256(VERIFIER), "S512"),
    ],
)
async def test_only_the_s256_challenge_method_is_accepted(
    shared_issuer: Issuer, challenge: str, method: str | None
) -> None:
    query = authorize_query(code_challenge=challenge, code_challenge_method=method)
    async with shared_issuer.http_client() as client:
        response = await client.get("authorize", params=query)
    params = redirect_params(response)
    assert response.headers["location"].startswith(CALLBACK + "?")
    assert params["error"] == "invalid_request"
    assert params["error_description"] == "code_challenge_method must be S256"
    assert params["state"] == "st-1"
    assert "set-cookie" not in response.headers  # no login form, no transaction


@pytest.mark.parametrize(
    "verifier",
    [
        pytest.param(None, id="missing"),
        pytest.param("other-verifier-" + "w" * 40, id="another-challenge"),
        pytest.param(s256(VERIFIER), id="challenge-as-plain-verifier"),
        pytest.param(VERIFIER + " ", id="padded"),
    ],
)
async def test_a_code_bound_to_a_challenge_needs_exactly_its_verifier(
    issuer: Issuer, verifier: str | None
) -> None:
    async with issuer.http_client() as client:
        code = await obtain_code(client, authorize_query())
        refused = await exchange(client, code, code_verifier=verifier)
        accepted = await exchange(client, code)
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_grant"
    assert accepted.status_code == 200


async def test_a_verifier_shorter_than_rfc7636_allows_is_refused(issuer: Issuer) -> None:
    short = "short-verifier"  # RFC 7636 §4.1: 43 to 128 characters
    async with issuer.http_client() as client:
        code = await obtain_code(client, authorize_query(code_challenge=s256(short)))
        response = await exchange(client, code, code_verifier=short)
    assert response.json() == {
        "error": "invalid_grant",
        "error_description": "code_verifier does not match the code_challenge",
    }


async def test_a_verifier_without_a_challenge_is_refused(issuer: Issuer) -> None:
    # RFC 9700 §4.8.2: a code_verifier for a code issued without a challenge is a downgrade.
    query = authorize_query("app", code_challenge=None, code_challenge_method=None)
    async with issuer.http_client() as client:
        code = await obtain_code(client, query)
        auth = {"client_id": "app", "client_secret": "app-secret"}
        refused = await exchange(client, code, **auth)
        accepted = await exchange(client, code, **auth, code_verifier=None)
    assert refused.json()["error"] == "invalid_grant"
    assert accepted.status_code == 200


# -- redirect_uri: exact match, never a redirect to a bad one (RFC 9700 §4.1, §4.11) -----

BAD_REDIRECT_URIS = [
    "//evil.example",
    "/\\evil.example",
    "https://evil.example/callback",
    "http://127.0.0.1/callback/../evil",
    "http://127.0.0.1:3000/callback/../evil",
    "http://127.0.0.1:3000/callback/..%2Fevil",
    "http://127.0.0.1:3000/%63allback",
    "http%3A%2F%2F127.0.0.1%3A3000%2Fcallback",
    "http://127.0.0.1:3000/callback%23@evil.example",
    "http://127.0.0.1:3000@evil.example/callback",
    "http://evil.example#@127.0.0.1:3000/callback",
    "http://evil.example/?r=http://127.0.0.1:3000/callback",
    "http://127.0.0.1:3000/callback?next=//evil.example",
    "http://127.0.0.1:3000/callback?",
    "http://127.0.0.1:3000/callback#evil",
    "http://127.0.0.1:3000/callback/",
    "http://127.0.0.1:3000//callback",
    "http://127.0.0.1:3001/callback",
    "http://127.0.0.1/callback",
    "http://127.0.0.1:03000/callback",
    "https://127.0.0.1:3000/callback",
    "HTTP://127.0.0.1:3000/callback",
    "http://127.0.0.1:3000/Callback",
    "http://localhost:3000/callback",
    "http://[::ffff:127.0.0.1]:3000/callback",
    " http://127.0.0.1:3000/callback",
    "http://127.0.0.1:3000/callback\r\nLocation: https://evil.example/",
]


@pytest.mark.parametrize("redirect_uri", BAD_REDIRECT_URIS)
async def test_a_redirect_uri_that_is_not_exactly_registered_gets_an_error_page(
    shared_issuer: Issuer, redirect_uri: str
) -> None:
    url = (
        "authorize?client_id=spa&response_type=code&state=s"
        f"&code_challenge={s256(VERIFIER)}&code_challenge_method=S256"
        f"&redirect_uri={quote(redirect_uri, safe='')}"
    )
    async with shared_issuer.http_client() as client:
        response = await client.get(url)
    assert_error_page(response)
    assert "redirect_uri" in response.text
    assert "set-cookie" not in response.headers


async def test_a_redirect_uri_sent_twice_gets_an_error_page(shared_issuer: Issuer) -> None:
    url = (
        f"authorize?client_id=spa&response_type=code&redirect_uri={quote(CALLBACK, safe='')}"
        f"&redirect_uri={quote('https://evil.example/', safe='')}"
        f"&code_challenge={s256(VERIFIER)}&code_challenge_method=S256"
    )
    async with shared_issuer.http_client() as client:
        response = await client.get(url)
    assert_error_page(response)


async def test_errors_after_the_redirect_uri_is_checked_go_only_to_the_registered_uri(
    shared_issuer: Issuer,
) -> None:
    async with shared_issuer.http_client() as client:
        response = await client.get("authorize", params=authorize_query(response_type="token"))
    assert urlsplit(response.headers["location"])._replace(query="").geturl() == CALLBACK
    assert redirect_params(response)["error"] == "unsupported_response_type"


@pytest.mark.parametrize(
    "redirect_uri", [CALLBACK + "/", CALLBACK + "?x=1", CALLBACK.upper(), None]
)
async def test_the_token_request_must_repeat_the_redirect_uri_exactly(
    issuer: Issuer, redirect_uri: str | None
) -> None:
    # RFC 6749 §4.1.3: identical to the authorization request's redirect_uri.
    async with issuer.http_client() as client:
        code = await obtain_code(client, authorize_query())
        refused = await exchange(client, code, redirect_uri=redirect_uri)
        accepted = await exchange(client, code)
    assert refused.json()["error"] == "invalid_grant"
    assert accepted.status_code == 200


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example/",
        "/\\evil.example",
        "http://127.0.0.1:3000@evil.example/",
        "http://evil.example/?http://127.0.0.1:3000/",
        "https%3A%2F%2Fevil.example%2F",
        "http://127.0.0.1:3001/",
        "http://127.0.0.1:3000",
        "http://127.0.0.1:3000/?next=https://evil.example/",
        CALLBACK,
    ],
)
async def test_logout_redirects_only_to_an_exactly_allowed_url(
    shared_issuer: Issuer, target: str
) -> None:
    # RFC 9700 §4.11: an origin or prefix match would be an open redirector.
    async with shared_issuer.http_client() as client:
        response = await client.get(f"v2/logout?client_id=spa&returnTo={quote(target, safe='')}")
        allowed = await client.get(f"v2/logout?client_id=spa&returnTo={quote(LOGGED_OUT)}")
    assert response.status_code == 400
    assert "location" not in response.headers
    assert allowed.headers["location"] == LOGGED_OUT


# -- authorization codes: single use, reuse revokes (RFC 9700 §4.5; RFC 6749 §4.1.2) --


async def test_a_reused_code_is_refused_and_revokes_the_refresh_tokens_it_issued(
    issuer: Issuer,
) -> None:
    async with issuer.http_client() as client:
        code = await obtain_code(client, authorize_query())
        first = await exchange(client, code)
        rotated = await refresh(client, first.json()["refresh_token"])
        other_login = await exchange(client, await obtain_code(client, authorize_query()))
        second = await exchange(client, code)
        after_reuse = await refresh(client, rotated.json()["refresh_token"])
        unrelated = await refresh(client, other_login.json()["refresh_token"])
    assert first.status_code == rotated.status_code == 200
    assert second.json() == {
        "error": "invalid_grant",
        "error_description": "the authorization code was already used",
    }
    # The whole refresh family of the first exchange goes, rotated tokens included. Access
    # and ID tokens are self-contained JWTs: they cannot be recalled, only expire.
    assert after_reuse.json()["error"] == "invalid_grant"
    assert unrelated.status_code == 200


async def test_concurrent_uses_of_one_code_let_exactly_one_win() -> None:
    with Issuer.serving(signing_alg="ES256") as server:
        server.issuer.add_client("spa", redirect_uris=[CALLBACK])
        server.issuer.add_user("alice@example.com", password="alice-pw")
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            code = await obtain_code(client, authorize_query())
            responses: list[httpx.Response] = []

            async def use() -> None:
                responses.append(await exchange(client, code))

            async with anyio.create_task_group() as group:
                for _ in range(8):
                    group.start_soon(use)
            winners = [r for r in responses if r.status_code == 200]
            losers = [r.json()["error"] for r in responses if r.status_code != 200]
            after = await refresh(client, winners[0].json()["refresh_token"])
    assert len(winners) == 1
    assert losers == ["invalid_grant"] * 7
    # The losing uses count as reuse: what the winner got is revoked too (RFC 9700 §4.5).
    assert after.json()["error"] == "invalid_grant"


# -- refresh tokens: rotation and reuse detection (RFC 9700 §4.14.2) ------------------


async def test_reusing_a_rotated_refresh_token_revokes_its_whole_family(issuer: Issuer) -> None:
    async with issuer.http_client() as client:
        first = (await exchange(client, await obtain_code(client, authorize_query()))).json()
        other = (await exchange(client, await obtain_code(client, authorize_query()))).json()
        second = (await refresh(client, first["refresh_token"])).json()
        third = (await refresh(client, second["refresh_token"])).json()
        reuse = await refresh(client, first["refresh_token"])
        newest = await refresh(client, third["refresh_token"])
        unrelated = await refresh(client, other["refresh_token"])
    assert len({first["refresh_token"], second["refresh_token"], third["refresh_token"]}) == 3
    assert reuse.json()["error"] == "invalid_grant"
    assert "family" in reuse.json()["error_description"]
    assert newest.json()["error"] == "invalid_grant"
    assert unrelated.status_code == 200


# -- secrets: hashed with scrypt, compared in constant time (RFC 9700 §2.5, §4.1) ------


def uses(function: Any, name: str) -> bool:
    return name in function.__code__.co_names


def test_secret_checks_use_scrypt_and_a_constant_time_comparison() -> None:
    assert uses(verify_secret, "scrypt")
    assert uses(verify_secret, "compare_digest")
    assert verify_secret.__globals__["hmac"] is hmac
    assert uses(User.check_password, "verify_secret")
    assert uses(Client.check_secret, "verify_secret")
    assert uses(hashing_module._verify, "verify_secret")
    # PKCE verifiers and CSRF tokens are compared the same way.
    assert uses(CodeStore.redeem, "compare_digest")
    assert uses(csrf_matches, "compare_digest")
    assert uses(cookie_matches, "compare_digest")
    assert uses(AuthorizeEndpoint.login, "csrf_matches")
    assert uses(ConsentEndpoint.answer, "csrf_matches")
    assert uses(ConsentEndpoint.page, "cookie_matches")


@pytest.mark.parametrize(
    "secret",
    [
        pytest.param("app-secreT", id="same-length"),
        pytest.param("app-secret-and-more", id="longer"),
        pytest.param("app", id="shorter"),
        pytest.param("", id="empty"),
    ],
)
async def test_a_wrong_client_secret_or_password_fails_whatever_its_length(
    issuer: Issuer, secret: str
) -> None:
    async with issuer.http_client() as client:
        basic = await client.post(
            "oauth/token",
            data={"grant_type": "client_credentials", "audience": API},
            auth=("app", secret),
        )
        post = await client.post(
            "oauth/token",
            data={
                "grant_type": "client_credentials",
                "audience": API,
                "client_id": "app",
                "client_secret": secret,
            },
        )
        password = await password_grant(
            client, "alice@example.com", secret, auth=("app", "app-secret")
        )
    assert basic.status_code == post.status_code == 401
    assert basic.json()["error"] == post.json()["error"] == "invalid_client"
    # An empty parameter counts as absent (RFC 6749 §3.1).
    assert password.json()["error"] == ("invalid_grant" if secret else "invalid_request")
    assert not issuer.directory.user("alice@example.com").check_password(secret[:8])


async def test_an_unknown_email_costs_the_same_scrypt_work_as_a_wrong_password(
    issuer: Issuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No timing here: count the scrypt verifications each refusal performs instead.
    calls: list[str] = []

    def counting(secret: str, hashed: str) -> bool:
        calls.append(hashed)
        return verify_secret(secret, hashed)

    monkeypatch.setattr(hashing_module, "verify_secret", counting)
    counts = {}
    async with issuer.http_client() as client:
        for email in ("alice@example.com", "nobody@example.com"):
            calls.clear()
            posted = await submit_login(
                client, f"authorize?{httpx.QueryParams(authorize_query())}", email, "wrong-pw"
            )
            assert "Wrong email or password." in posted.text
            form_calls = len(calls)
            calls.clear()
            grant = await password_grant(client, email, "wrong-pw", auth=("app", "app-secret"))
            assert grant.json()["error"] == "invalid_grant"
            counts[email] = (form_calls, len(calls))
    assert counts["alice@example.com"] == counts["nobody@example.com"] == (1, 2)


def strings_in(root: object) -> list[str]:
    """Every string reachable from ``root`` through containers and object attributes."""
    found: list[str] = []
    seen: set[int] = set()
    stack = [root]
    while stack:
        item = stack.pop()
        if id(item) in seen or callable(item) or isinstance(item, type):
            continue
        seen.add(id(item))
        if isinstance(item, str):
            found.append(item)
        elif isinstance(item, bytes):
            found.append(item.decode("latin-1"))
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset):
            stack.extend(item)
        elif hasattr(item, "__dict__"):
            stack.extend(vars(item).values())
        elif hasattr(item, "__slots__"):
            stack.extend(getattr(item, name, None) for name in item.__slots__)
    return found


async def test_passwords_and_client_secrets_are_stored_only_as_scrypt_hashes() -> None:
    issuer = Issuer.from_config(SEED_CONFIG)
    issuer.add_user("carol@example.com", password="alice-password")  # alice's, reused
    async with issuer.http_client() as client:
        login = await password_grant(
            client,
            "alice@example.com",
            "alice-password",
            auth=("demo-app", "demo-secret"),
            scope="openid offline_access",
        )
    assert login.status_code == 200
    stored = strings_in(issuer)
    for plaintext in ("alice-password", "bob-password", "demo-secret"):
        assert not [s for s in stored if plaintext in s], plaintext
    # Refresh tokens are kept as digests too.
    assert not [s for s in stored if login.json()["refresh_token"] in s]
    hashes = [u.password_hash for u in issuer.directory.users.values()]
    hashes.append(str(issuer.directory.clients["demo-app"].secret_hash))
    for hashed in hashes:
        scheme, n, r, p, salt, digest = hashed.split("$")
        assert scheme == "scrypt"
        assert int(n) >= 2**14
        assert int(r) >= 8
        assert int(p) >= 1
        assert len(base64.urlsafe_b64decode(salt + "==")) >= 16
        assert len(base64.urlsafe_b64decode(digest + "==")) >= 32
    alice, _, carol = issuer.directory.users.values()
    assert alice.password_hash != carol.password_hash  # salted


# -- CSRF on the login form (RFC 9700 §4.7; OWASP double-submit with a server record) --


async def open_form(client: httpx.AsyncClient) -> tuple[dict[str, str], str]:
    """Open the login form: its hidden fields and the CSRF cookie's value."""
    page = await client.get("authorize", params=authorize_query())
    assert page.status_code == 200
    cookie = page.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    assert "path=/" in cookie
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.text))
    value = client.cookies[CSRF_COOKIE]
    client.cookies.clear()
    return fields, value


def cookie_header(value: str | None) -> dict[str, str]:
    return {} if value is None else {"Cookie": f"{CSRF_COOKIE}={value}"}


@pytest.mark.parametrize(
    "attack",
    [
        "missing-token",
        "forged-token",
        "non-ascii-token",
        "missing-cookie",
        "other-session",
        "other-session-token",
    ],
)
async def test_a_login_post_without_its_own_csrf_token_and_cookie_is_refused(
    issuer: Issuer, attack: str
) -> None:
    credentials = {"email": "alice@example.com", "password": "alice-pw"}
    async with issuer.http_client() as client:
        fields, cookie = await open_form(client)
        theirs, their_cookie = await open_form(client)
        form: dict[str, str] = {**fields, **credentials}
        sent: str | None = cookie
        if attack == "missing-token":
            del form["csrf_token"]
        elif attack == "forged-token":
            form["csrf_token"] = "f" * len(fields["csrf_token"])
        elif attack == "non-ascii-token":
            form["csrf_token"] = "é" * len(fields["csrf_token"])
        elif attack == "missing-cookie":
            sent = None
        elif attack == "other-session":
            form["csrf_token"], sent = theirs["csrf_token"], their_cookie
        else:
            form["csrf_token"] = theirs["csrf_token"]
        refused = await client.post("login", data=form, headers=cookie_header(sent))
        user = issuer.directory.user("alice@example.com")
        logins_after_refusal = user.logins_count
        honest = await client.post(
            "login", data={**fields, **credentials}, headers=cookie_header(cookie)
        )
    assert refused.status_code == 403
    assert "location" not in refused.headers
    assert logins_after_refusal == 0  # no login ran, so no code was issued
    assert issuer.action_logs() == []
    assert "code" in redirect_params(honest)  # the transaction still works with its own token


# -- no-store on everything carrying or refusing tokens (RFC 6749 §5.1, §5.2) ---------


async def test_token_responses_and_errors_are_never_cached(issuer: Issuer) -> None:
    async with issuer.http_client() as client:
        responses = {
            "tokens": await client.post(
                "oauth/token",
                data={"grant_type": "client_credentials", "audience": API},
                auth=("app", "app-secret"),
            ),
            "invalid_grant": await refresh(client, "no-such-token"),
            "invalid_client": await client.post(
                "oauth/token", data={"grant_type": "client_credentials"}, auth=("app", "x")
            ),
            "unsupported_grant_type": await client.post(
                "oauth/token", data={"grant_type": "implicit"}
            ),
            "wrong content type": await client.post(
                "oauth/token", json={"grant_type": "client_credentials"}
            ),
            "too large": await client.post("oauth/token", data={"x": "y" * 70_000}),
            "revoke": await client.post(
                "oauth/revoke", data={"token": "t"}, auth=("app", "app-secret")
            ),
        }
    assert responses["tokens"].status_code == 200
    assert responses["too large"].status_code == 413
    for name, response in responses.items():
        assert response.headers["cache-control"] == "no-store", name
        assert response.headers["pragma"] == "no-cache", name


# -- action claim rules (DESIGN §2; RFC 7519 §4.1) ------------------------------------

REFUSED_NAMES = [
    "iss", "sub", "aud", "exp", "nbf", "iat", "jti", "azp", "scope", "nonce", "permissions",
    "gty", "typ", "client_id", "at_hash", "auth_time",
    "https://auth0.com/role", "https://tenant.AUTH0.com/role", "https://auth0.com:443/x",
    "auth0.com/plain", "http://user@webtask.io/y", "https://x.webtask.run/z",
]  # fmt: skip


async def test_actions_cannot_add_reserved_or_auth0_namespaced_claims(
    issuer: Issuer, caplog: pytest.LogCaptureFixture
) -> None:
    def greedy(event: Any, api: Any) -> None:
        for name in REFUSED_NAMES:
            api.access_token.set_custom_claim(name, "forged")
            api.id_token.set_custom_claim(name, "forged")
        api.access_token.add_claim({"https://myapp.example.com/ok": True})

    issuer.add_action(greedy)
    tokens = await issuer.login("alice@example.com", client_id="app")
    claims = issuer.verify_access_token(tokens.access_token, audience=API)
    assert claims is not None
    assert tokens.id_token is not None
    id_claims = json.loads(base64.urlsafe_b64decode(tokens.id_token.split(".")[1] + "=="))
    assert claims["https://myapp.example.com/ok"] is True
    assert "forged" not in claims.values()
    assert "forged" not in id_claims.values()
    record = issuer.action_logs()[0]
    assert len(record.warnings) == 2 * len(REFUSED_NAMES)
    assert record.claims_added["access_token"] == {"https://myapp.example.com/ok": True}
    logged = [r.getMessage() for r in caplog.records if r.name == "issuer.actions"]
    assert len(logged) == 2 * len(REFUSED_NAMES)


@pytest.mark.parametrize(
    "value",
    [math.nan, math.inf, -math.inf, float("1e400"), [1, math.nan], {"a": {"b": math.inf}}],
    ids=["nan", "inf", "-inf", "1e400", "nested-list", "nested-dict"],
)
async def test_a_non_json_claim_value_fails_the_login_and_is_logged(
    issuer: Issuer, value: Any
) -> None:
    def score(event: Any, api: Any) -> None:
        api.access_token.set_custom_claim("https://myapp.example.com/score", value)

    issuer.add_action(score)
    with pytest.raises(ActionFailed, match="not a JSON number"):
        await issuer.login("alice@example.com", client_id="app")
    async with issuer.http_client() as client:
        response = await password_grant(
            client, "alice@example.com", "alice-pw", auth=("app", "app-secret")
        )
    assert response.status_code == 403
    assert response.json()["error"] == "access_denied"
    assert "not a JSON number" in str(issuer.action_logs()[0].error)


def strict_json(segment: str) -> dict[str, Any]:
    def refuse(constant: str) -> None:
        raise ValueError(f"{constant} is not JSON")

    decoded = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    return dict(json.loads(decoded, parse_constant=refuse))


async def test_a_claim_value_changed_after_it_was_added_cannot_smuggle_nan(
    issuer: Issuer,
) -> None:
    def sneaky(event: Any, api: Any) -> None:
        scores = [1.0]
        api.access_token.set_custom_claim("https://myapp.example.com/scores", scores)
        scores.append(math.nan)

    def sneaky_metadata(event: Any, api: Any) -> None:
        scores = [2.0]
        api.user.set_app_metadata("scores", scores)
        scores.append(math.inf)

    issuer.add_action(sneaky)
    issuer.add_action(sneaky_metadata)
    tokens = await issuer.login("alice@example.com", client_id="app")
    payload = strict_json(tokens.access_token.split(".")[1])
    assert payload["https://myapp.example.com/scores"] == [1.0]
    assert issuer.directory.user("alice@example.com").app_metadata["scores"] == [2.0]
