"""The official MCP client against ``examples/mcp_server.py`` and the bundled issuer, both on
real loopback sockets: discovery (RFC 9728, RFC 8414), registration (RFC 7591), login with
PKCE and ``resource`` (RFC 8707), ``iss`` (RFC 9207), refresh, claims from actions, and the
client-credentials provider with a credentials-exchange action.

The user is played by an httpx client: the SDK's redirect handler follows the authorize URL,
fills in the login form and, since the client registered itself, reads the consent page and
presses Allow; its callback handler returns the redirect's code, state and iss.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

pytest.importorskip("mcp", reason="the mcp extra is not installed")

import httpx2
from examples.mcp_server import (
    ISSUER_CONFIG,
    MULTI_FACTOR,
    NAMESPACE,
    add_mcp_resource,
    create_app,
)
from mcp import Client
from mcp.client.auth import OAuthClientProvider
from mcp.client.auth.extensions.client_credentials import ClientCredentialsOAuthProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import (
    AuthorizationCodeResult,
    OAuthClientInformationFull,
    OAuthClientMetadata,
    OAuthToken,
)
from mcp.shared.exceptions import MCPError
from pydantic import AnyUrl

from issuer import Issuer, IssuerServer, bind_socket, serve_in_thread
from tests.examples.stepup import ALICE_TOTP_SECRET, Browser
from tests.issuer.flows import open_consent, submit_consent, submit_login

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

REDIRECT_URI = "http://127.0.0.1:53682/callback"
CLIENT_NAME = "claimguard end-to-end"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class Servers:
    issuer: IssuerServer
    mcp_url: str


@pytest.fixture
def servers() -> Iterator[Servers]:
    with Issuer.serving(config=ISSUER_CONFIG) as issuer, bind_socket() as sock:
        host, port = sock.getsockname()[:2]
        mcp_url = f"http://{host}:{port}/mcp"
        add_mcp_resource(issuer.issuer, mcp_url)
        app = create_app(issuer_url=issuer.url, resource_url=mcp_url)
        with serve_in_thread(app, sock=sock):
            yield Servers(issuer, mcp_url)


@dataclass
class MemoryStorage:
    """The SDK's ``TokenStorage``, in memory."""

    tokens: OAuthToken | None = None
    client_info: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client_info = client_info


@dataclass
class HeadlessUser:
    """Logs in on the issuer's own login page when the SDK sends it there."""

    email: str
    password: str
    authorize_urls: list[str] = field(default_factory=list)
    result: AuthorizationCodeResult | None = None

    async def redirect_handler(self, authorization_url: str) -> None:
        self.authorize_urls.append(authorization_url)
        resource = parse_qs(urlsplit(authorization_url).query)["resource"][0]
        async with httpx.AsyncClient() as browser:
            logged_in = await submit_login(browser, authorization_url, self.email, self.password)
            # The client registered itself, so the issuer asks before it hands out a code.
            # Read the question as a user would: this client, unverified, for this server.
            page = await open_consent(browser, logged_in)
            assert CLIENT_NAME in page.text
            assert "unverified" in page.text
            assert resource in page.text
            posted = await submit_consent(browser, page, "allow")
        assert posted.status_code == 303, posted.text
        location = urlsplit(posted.headers["location"])
        assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT_URI
        params = {k: v[0] for k, v in parse_qs(location.query).items()}
        assert "error" not in params, params
        self.result = AuthorizationCodeResult(
            code=params["code"], state=params.get("state"), iss=params.get("iss")
        )

    async def callback_handler(self) -> AuthorizationCodeResult:
        assert self.result is not None
        return self.result


def oauth_provider(url: str, user: HeadlessUser, storage: MemoryStorage) -> OAuthClientProvider:
    return OAuthClientProvider(
        server_url=url,
        client_metadata=OAuthClientMetadata(
            client_name=CLIENT_NAME,
            redirect_uris=[AnyUrl(REDIRECT_URI)],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            token_endpoint_auth_method="none",
        ),
        storage=storage,
        redirect_handler=user.redirect_handler,
        callback_handler=user.callback_handler,
    )


@dataclass
class Outcome:
    tools: list[str]
    results: dict[str, Any]


async def run_tools(url: str, auth: httpx2.Auth, calls: dict[str, dict[str, Any]]) -> Outcome:
    """List the tools, then call each of ``calls``; an MCP error is kept as the result."""
    results: dict[str, Any] = {}
    async with (
        httpx2.AsyncClient(auth=auth, timeout=30) as http,
        Client(streamable_http_client(url, http_client=http)) as client,
    ):
        tools = [tool.name for tool in (await client.list_tools()).tools]
        for name, arguments in calls.items():
            try:
                result = await client.call_tool(name, arguments)
            except MCPError as error:
                results[name] = error
            else:
                assert not result.is_error, result
                results[name] = result.content[0].text
    return Outcome(tools, results)


CALLS = {"greet": {"name": "Ada"}, "premium_report": {"topic": "Q3"}}


async def test_alice_discovers_registers_logs_in_and_calls_both_tools(servers: Servers) -> None:
    alice = HeadlessUser("alice@example.com", "alice-password")
    storage = MemoryStorage()
    outcome = await run_tools(
        servers.mcp_url, oauth_provider(servers.mcp_url, alice, storage), CALLS
    )

    assert sorted(outcome.tools) == ["greet", "premium_report", "schedule_payout"]
    alice_id = servers.issuer.issuer.directory.user("alice@example.com").user_id
    assert outcome.results["greet"] == f"Hello, Ada! (asked by {alice_id})"
    assert outcome.results["premium_report"].startswith("Premium report on Q3")
    # The client registered itself and asked for a token for this very resource.
    assert storage.client_info is not None
    registered = servers.issuer.issuer.directory.clients[storage.client_info.client_id]
    assert registered.is_public
    (authorize_url,) = alice.authorize_urls
    query = parse_qs(urlsplit(authorize_url).query)
    assert query["resource"] == [servers.mcp_url]
    assert query["code_challenge_method"] == ["S256"]
    assert storage.tokens is not None
    claims = servers.issuer.issuer.verify_access_token(
        storage.tokens.access_token, audience=servers.mcp_url
    )
    assert claims is not None
    assert claims["aud"] == servers.mcp_url
    assert claims[f"{NAMESPACE}premium"] is True


async def test_bob_gets_an_error_naming_the_premium_claim(servers: Servers) -> None:
    bob = HeadlessUser("bob@example.com", "bob-password")
    outcome = await run_tools(
        servers.mcp_url, oauth_provider(servers.mcp_url, bob, MemoryStorage()), CALLS
    )
    bob_id = servers.issuer.issuer.directory.user("bob@example.com").user_id
    assert outcome.results["greet"] == f"Hello, Ada! (asked by {bob_id})"
    refused = outcome.results["premium_report"]
    assert isinstance(refused, MCPError)
    assert "'premium'" in refused.message
    assert refused.data == {"error": "insufficient_scope", "scope": "claim:premium"}


async def test_an_expired_token_is_refreshed(servers: Servers) -> None:
    alice = HeadlessUser("alice@example.com", "alice-password")
    storage = MemoryStorage()
    provider = oauth_provider(servers.mcp_url, alice, storage)
    await run_tools(servers.mcp_url, provider, {"greet": {"name": "first"}})
    assert storage.tokens is not None
    first = storage.tokens
    assert first.refresh_token is not None

    # The client refreshes when its record says the token has expired; age the record
    # instead of waiting out the token's lifetime.
    provider.context.token_expiry_time = time.time() - 1
    outcome = await run_tools(servers.mcp_url, provider, CALLS)

    assert len(alice.authorize_urls) == 1  # no second login
    assert storage.tokens is not None
    assert storage.tokens.access_token != first.access_token
    assert storage.tokens.refresh_token not in (None, first.refresh_token)  # rotated
    assert outcome.results["premium_report"].startswith("Premium report on Q3")
    claims = servers.issuer.issuer.verify_access_token(
        storage.tokens.access_token, audience=servers.mcp_url
    )
    assert claims is not None
    assert claims[f"{NAMESPACE}premium"] is True


async def test_a_token_for_another_resource_is_refused(servers: Servers) -> None:
    other = await servers.issuer.issuer.login(
        "alice@example.com", client_id="demo-app", audience="https://api.example.com"
    )
    async with httpx.AsyncClient() as http:
        response = await http.post(
            servers.mcp_url,
            headers={
                "Authorization": f"Bearer {other.access_token}",
                "Accept": "application/json, text/event-stream",
            },
            json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
        )
    assert response.status_code == 401
    challenge = response.headers["www-authenticate"]
    assert 'error="invalid_token"' in challenge
    assert "resource_metadata=" in challenge


def grant_premium_to_machines(event: Any, api: Any) -> None:
    if event.client.client_id == "reporting-bot":
        api.access_token.set_custom_claim(f"{NAMESPACE}premium", True)


async def test_machine_to_machine_with_the_client_credentials_provider(servers: Servers) -> None:
    issuer = servers.issuer.issuer
    issuer.add_client(
        "reporting-bot",
        client_secret="bot-secret",
        grant_types=["client_credentials"],
        grants={servers.mcp_url: ["tools:call"]},
    )
    issuer.add_action(grant_premium_to_machines, trigger="credentials_exchange")
    storage = MemoryStorage()
    provider = ClientCredentialsOAuthProvider(
        server_url=servers.mcp_url,
        storage=storage,
        client_id="reporting-bot",
        client_secret="bot-secret",
        issuer=servers.issuer.url,
    )
    outcome = await run_tools(servers.mcp_url, provider, CALLS)

    assert outcome.results["premium_report"].startswith("Premium report on Q3")
    assert outcome.results["greet"] == "Hello, Ada! (asked by reporting-bot@clients)"
    assert storage.tokens is not None
    claims = issuer.verify_access_token(storage.tokens.access_token, audience=servers.mcp_url)
    assert claims is not None
    assert claims["sub"] == "reporting-bot@clients"
    assert claims[f"{NAMESPACE}premium"] is True


@dataclass
class SteppingUpUser:
    """A user whose browser keeps the issuer's session between authorizations, and who
    adds a step-up challenge's ``acr_values``/``max_age`` to the next authorization URL:
    the SDK's client builds the URL, and the application asks for the stronger login
    (RFC 9470 §4)."""

    browser: Browser
    step_up: dict[str, str] = field(default_factory=dict)
    result: AuthorizationCodeResult | None = None

    async def redirect_handler(self, authorization_url: str) -> None:
        url = (
            f"{authorization_url}&{urlencode(self.step_up)}" if self.step_up else authorization_url
        )
        params = await self.browser.authorize(url)
        assert "error" not in params, params
        self.result = AuthorizationCodeResult(
            code=params["code"], state=params.get("state"), iss=params.get("iss")
        )

    async def callback_handler(self) -> AuthorizationCodeResult:
        assert self.result is not None
        return self.result


async def test_a_tool_asks_for_a_multi_factor_login_and_gets_one(servers: Servers) -> None:
    payout = {"schedule_payout": {"amount": 100}}
    async with httpx.AsyncClient() as http:
        alice = SteppingUpUser(
            Browser(http, "alice@example.com", "alice-password", ALICE_TOTP_SECRET)
        )
        storage = MemoryStorage()
        refused = await run_tools(
            servers.mcp_url, oauth_provider(servers.mcp_url, alice, storage), payout
        )
        error = refused.results["schedule_payout"]
        assert isinstance(error, MCPError)
        assert error.data["error"] == "insufficient_user_authentication"
        # The application sends the user back with what the tool asked for; the SDK logs
        # in again once it holds no token.
        alice.step_up = {
            "acr_values": error.data["acr_values"],
            "max_age": str(error.data["max_age"]),
        }
        storage.tokens = None
        allowed = await run_tools(
            servers.mcp_url, oauth_provider(servers.mcp_url, alice, storage), payout
        )

    assert error.data["acr_values"] == MULTI_FACTOR
    assert error.data["max_age"] == 300
    # The session spared the password; the multi-factor ACR asked for a code.
    assert alice.browser.shown.count("password") == 1
    assert alice.browser.shown[-1] == "code"
    assert allowed.results["schedule_payout"] == "Payout of 100 scheduled."
    assert storage.tokens is not None
    claims = servers.issuer.issuer.verify_access_token(
        storage.tokens.access_token, audience=servers.mcp_url
    )
    assert claims is not None
    assert claims["amr"] == ["pwd", "otp"]
    assert claims["acr"] == MULTI_FACTOR
