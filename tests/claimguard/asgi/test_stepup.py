"""Step-up requirements (RFC 9470): the decorator, the FastAPI dependency and the challenge.

Tokens are minted on the fake clock; the verifier reads the same clock, so ``auth_time`` is
measured exactly, with the verifier's 30-second leeway.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from typing import Annotated, Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient, WebSocketDenialResponse
from starlette.websockets import WebSocket

from claimguard import (
    ClaimGuardMiddleware,
    Claims,
    ConfigurationError,
    InsufficientUserAuthentication,
    TokenVerifier,
    requires_step_up,
)
from claimguard.asgi._challenge import Challenger
from claimguard.fastapi import document_claims, require_step_up

from ..conftest import DROP, FakeClock, Minter

pytestmark = pytest.mark.anyio

MFA = "http://schemas.openid.net/pape/policies/2007/06/multi-factor"
HARDWARE = "urn:example:acr:hardware-key"
LEEWAY = 30


def parse_challenges(value: str) -> dict[str, dict[str, str]]:
    """Each challenge of one ``WWW-Authenticate`` field by scheme (RFC 9110 §11.6.1: a
    field may hold several; values quoted as in §5.6.4)."""
    challenges: dict[str, dict[str, str]] = {}
    scheme_pattern = re.compile(r"\s*([A-Za-z][A-Za-z0-9-]*) ")
    param_pattern = re.compile(r'\s*([A-Za-z0-9_]+)="((?:[^"\\]|\\.)*)"\s*(,|$)')
    position = 0
    params: dict[str, str] | None = None
    while position < len(value):
        scheme = scheme_pattern.match(value, position)
        if scheme is not None:
            assert scheme.group(1) not in challenges, f"scheme {scheme.group(1)} given twice"
            params = challenges[scheme.group(1)] = {}
            position = scheme.end()
            continue
        match = param_pattern.match(value, position)
        assert params is not None, f"no scheme before {value[position:]!r}"
        assert match is not None, f"unparsable at {value[position:]!r}"
        name, quoted = match.group(1), match.group(2)
        assert name not in params, f"parameter {name} given twice"
        params[name] = re.sub(r"\\(.)", r"\1", quoted)
        position = match.end()
    return challenges


def parse_challenge(value: str) -> tuple[str, dict[str, str]]:
    """The first challenge of the field and its auth-params."""
    challenges = parse_challenges(value)
    scheme = next(iter(challenges))
    return scheme, challenges[scheme]


@requires_step_up(acr_values=(MFA, HARDWARE), max_age=300)
async def payout(request: Request) -> Response:
    return PlainTextResponse("paid")


@requires_step_up(amr=("otp",))
def with_otp(request: Request) -> Response:
    return PlainTextResponse("otp")


@requires_step_up(max_age=0)
async def just_now(request: Request) -> Response:
    return PlainTextResponse("just now")


@requires_step_up(acr_values=(MFA,))
async def socket(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text("stepped up")
    await websocket.close()


@pytest.fixture
def app(verifier: TokenVerifier) -> ClaimGuardMiddleware:
    routes = [
        Route("/payout", payout, methods=["POST"]),
        Route("/otp", with_otp),
        Route("/now", just_now),
        WebSocketRoute("/ws", socket),
    ]
    return ClaimGuardMiddleware(Starlette(routes=routes), verifier=verifier, allow_anonymous=True)


@pytest.fixture
async def client(app: ClaimGuardMiddleware) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app), base_url="http://testserver"
    ) as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def login(mint: Minter, clock: FakeClock, *, age: float = 60, **claims: Any) -> str:
    """A token whose user logged in ``age`` seconds ago with multi-factor, unless told."""
    payload: dict[str, Any] = {"acr": MFA, "amr": ["pwd", "otp"], "auth_time": clock.now - age}
    payload.update(claims)
    return mint(claims=payload)


def assert_step_up(
    response: httpx.Response, *, acr_values: str | None, max_age: str | None
) -> None:
    assert response.status_code == 401
    scheme, params = parse_challenge(response.headers["www-authenticate"])
    assert scheme == "Bearer"
    assert params["realm"] == "api"
    assert params["error"] == "insufficient_user_authentication"
    assert params["error_description"]
    assert params.get("acr_values") == acr_values
    assert params.get("max_age") == max_age
    body = response.json()
    assert body["error"] == "insufficient_user_authentication"
    assert body["error_description"] == params["error_description"]
    assert body.get("acr_values") == acr_values
    assert body.get("max_age") == (None if max_age is None else int(max_age))


# -- what passes ----------------------------------------------------------------------


async def test_a_recent_multi_factor_login_passes(
    client: httpx.AsyncClient, mint: Minter, clock: FakeClock
) -> None:
    for acr in (MFA, HARDWARE):
        response = await client.post("/payout", headers=bearer(login(mint, clock, acr=acr)))
        assert response.status_code == 200
        assert response.text == "paid"
    otp = await client.get("/otp", headers=bearer(login(mint, clock)))
    assert otp.text == "otp"


async def test_max_age_allows_the_verifiers_leeway_and_no_more(
    client: httpx.AsyncClient, mint: Minter, clock: FakeClock
) -> None:
    inside = login(mint, clock, age=300 + LEEWAY)
    outside = login(mint, clock, age=300 + LEEWAY + 1)
    assert (await client.post("/payout", headers=bearer(inside))).status_code == 200
    assert_step_up(
        await client.post("/payout", headers=bearer(outside)),
        acr_values=f"{MFA} {HARDWARE}",
        max_age="300",
    )


async def test_max_age_is_measured_on_the_verifiers_clock(
    client: httpx.AsyncClient, mint: Minter, clock: FakeClock
) -> None:
    token = login(mint, clock, age=0)
    assert (await client.post("/payout", headers=bearer(token))).status_code == 200
    clock.advance(300 + LEEWAY + 1)
    # The very same token (verified from the cache now): only the clock moved.
    assert_step_up(
        await client.post("/payout", headers=bearer(token)),
        acr_values=f"{MFA} {HARDWARE}",
        max_age="300",
    )


async def test_max_age_zero_asks_for_a_login_within_the_leeway(
    client: httpx.AsyncClient, mint: Minter, clock: FakeClock
) -> None:
    assert (await client.get("/now", headers=bearer(login(mint, clock, age=LEEWAY)))).text == (
        "just now"
    )
    assert_step_up(
        await client.get("/now", headers=bearer(login(mint, clock, age=LEEWAY + 1))),
        acr_values=None,
        max_age="0",
    )


# -- every refusal --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("claims", "cause"),
    [
        ({"acr": "urn:example:acr:password"}, "acr_not_accepted"),
        ({"acr": DROP}, "acr_missing"),
        ({"acr": [MFA]}, "acr_not_accepted"),
        ({"acr": MFA.upper()}, "acr_not_accepted"),
        ({"auth_time": DROP}, "auth_time_missing"),
        ({"auth_time": "1700000000"}, "auth_time_missing"),
        ({"auth_time": True}, "auth_time_missing"),
    ],
)
async def test_each_refusal_names_acr_values_and_max_age(
    client: httpx.AsyncClient,
    mint: Minter,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
    claims: dict[str, Any],
    cause: str,
) -> None:
    caplog.set_level(logging.DEBUG, logger="claimguard.middleware")
    response = await client.post("/payout", headers=bearer(login(mint, clock, **claims)))
    assert_step_up(response, acr_values=f"{MFA} {HARDWARE}", max_age="300")
    logged = [
        r.getMessage()
        for r in caplog.records
        if "insufficient_user_authentication" in r.getMessage()
    ]
    assert len(logged) == 1
    assert f"({cause})" in logged[0]


async def test_an_old_login_is_refused(
    client: httpx.AsyncClient, mint: Minter, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="claimguard.middleware")
    response = await client.post("/payout", headers=bearer(login(mint, clock, age=3600)))
    assert_step_up(response, acr_values=f"{MFA} {HARDWARE}", max_age="300")
    assert "300 seconds" in response.json()["error_description"]
    assert "(auth_time_too_old)" in caplog.text


async def test_a_login_time_in_the_future_beyond_the_leeway_is_refused(
    client: httpx.AsyncClient, mint: Minter, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="claimguard.middleware")
    near = login(mint, clock, age=-LEEWAY)
    far = login(mint, clock, age=-LEEWAY - 1)
    assert (await client.post("/payout", headers=bearer(near))).status_code == 200
    assert_step_up(
        await client.post("/payout", headers=bearer(far)),
        acr_values=f"{MFA} {HARDWARE}",
        max_age="300",
    )
    assert "(auth_time_in_future)" in caplog.text


@pytest.mark.parametrize(
    ("amr", "cause"),
    [
        (["pwd"], "amr_insufficient"),
        (["pwd", "sms"], "amr_insufficient"),
        (DROP, "amr_missing"),
        ("otp", "amr_missing"),
        (["pwd", 1], "amr_missing"),
    ],
)
async def test_a_missing_amr_method_is_refused(
    client: httpx.AsyncClient,
    mint: Minter,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
    amr: Any,
    cause: str,
) -> None:
    caplog.set_level(logging.DEBUG, logger="claimguard.middleware")
    response = await client.get("/otp", headers=bearer(login(mint, clock, amr=amr)))
    # RFC 9470 §3 has no parameter for amr: the description says what is missing.
    assert_step_up(response, acr_values=None, max_age=None)
    assert f"({cause})" in caplog.text


async def test_refusals_never_echo_the_tokens_values(
    client: httpx.AsyncClient, mint: Minter, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    token = login(mint, clock, acr="urn:s3cr3t:acr", amr=["s3cr3t-method"])
    answers = [await client.post("/payout", headers=bearer(token))]
    answers.append(await client.get("/otp", headers=bearer(token)))
    for answer in answers:
        assert answer.status_code == 401
        assert "s3cr3t" not in answer.text
        assert "s3cr3t" not in answer.headers["www-authenticate"]
    assert "s3cr3t" not in caplog.text
    assert token not in caplog.text


async def test_an_anonymous_request_gets_the_plain_401(client: httpx.AsyncClient) -> None:
    response = await client.post("/payout")
    assert response.status_code == 401
    assert parse_challenges(response.headers["www-authenticate"])["Bearer"] == {"realm": "api"}


async def test_a_websocket_handshake_is_refused_with_the_step_up_challenge(
    app: ClaimGuardMiddleware, mint: Minter, clock: FakeClock
) -> None:
    weak = login(mint, clock, acr="urn:example:acr:password")
    with TestClient(app) as client:
        with client.websocket_connect("/ws", headers=bearer(login(mint, clock))) as ws:
            assert ws.receive_text() == "stepped up"
        with (
            pytest.raises(WebSocketDenialResponse) as info,
            client.websocket_connect("/ws", headers=bearer(weak)),
        ):
            raise AssertionError("the handshake should have been refused")
    assert info.value.status_code == 403
    _, params = parse_challenge(info.value.headers["www-authenticate"])
    assert params["error"] == "insufficient_user_authentication"
    assert params["acr_values"] == MFA


# -- FastAPI ----------------------------------------------------------------------------


def fastapi_app(verifier: TokenVerifier) -> ClaimGuardMiddleware:
    api = FastAPI()

    @api.post("/payouts")
    async def payouts(
        claims: Annotated[Claims, require_step_up(acr_values=[MFA], max_age=300)],
    ) -> dict[str, Any]:
        return {"sub": claims.subject}

    @api.get("/otp", dependencies=[require_step_up(amr=["otp"])])
    async def otp() -> str:
        return "otp"

    document_claims(api)
    return ClaimGuardMiddleware(api, verifier=verifier)


async def test_fastapi_dependency_refuses_with_the_challenge_and_the_members(
    verifier: TokenVerifier, mint: Minter, clock: FakeClock
) -> None:
    app = fastapi_app(verifier)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app), base_url="http://testserver"
    ) as client:
        fresh = await client.post("/payouts", headers=bearer(login(mint, clock)))
        old = await client.post("/payouts", headers=bearer(login(mint, clock, age=1000)))
        weak = await client.get("/otp", headers=bearer(login(mint, clock, amr=["pwd"])))
        strong = await client.get("/otp", headers=bearer(login(mint, clock)))
    assert fresh.status_code == 200
    assert fresh.json() == {"sub": "auth0|alice"}
    assert strong.status_code == 200
    assert old.status_code == 401
    _, params = parse_challenge(old.headers["www-authenticate"])
    assert params["error"] == "insufficient_user_authentication"
    assert params["acr_values"] == MFA
    assert params["max_age"] == "300"
    detail = old.json()["detail"]
    assert detail["error"] == "insufficient_user_authentication"
    assert detail["acr_values"] == MFA
    assert detail["max_age"] == 300
    assert weak.status_code == 401
    assert "acr_values" not in weak.json()["detail"]


async def test_fastapi_openapi_documents_the_step_up(
    verifier: TokenVerifier,
) -> None:
    schema = fastapi_app(verifier).app.openapi()  # type: ignore[attr-defined]
    operation = schema["paths"]["/payouts"]["post"]
    assert MFA in operation["description"]
    assert "300 seconds" in operation["description"]
    assert "insufficient_user_authentication" in operation["responses"]["401"]["description"]
    assert "403" not in operation["responses"]


# -- the challenge ----------------------------------------------------------------------


def test_challenge_round_trips_through_a_parser() -> None:
    challenger = Challenger(realm="payments", resource_metadata_url="https://api.example.com/m")
    error = InsufficientUserAuthentication(
        'Log in again, "now".', cause="acr_not_accepted", acr_values=(MFA, HARDWARE), max_age=300
    )
    answer = challenger.for_error(error)
    assert answer.status == 401
    header = answer.www_authenticate
    assert header is not None
    scheme, params = parse_challenge(header)
    assert scheme == "Bearer"
    assert params == {
        "realm": "payments",
        "resource_metadata": "https://api.example.com/m",
        "error": "insufficient_user_authentication",
        "error_description": "Log in again, ?now?.",
        "acr_values": f"{MFA} {HARDWARE}",
        "max_age": "300",
    }
    assert answer.fields == {
        "error": "insufficient_user_authentication",
        "error_description": "Log in again, ?now?.",
        "acr_values": f"{MFA} {HARDWARE}",
        "max_age": 300,
    }


def test_challenge_names_only_what_is_required() -> None:
    only_age = Challenger().for_error(
        InsufficientUserAuthentication("Too old.", cause="auth_time_too_old", max_age=0)
    )
    header = only_age.www_authenticate
    assert header is not None
    _, params = parse_challenge(header)
    assert params["max_age"] == "0"
    assert "acr_values" not in params
    assert only_age.fields["max_age"] == 0


# -- declaration ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"acr_values": ()},
        {"acr_values": ("",)},
        {"acr_values": ("two words",)},
        {"acr_values": ('with"quote',)},
        {"acr_values": ("back\\slash",)},
        {"acr_values": ("caf\u00e9",)},
        {"acr_values": ("tab\t",)},
        {"acr_values": (1,)},
        {"acr_values": MFA},
        {"max_age": -1},
        {"max_age": 1.5},
        {"max_age": True},
        {"max_age": "300"},
        {"amr": "otp"},
        {"amr": ("",)},
        {"amr": ("one two",)},
    ],
)
def test_bad_requirements_fail_at_declaration(options: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        requires_step_up(**options)
    with pytest.raises(ConfigurationError):
        require_step_up(**options)


def test_amr_without_acr_values_warns_at_declaration(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="claimguard")
    requires_step_up(amr=["otp"], max_age=300)
    [warning] = [r for r in caplog.records if r.name == "claimguard"]
    assert warning.levelno == logging.WARNING
    assert "requires_step_up(amr=['otp']) has no acr_values" in warning.getMessage()
    assert "pair amr with acr_values=" in warning.getMessage()

    caplog.clear()
    requires_step_up(acr_values=[MFA], amr=["otp"])
    require_step_up(acr_values=[MFA], amr=["otp"])
    assert [r for r in caplog.records if r.name == "claimguard"] == []


def test_duplicate_values_are_named_once() -> None:
    @requires_step_up(acr_values=(MFA, MFA, HARDWARE), amr=("otp", "otp"))
    async def endpoint(request: Request) -> Response:
        return PlainTextResponse("")

    (requirement,) = endpoint.__claimguard_requirements__  # type: ignore[attr-defined]
    assert requirement.acr_values == (MFA, HARDWARE)
    assert requirement.amr == ("otp",)
