from __future__ import annotations

import gzip
import zlib

import httpx
import pytest

from claimguard import ConfigurationError, TokenVerifier
from claimguard.jose._fetch import FetchError, JSONFetcher, url_problem

pytestmark = pytest.mark.anyio
URL = "https://issuer.example.com/jwks"


@pytest.mark.parametrize(
    "url",
    [
        "https://issuer.example.com/",
        "http://127.0.0.1:8765/",
        "http://127.9.9.9/",
        "http://localhost/",
        "http://[::1]:80/",
    ],
)
def test_https_or_loopback_may_be_fetched(url: str) -> None:
    assert url_problem(url) is None


@pytest.mark.parametrize(
    "url",
    [
        "http://issuer.example.com/",
        "http://10.0.0.1/",
        "http://localhost.evil.example/",
        "file:///etc/passwd",
        "https:///no-host",
        "ftp://issuer.example.com/",
    ],
)
def test_anything_else_is_refused(url: str) -> None:
    assert url_problem(url) is not None


def _fetcher(handler: object, **options: object) -> tuple[JSONFetcher, httpx.AsyncClient]:
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))  # type: ignore[arg-type]
    settings: dict[str, object] = {"timeout_seconds": 5.0, "max_bytes": 1024, "user_agent": "t/1"}
    settings.update(options)
    return JSONFetcher(client=client, **settings), client  # type: ignore[arg-type]


async def test_sends_a_descriptive_user_agent_and_returns_the_object() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"keys": []})

    fetcher, client = _fetcher(handler, user_agent="claimguard/9 (test)")
    async with client:
        assert await fetcher.get_json(URL) == {"keys": []}
    assert seen[0].headers["user-agent"] == "claimguard/9 (test)"


@pytest.mark.parametrize(
    ("response", "says"),
    [
        (httpx.Response(302, headers={"location": "https://evil.example/"}), "HTTP 302"),
        (httpx.Response(500), "HTTP 500"),
        (httpx.Response(200, content=b"not json"), "did not return JSON"),
        (httpx.Response(200, content=b"[1, 2]"), "not return a JSON object"),
        (httpx.Response(200, content=b"{" + b" " * 2000 + b"}"), "more than 1024 bytes"),
    ],
)
async def test_bad_answers_become_fetch_errors(response: httpx.Response, says: str) -> None:
    fetcher, client = _fetcher(lambda request: response)
    async with client:
        with pytest.raises(FetchError, match=says):
            await fetcher.get_json(URL)


async def test_transport_errors_become_fetch_errors() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    fetcher, client = _fetcher(handler)
    async with client:
        with pytest.raises(FetchError, match="ConnectError: refused") as info:
            await fetcher.get_json(URL)
    assert isinstance(info.value.__cause__, httpx.ConnectError)


async def test_https_meeting_plain_http_hints_at_the_scheme() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        message = "[SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:992)"
        raise httpx.ConnectError(message, request=request)

    fetcher, client = _fetcher(handler)
    async with client:
        with pytest.raises(FetchError, match="served over plain http"):
            await fetcher.get_json("https://issuer.example.com/.well-known/jwks.json")


@pytest.mark.parametrize(
    ("coding", "compress"),
    [("gzip", gzip.compress), ("deflate", zlib.compress)],
)
def test_compressed_bodies_are_capped_after_decompression(coding: str, compress: object) -> None:
    fetcher = JSONFetcher(client=None, timeout_seconds=1, max_bytes=1024, user_agent="t")
    small = compress(b'{"keys": []}')  # type: ignore[operator]
    assert fetcher._decode(small, coding, URL) == b'{"keys": []}'
    bomb = compress(b"{" + b" " * 1_000_000 + b"}")  # type: ignore[operator]
    assert len(bomb) < 1024
    with pytest.raises(FetchError, match="once decompressed"):
        fetcher._decode(bomb, coding, URL)


def test_unknown_content_coding_is_refused() -> None:
    fetcher = JSONFetcher(client=None, timeout_seconds=1, max_bytes=1024, user_agent="t")
    with pytest.raises(FetchError, match="unsupported content coding"):
        fetcher._decode(b"x", "br", URL)


@pytest.mark.parametrize(
    ("url", "guess"),
    [
        ("127.0.0.1:9000", "http://127.0.0.1:9000/"),
        ("localhost:9000", "http://localhost:9000/"),
        ("issuer.example.com", "https://issuer.example.com/"),
        ("issuer.example.com/tenant/", "https://issuer.example.com/tenant/"),
    ],
)
def test_a_url_without_a_scheme_says_so_and_guesses_the_fix(url: str, guess: str) -> None:
    assert url_problem(url) == f"{url!r} has no scheme; did you mean {guess}?"


def test_a_verifier_with_a_scheme_less_issuer_names_the_option() -> None:
    with pytest.raises(ConfigurationError) as caught:
        TokenVerifier(issuer="127.0.0.1:9000", audience="https://api.example.com")
    assert caught.value.description == (
        "issuer: cannot fetch keys: '127.0.0.1:9000' has no scheme; "
        "did you mean http://127.0.0.1:9000/?"
    )
