"""The developer console: off unless asked for, loopback and own host only, CSRF on every
form, secrets never shown; the directory and "get tokens as this user"."""

import re
from pathlib import Path

import httpx
import jwt
import pytest

from issuer import ConfigError, Issuer

from ..conftest import FakeClock

pytestmark = pytest.mark.anyio
API = "https://api.example.com"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def console_issuer(clock: FakeClock, **options: object) -> Issuer:
    issuer = Issuer(clock=clock, console=True, **options)  # type: ignore[arg-type]
    issuer.add_api(API, scopes=["read:messages"])
    issuer.add_client(
        "app",
        client_secret="very-secret-client-secret",
        redirect_uris=["http://127.0.0.1:3000/callback"],
        grant_types=["authorization_code", "refresh_token", "client_credentials"],
        grants={API: ["read:messages"]},
    )
    issuer.add_user("alice@example.com", password="alice-pw", app_metadata={"plan": "gold"})
    issuer.set_secret("API_KEY", "sk-live-do-not-show")
    return issuer


async def csrf_token(client: httpx.AsyncClient) -> str:
    page = await client.get("/console/directory")
    match = _CSRF.search(page.text)
    assert match is not None
    return match.group(1)


async def test_the_console_is_off_by_default(bare_issuer: Issuer) -> None:
    async with bare_issuer.http_client() as client:
        response = await client.get("/console/directory")
    assert response.status_code == 404


async def test_a_foreign_host_is_misdirected(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    issuer = console_issuer(clock)
    async with issuer.http_client() as client:
        response = await client.get("/console/directory", headers={"Host": "evil.example"})
        own = await client.get("/console/directory", headers={"Host": "localhost:8765"})
    assert response.status_code == 421
    assert own.status_code == 200
    refusals = [r for r in caplog.records if r.name == "issuer.console"]
    assert [r.getMessage() for r in refusals] == [
        "GET /console/directory refused (421): This host name is not the issuer's."
    ]


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://evil.example"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
    ],
)
async def test_a_request_from_another_site_is_refused(
    clock: FakeClock, headers: dict[str, str]
) -> None:
    # A page elsewhere may not even open the live stream or have a CSRF token minted.
    issuer = console_issuer(clock)
    async with issuer.http_client() as client:
        for path in ("/console/directory", "/console/events"):
            assert (await client.get(path, headers=headers)).status_code == 403
        own = await client.get(
            "/console/directory",
            headers={"Origin": issuer.url.rstrip("/"), "Sec-Fetch-Site": "same-origin"},
        )
        # A form posted under no-referrer: Origin null, but the browser says same-origin.
        opaque = await client.get(
            "/console/directory", headers={"Origin": "null", "Sec-Fetch-Site": "same-origin"}
        )
    assert own.status_code == 200
    assert opaque.status_code == 200


def test_the_live_stream_holds_a_bounded_number_of_subscribers(clock: FakeClock) -> None:
    import asyncio

    from issuer.console._devconsole import DevConsole
    from issuer.console._livefeed import MAX_SUBSCRIBERS

    feed = DevConsole(console_issuer(clock)).feed

    async def open_all() -> list[object]:
        return [feed.subscribe() for _ in range(MAX_SUBSCRIBERS + 1)]

    queues = asyncio.run(open_all())
    assert all(q is not None for q in queues[:MAX_SUBSCRIBERS])
    assert queues[-1] is None


async def test_a_non_loopback_peer_is_refused(clock: FakeClock) -> None:
    issuer = console_issuer(clock)
    transport = httpx.ASGITransport(app=issuer.app, client=("192.0.2.7", 5000))
    async with httpx.AsyncClient(transport=transport, base_url=issuer.url) as client:
        response = await client.get("/console/directory")
    assert response.status_code == 403


def test_a_non_loopback_issuer_cannot_have_the_console() -> None:
    with pytest.raises(ConfigError) as caught:
        Issuer(issuer_url="https://auth.example.com/", console=True)
    assert caught.value.key == "console"


def test_the_toml_key_turns_the_console_on(tmp_path: Path) -> None:
    path = tmp_path / "issuer.toml"
    path.write_text('issuer = "http://127.0.0.1:8765/"\nconsole = true\n')
    assert Issuer.from_config(path).console is True
    path.write_text('issuer = "https://auth.example.com/"\nconsole = true\n')
    with pytest.raises(ConfigError) as caught:
        Issuer.from_config(path)
    assert caught.value.key == "console"
    assert caught.value.file == str(path)


async def test_a_form_without_its_csrf_token_is_refused(clock: FakeClock) -> None:
    issuer = console_issuer(clock)
    async with issuer.http_client() as client:
        token = await csrf_token(client)
        form = {"email": "alice@example.com", "client_id": "app", "audience": API}
        missing = await client.post("/console/login-as", data=form)
        wrong = await client.post("/console/login-as", data={**form, "csrf_token": "x" + token})
        client.cookies.clear()
        no_cookie = await client.post("/console/login-as", data={**form, "csrf_token": token})
        inspect = await client.post("/console/tokens", data={"token": "a.b.c"})
    assert [missing.status_code, wrong.status_code, no_cookie.status_code] == [403, 403, 403]
    assert inspect.status_code == 403


async def test_every_page_says_it_is_a_development_tool_and_hides_secrets(
    clock: FakeClock,
) -> None:
    issuer = console_issuer(clock)
    async with issuer.http_client() as client:
        pages = [await client.get(f"/console/{name}") for name in ("directory", "tokens")]
    for page in pages:
        assert page.status_code == 200
        assert "Development tool." in page.text
        assert "very-secret-client-secret" not in page.text
        assert "sk-live-do-not-show" not in page.text
        assert "script-src 'sha256-" in page.headers["content-security-policy"]
        assert "unsafe-inline" not in page.headers["content-security-policy"]
    directory = pages[0].text
    assert "alice@example.com" in directory
    assert "&quot;plan&quot;: &quot;gold&quot;" in directory
    assert "confidential (secret hidden)" in directory
    assert issuer.keys.active.kid in directory


async def test_get_tokens_as_a_user_runs_the_login_pipeline(clock: FakeClock) -> None:
    issuer = console_issuer(clock)

    def premium(event: object, api: object) -> None:
        api.access_token.set_custom_claim("https://myapp.example.com/plan", "gold")  # type: ignore[attr-defined]

    issuer.add_action(premium)
    async with issuer.http_client() as client:
        token = await csrf_token(client)
        form = {"email": "alice@example.com", "client_id": "app", "audience": API}
        response = await client.post("/console/login-as", data={**form, "csrf_token": token})
    assert response.status_code == 200
    access = re.search(r'data-token="access_token".*?</section>', response.text, re.DOTALL)
    assert access is not None
    assert "valid" in access.group(0)
    assert "claim:plan:gold" in access.group(0)
    raw = re.findall(r"<pre>(ey[^<]+)</pre>", response.text)
    claims = jwt.decode(raw[0], options={"verify_signature": False})
    assert API in claims["aud"]
    assert issuer.action_logs()[0].action == "premium"
