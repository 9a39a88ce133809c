"""The console's token inspector: times, the signature check against the JWKS, scopes."""

import re

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from issuer import Issuer
from issuer.console._inspect import describe_time, inspect_token

from ..conftest import FakeClock

pytestmark = pytest.mark.anyio
NS = "https://myapp.example.com/"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


async def alice_token(issuer: Issuer) -> str:
    def plan(event: object, api: object) -> None:
        api.access_token.set_custom_claim(NS + "roles", ["admin", "ops"])  # type: ignore[attr-defined]

    issuer.add_action(plan)
    return (await issuer.login("alice@example.com", client_id="app")).access_token


def test_times_are_utc_dates_with_how_far_they_are() -> None:
    now = 1_800_000_000.0
    assert describe_time("exp", now + 3600, now) == "2027-01-15 09:00:00 UTC (expires in 1 h)"
    assert describe_time("exp", now - 90, now).endswith("(expired 1 min ago)")
    assert describe_time("iat", now - 2 * 86400 - 7200, now).endswith("(2 d 2 h ago)")
    assert describe_time("nbf", now + 30, now).endswith("(valid in 30 s)")
    assert describe_time("exp", "soon", now) == "not a NumericDate: 'soon'"
    assert describe_time("exp", 10**20, now).startswith("out of range")


async def test_an_issued_token_is_valid_and_names_its_key(bare_issuer: Issuer) -> None:
    token = await alice_token(bare_issuer)
    report = inspect_token(token, keys=bare_issuer.keys, now=bare_issuer.clock(), namespaces=[NS])
    assert report.signature == "valid"
    assert report.kid == bare_issuer.keys.active.kid
    assert report.times["exp"].endswith("(expires in 1 h)")
    assert {"openid", "claim:roles:admin", "claim:roles:ops"} <= set(report.scopes)


async def test_a_tampered_token_has_an_invalid_signature(bare_issuer: Issuer) -> None:
    header, _payload, signature = (await alice_token(bare_issuer)).split(".")
    forged = jwt.utils.base64url_encode(b'{"sub":"auth0|admin","scope":"admin"}').decode()
    report = inspect_token(
        f"{header}.{forged}.{signature}", keys=bare_issuer.keys, now=0, namespaces=[NS]
    )
    assert report.signature == "invalid signature"
    assert report.claims["sub"] == "auth0|admin"


def test_a_token_of_another_issuer_is_signed_by_an_unknown_key(bare_issuer: Issuer) -> None:
    other = jwt.encode(
        {"sub": "x", NS + "premium": True},
        ec.generate_private_key(ec.SECP256R1()),
        algorithm="ES256",
        headers={"kid": "elsewhere"},
    )
    report = inspect_token(other, keys=bare_issuer.keys, now=0, namespaces=[NS])
    assert report.signature == "unknown key"
    assert report.kid == "elsewhere"
    assert report.scopes == ["claim:premium"]


@pytest.mark.parametrize("text", ["", "not a token", "a.b.c", "e30.WyJsaXN0Il0.x"])
def test_garbage_is_malformed(bare_issuer: Issuer, text: str) -> None:
    assert inspect_token(text, keys=bare_issuer.keys, now=0, namespaces=[NS]).signature == (
        "malformed"
    )


def test_one_short_name_under_two_namespaces_is_reported(bare_issuer: Issuer) -> None:
    token = jwt.encode({"https://a.example/x": 1, "https://b.example/x": 2}, "k" * 32)
    report = inspect_token(
        token, keys=bare_issuer.keys, now=0, namespaces=["https://a.example", "https://b.example"]
    )
    assert report.scopes == []
    assert report.scopes_error is not None
    assert "claimguard refuses this token" in report.scopes_error


async def test_the_tokens_page_inspects_a_pasted_token(clock: FakeClock) -> None:
    issuer = Issuer(clock=clock, console=True)
    other = jwt.encode({"sub": "someone", "exp": clock.now - 60}, "k" * 32, headers={"kid": "hs"})
    async with issuer.http_client() as client:
        page = await client.get("/console/tokens")
        match = _CSRF.search(page.text)
        assert match is not None
        form = {"token": other, "namespaces": NS, "csrf_token": match.group(1)}
        response = await client.post("/console/tokens", data=form)
    assert response.status_code == 200
    assert "unknown key" in response.text
    assert "expired 1 min ago" in response.text
    assert "&quot;sub&quot;: &quot;someone&quot;" in response.text
