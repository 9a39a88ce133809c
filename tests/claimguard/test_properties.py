"""Properties that hold for every input: nothing but InvalidToken (401) or InvalidRequest (400)
comes out of a bad token, and a changed token is never accepted.

The verifier is driven directly and through :class:`ClaimGuardMiddleware` as a raw ASGI app,
so header values that no HTTP client would send (NUL, CR, non-ASCII bytes) are covered too.
"""

from __future__ import annotations

import json
from base64 import urlsafe_b64encode
from typing import Any, NamedTuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.responses import PlainTextResponse

from claimguard import ClaimGuardMiddleware, InvalidToken, TokenVerifier

from .conftest import Minter, SigningKey

pytestmark = pytest.mark.anyio

FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
TOKEN_CHARS = B64URL + ".=+/ ~\x00é"

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=6,
)


async def only_invalid_token(verifier: TokenVerifier, token: Any) -> InvalidToken:
    with pytest.raises(InvalidToken) as info:
        await verifier.verify(token)
    assert type(info.value) is InvalidToken
    assert info.value.code
    return info.value


# -- arbitrary input -----------------------------------------------------------------------


@FUZZ
@given(token=st.text(max_size=400))
async def test_arbitrary_text_is_only_ever_an_invalid_token(
    verifier: TokenVerifier, token: str
) -> None:
    await only_invalid_token(verifier, token)


@FUZZ
@given(raw=st.binary(max_size=400))
async def test_arbitrary_bytes_are_only_ever_an_invalid_token(
    verifier: TokenVerifier, raw: bytes
) -> None:
    await only_invalid_token(verifier, raw.decode("latin-1"))
    await only_invalid_token(verifier, raw)  # not even a str


@FUZZ
@given(
    header=st.dictionaries(st.sampled_from(["alg", "kid", "typ", "crit", "cty", "x"]), json_values)
    | json_values,
    payload=json_values,
    signature=st.binary(max_size=300),
)
async def test_token_shaped_garbage_is_only_ever_an_invalid_token(
    verifier: TokenVerifier, header: Any, payload: Any, signature: bytes
) -> None:
    parts = [json.dumps(header).encode(), json.dumps(payload).encode(), signature]
    token = ".".join(urlsafe_b64encode(p).rstrip(b"=").decode() for p in parts)
    await only_invalid_token(verifier, token)


# -- mutations of a valid token ------------------------------------------------------------


class Mutation(NamedTuple):
    kind: str
    position: int
    text: str
    order: list[int]

    def apply(self, token: str) -> str:
        index = self.position % len(token)
        if self.kind == "flip":
            return token[:index] + self.text[0] + token[index + 1 :]
        if self.kind == "insert":
            return token[:index] + self.text + token[index:]
        if self.kind == "delete":
            return token[:index] + token[index + len(self.text) :]
        if self.kind == "truncate":
            return token[:index]
        parts = token.split(".")
        return ".".join(parts[i] for i in self.order)


mutations = st.builds(
    Mutation,
    kind=st.sampled_from(["flip", "insert", "delete", "truncate", "segments"]),
    position=st.integers(0, 10_000),
    text=st.text(TOKEN_CHARS, min_size=1, max_size=3),
    order=st.lists(st.integers(0, 2), min_size=1, max_size=5),
)
SIGNERS = ["rsa_key", "ec_key", "ed_key"]


@FUZZ
@given(signer=st.sampled_from(SIGNERS), mutation=mutations)
async def test_a_mutated_token_is_never_accepted_unless_unchanged(
    verifier: TokenVerifier,
    mint: Minter,
    request: pytest.FixtureRequest,
    signer: str,
    mutation: Mutation,
) -> None:
    key: SigningKey = request.getfixturevalue(signer)
    token = mint(key=key, premium=True)
    mutated = mutation.apply(token)
    if mutated == token:
        assert (await verifier.verify(mutated)).subject == "auth0|alice"
    else:
        await only_invalid_token(verifier, mutated)


@FUZZ
@given(choice=st.tuples(st.integers(0, 2), st.integers(0, 2), st.integers(0, 2)))
async def test_segments_of_valid_tokens_never_combine_into_an_accepted_one(
    verifier: TokenVerifier, mint: Minter, choice: tuple[int, int, int]
) -> None:
    tokens = [mint(), mint(premium=True), mint(claims={"sub": "auth0|mallory"})]
    parts = [t.split(".") for t in tokens]
    combined = ".".join(parts[source][segment] for segment, source in enumerate(choice))
    if combined in tokens:
        assert (await verifier.verify(combined)).subject
    else:
        assert (await only_invalid_token(verifier, combined)).code == "bad_signature"


# -- through the middleware, as a raw ASGI app ------------------------------------------------


async def asgi_status(app: Any, headers: list[tuple[bytes, bytes]], query: bytes = b"") -> int:
    """Run one GET through ``app`` and return the response status."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/",
        "raw_path": b"/",
        "root_path": "",
        "query_string": query,
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    starts = [m for m in sent if m["type"] == "http.response.start"]
    assert len(starts) == 1
    status: int = starts[0]["status"]
    return status


@pytest.fixture
def guarded(verifier: TokenVerifier) -> ClaimGuardMiddleware:
    return ClaimGuardMiddleware(PlainTextResponse("hello"), verifier=verifier)


@FUZZ
@given(
    value=st.binary(max_size=300)
    | st.builds(lambda b: b"Bearer " + b, st.binary(max_size=300))
    | st.builds(lambda t: b"Bearer " + t.encode(), st.text(TOKEN_CHARS, max_size=300)),
    count=st.integers(1, 2),
    query=st.sampled_from([b"", b"access_token=x", b"a=1&access_token="]),
)
async def test_middleware_answers_arbitrary_authorization_bytes_with_400_or_401(
    guarded: ClaimGuardMiddleware, value: bytes, count: int, query: bytes
) -> None:
    headers = [(b"authorization", value)] * count
    status = await asgi_status(guarded, headers, query)
    assert status in (400, 401)


@FUZZ
@given(signer=st.sampled_from(SIGNERS), mutation=mutations)
async def test_middleware_refuses_mutated_tokens_and_admits_only_the_original(
    guarded: ClaimGuardMiddleware,
    mint: Minter,
    request: pytest.FixtureRequest,
    signer: str,
    mutation: Mutation,
) -> None:
    key: SigningKey = request.getfixturevalue(signer)
    token = mint(key=key)
    mutated = mutation.apply(token)
    status = await asgi_status(guarded, [(b"authorization", b"Bearer " + mutated.encode())])
    # RFC 6750 §2.1 allows several spaces after "Bearer", and RFC 9110 §5.5 strips white
    # space around a field value: such a mutation still sends the original token.
    if mutated.strip(" ") == token:
        assert status == 200
    else:
        assert status in (400, 401, 403)
