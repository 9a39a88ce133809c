"""One regression test per known attack on JWT verification.

Each test hand-crafts the hostile token (or JWKS) and asserts that the verifier refuses it
with :class:`InvalidToken` and the expected stable ``code`` — never another exception type.
SECURITY.md at the repository root lists the same attacks with their RFC section or advisory.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from cryptography.x509.oid import NameOID
from jwt.algorithms import RSAAlgorithm, get_default_algorithms
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from claimguard import (
    ClaimGuardMiddleware,
    ConfigurationError,
    InvalidToken,
    KeySetUnavailable,
    TokenVerifier,
)

from .conftest import (
    AUDIENCE,
    DISCOVERY_URL,
    DROP,
    ISSUER,
    JWKS_URL,
    FakeClock,
    FakeIssuerEndpoints,
    Minter,
    SigningKey,
)

pytestmark = pytest.mark.anyio

P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
EVIL = "https://evil.example"


# -- forging tokens by hand -------------------------------------------------------------


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def encode_part(part: dict[str, Any] | str | bytes) -> str:
    if isinstance(part, dict):
        part = json.dumps(part, separators=(",", ":"))
    if isinstance(part, str):
        part = part.encode()
    return b64u(part)


def sign(key: SigningKey, signing_input: bytes, alg: str | None = None) -> bytes:
    algorithm = get_default_algorithms()[alg or key.alg]
    return algorithm.sign(signing_input, key.private)  # type: ignore[no-any-return]


def forge(
    key: SigningKey | None,
    header: dict[str, Any] | str | bytes,
    payload: dict[str, Any] | str | bytes,
    *,
    alg: str | None = None,
    signature: bytes | None = None,
) -> str:
    """Build a compact JWS from raw parts; sign with ``key`` unless ``signature`` is given."""
    signing_input = f"{encode_part(header)}.{encode_part(payload)}"
    if signature is None:
        assert key is not None
        signature = sign(key, signing_input.encode(), alg)
    return f"{signing_input}.{b64u(signature)}"


@pytest.fixture
def claims(clock: FakeClock) -> dict[str, Any]:
    now = int(clock.time())
    return {"iss": ISSUER, "sub": "auth0|alice", "aud": AUDIENCE, "iat": now, "exp": now + 3600}


def with_raw_claim(claims: dict[str, Any], name: str, raw_json: str) -> str:
    """The payload JSON text with ``name`` set to ``raw_json`` verbatim (NaN, 1e400 …)."""
    rest = {k: v for k, v in claims.items() if k != name}
    return json.dumps(rest)[:-1] + f', "{name}": {raw_json}}}'


# -- a verifier whose every outgoing request is recorded ----------------------------------


@pytest.fixture
def requested() -> list[str]:
    """Every URL the verifier's HTTP client was asked for, in order."""
    return []


@pytest.fixture
async def recording_client(
    endpoints: FakeIssuerEndpoints, requested: list[str]
) -> AsyncIterator[httpx.AsyncClient]:
    def handler(request: httpx.Request) -> httpx.Response:
        requested.append(str(request.url))
        return endpoints.handler(request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        yield client


VerifierFactory = Callable[..., TokenVerifier]


@pytest.fixture
async def make_verifier(
    recording_client: httpx.AsyncClient, clock: FakeClock
) -> AsyncIterator[VerifierFactory]:
    made: list[TokenVerifier] = []

    def make(**options: Any) -> TokenVerifier:
        verifier = TokenVerifier(
            issuer=ISSUER, audience=AUDIENCE, http_client=recording_client, clock=clock, **options
        )
        made.append(verifier)
        return verifier

    yield make
    for verifier in made:
        await verifier.aclose()


@pytest.fixture
def verifier(make_verifier: VerifierFactory) -> TokenVerifier:
    return make_verifier()


async def refused(verifier: TokenVerifier, token: str) -> InvalidToken:
    """Verify ``token`` and return the InvalidToken raised; any other outcome fails the test."""
    with pytest.raises(InvalidToken) as info:
        await verifier.verify(token)
    assert type(info.value) is InvalidToken
    return info.value


def only_issuer_urls(requested: list[str]) -> bool:
    return set(requested) <= {DISCOVERY_URL, JWKS_URL}


# -- algorithm policy (RFC 8725 §2.1, §3.1) ---------------------------------------------


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE", "noNe"])
async def test_alg_none_in_any_casing_is_refused_before_any_fetch(
    verifier: TokenVerifier, claims: dict[str, Any], requested: list[str], alg: str
) -> None:
    header = {"alg": alg, "kid": "rsa-1"}
    error = await refused(verifier, forge(None, header, claims, signature=b"x"))
    assert error.code == "alg_not_allowed"
    unsigned = forge(None, header, claims, signature=b"")  # "a.b." — no signature at all
    assert (await refused(verifier, unsigned)).code == "malformed"
    assert requested == []


def _public_key_texts(key: SigningKey) -> dict[str, bytes]:
    public = key.private.public_key()
    return {
        "pem_spki": public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        "pem_pkcs1": public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.PKCS1
        ),
        "der": public.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        "openssh": public.public_bytes(
            serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
        ),
        "jwk_text": json.dumps(key.public_jwk).encode(),
        "jwk_text_rsa_only": RSAAlgorithm.to_jwk(public).encode(),
    }


@pytest.mark.parametrize("hs", ["HS256", "HS384", "HS512"])
async def test_rs256_to_hmac_confusion_with_the_public_key_as_secret_is_refused(
    verifier: TokenVerifier, claims: dict[str, Any], rsa_key: SigningKey, hs: str
) -> None:
    # CVE-2015-9235, CVE-2022-29217, CVE-2024-33663, and CVE-2026-48526 (a public JWK's
    # text as the HMAC secret): HMAC keyed with public key text.
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[hs]
    for secret in _public_key_texts(rsa_key).values():
        signing_input = f"{encode_part({'alg': hs, 'kid': 'rsa-1'})}.{encode_part(claims)}"
        mac = hmac.new(secret, signing_input.encode(), digest).digest()
        error = await refused(verifier, f"{signing_input}.{b64u(mac)}")
        assert error.code == "alg_not_allowed"


@pytest.mark.parametrize("alg", ["HS256", "hs256", "none", "NONE"])
def test_hmac_and_none_cannot_even_be_configured(alg: str) -> None:
    with pytest.raises(ConfigurationError):
        TokenVerifier(issuer=ISSUER, audience=AUDIENCE, algorithms=["RS256", alg])


@pytest.mark.parametrize(
    ("header_alg", "kid", "signer"),
    [
        ("ES256", "rsa-1", "ec_key"),  # EC signature presented for an RSA key
        ("RS256", "ec-1", "rsa_key"),  # RSA signature presented for an EC key
        ("EdDSA", "rsa-1", "ed_key"),
        ("ES256", "ed-1", "ec_key"),
        ("PS256", "rsa-1", "rsa_key"),  # the JWK says alg RS256 (RFC 7517 §4.4)
    ],
)
async def test_header_alg_must_fit_the_key_type_curve_and_alg(
    verifier: TokenVerifier,
    claims: dict[str, Any],
    request: pytest.FixtureRequest,
    header_alg: str,
    kid: str,
    signer: str,
) -> None:
    key: SigningKey = request.getfixturevalue(signer)
    token = forge(key, {"alg": header_alg, "kid": kid}, claims, alg=header_alg)
    assert (await refused(verifier, token)).code == "alg_key_mismatch"


async def test_alg_outside_the_allowlist_is_refused_even_when_the_key_could_check_it(
    make_verifier: VerifierFactory, claims: dict[str, Any], ec_key: SigningKey
) -> None:
    verifier = make_verifier(algorithms=["ES256"])
    token = forge(ec_key, {"alg": "ES384", "kid": "ec-1"}, claims, alg="ES256")
    assert (await refused(verifier, token)).code == "alg_not_allowed"
    verifier = make_verifier(algorithms=["ES256", "ES384"])
    assert (await refused(verifier, token)).code == "alg_key_mismatch"


async def test_signature_is_checked_with_the_header_alg_not_the_keys_other_algs(
    make_verifier: VerifierFactory,
    endpoints: FakeIssuerEndpoints,
    claims: dict[str, Any],
    rsa_key_2: SigningKey,
) -> None:
    # CVE-2026-48523: an allowlisted header alg over a signature made with another alg.
    jwk = {k: v for k, v in rsa_key_2.public_jwk.items() if k != "alg"}
    endpoints.keys = [jwk]
    verifier = make_verifier()
    pkcs1_signed = forge(rsa_key_2, {"alg": "PS256", "kid": "rsa-2"}, claims, alg="RS256")
    assert (await refused(verifier, pkcs1_signed)).code == "bad_signature"
    pss_signed = forge(rsa_key_2, {"alg": "PS256", "kid": "rsa-2"}, claims, alg="PS256")
    assert (await verifier.verify(pss_signed)).subject == "auth0|alice"


@pytest.mark.parametrize("alg", [None, 256, ["RS256"], {"RS256": True}, True])
async def test_alg_that_is_missing_or_not_a_string_is_malformed(
    verifier: TokenVerifier, claims: dict[str, Any], rsa_key: SigningKey, alg: Any
) -> None:
    header: dict[str, Any] = {"kid": "rsa-1"} if alg is None else {"alg": alg, "kid": "rsa-1"}
    token = forge(rsa_key, header, claims, alg="RS256")
    assert (await refused(verifier, token)).code == "malformed"


# -- kid is only a dictionary key (RFC 7515 §4.1.4) --------------------------------------

HOSTILE_KIDS = [
    "../../../../etc/passwd",
    "/dev/null",
    "' OR '1'='1' --",
    "rsa-1' UNION SELECT 'x",
    "http://169.254.169.254/latest/meta-data/",
    "rsa-1\x00",
    "k" * 10 * 1024,
]


async def test_hostile_string_kids_are_unknown_and_cost_one_fetch(
    verifier: TokenVerifier,
    claims: dict[str, Any],
    rsa_key: SigningKey,
    endpoints: FakeIssuerEndpoints,
    requested: list[str],
) -> None:
    for kid in HOSTILE_KIDS:
        error = await refused(verifier, forge(rsa_key, {"alg": "RS256", "kid": kid}, claims))
        assert error.code == "unknown_kid"
        assert kid not in error.description
    assert endpoints.jwks_requests == 1
    assert only_issuer_urls(requested)


@pytest.mark.parametrize("kid", [1, 1.5, True, ["rsa-1"], {"kid": "rsa-1"}, None])
async def test_kid_that_is_not_a_string_is_malformed(
    make_verifier: VerifierFactory,
    endpoints: FakeIssuerEndpoints,
    claims: dict[str, Any],
    rsa_key: SigningKey,
    kid: Any,
) -> None:
    # With a single key a kid-less token would match it, so even null must be refused.
    endpoints.keys = [rsa_key.public_jwk]
    verifier = make_verifier()
    token = forge(rsa_key, {"alg": "RS256", "kid": kid}, claims)
    assert (await refused(verifier, token)).code == "malformed"
    assert endpoints.jwks_requests == 0


# -- keys only from the JWKS: jku, x5u, jwk, x5c are never fetched (RFC 8725 §3.10) ------


def _self_signed_cert(key: SigningKey) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "attacker")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.private.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key.private, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.DER)


@pytest.mark.parametrize("param", ["jku", "x5u", "jwk", "x5c"])
async def test_key_locating_headers_are_never_fetched_nor_trusted(
    verifier: TokenVerifier,
    claims: dict[str, Any],
    rsa_key: SigningKey,
    rsa_key_2: SigningKey,
    requested: list[str],
    param: str,
) -> None:
    attacker = rsa_key_2  # its key is not in the issuer's JWKS
    value: Any = {
        "jku": f"{EVIL}/jwks.json",
        "x5u": f"{EVIL}/cert.pem",
        "jwk": {**attacker.public_jwk, "kid": "rsa-1"},
        "x5c": [base64.b64encode(_self_signed_cert(attacker)).decode()],
    }[param]
    for kid, code in (("rsa-2", "unknown_kid"), ("rsa-1", "bad_signature")):
        token = forge(attacker, {"alg": "RS256", "kid": kid, param: value}, claims)
        assert (await refused(verifier, token)).code == code
    kidless = forge(attacker, {"alg": "RS256", param: value}, claims)
    assert (await refused(verifier, kidless)).code == "kid_required"
    assert requested, "the issuer's JWKS was consulted"
    assert only_issuer_urls(requested)
    assert not any(url.startswith(EVIL) for url in requested)
    # The same header on a token the issuer really signed changes nothing: it is ignored.
    genuine = forge(rsa_key, {"alg": "RS256", "kid": "rsa-1", param: value}, claims)
    assert (await verifier.verify(genuine)).subject == "auth0|alice"
    assert only_issuer_urls(requested)


# -- forms of JOSE that are not accepted -------------------------------------------------


@pytest.mark.parametrize(
    "extra",
    [
        {"crit": ["exp"], "exp": 1},
        {"crit": ["https://example.com/policy"], "https://example.com/policy": True},
        {"crit": []},
        {"crit": "b64"},
        {"crit": [1]},
        {"crit": None},
        {"b64": False, "crit": ["b64"]},
        {"b64": False},
        {"b64": True, "crit": ["b64"]},
        {"zip": "DEF"},
        {"enc": "A256GCM"},
    ],
)
async def test_crit_b64_zip_and_enc_headers_are_refused_before_any_fetch(
    verifier: TokenVerifier,
    claims: dict[str, Any],
    rsa_key: SigningKey,
    requested: list[str],
    extra: dict[str, Any],
) -> None:
    # CVE-2026-32597 (crit), CVE-2026-48525 (b64), CVE-2024-33664 (zip).
    token = forge(rsa_key, {"alg": "RS256", "kid": "rsa-1", **extra}, claims)
    assert (await refused(verifier, token)).code == "unsupported_header"
    assert requested == []


@pytest.mark.parametrize("cty", ["JWT", "jwt", "Jwt"])
async def test_nested_jwt_is_refused(
    verifier: TokenVerifier, claims: dict[str, Any], rsa_key: SigningKey, cty: str
) -> None:
    inner = forge(rsa_key, {"alg": "RS256", "kid": "rsa-1"}, claims)
    token = forge(rsa_key, {"alg": "RS256", "kid": "rsa-1", "cty": cty}, inner)
    assert (await refused(verifier, token)).code == "unsupported_header"


async def test_jwe_with_five_parts_is_refused(verifier: TokenVerifier) -> None:
    header = encode_part({"alg": "RSA-OAEP", "enc": "A256GCM", "kid": "rsa-1"})
    token = ".".join([header, "AAAA", "AAAAAAAAAAAAAAAA", "AAAA", "AAAAAAAAAAAAAAAAAAAAAA"])
    assert (await refused(verifier, token)).code == "malformed"


async def test_json_serializations_are_refused(
    verifier: TokenVerifier, claims: dict[str, Any], rsa_key: SigningKey
) -> None:
    header, payload, signature = forge(rsa_key, {"alg": "RS256", "kid": "rsa-1"}, claims).split(".")
    flattened = {"protected": header, "payload": payload, "signature": signature}
    general = {"payload": payload, "signatures": [{"protected": header, "signature": signature}]}
    for document in (flattened, general):
        assert (await refused(verifier, json.dumps(document))).code == "malformed"
        compactish = json.dumps(document, separators=(",", ":"))
        assert (await refused(verifier, compactish)).code == "malformed"


@pytest.mark.parametrize("parts", [1, 2, 4, 6])
async def test_wrong_number_of_segments_is_malformed(
    verifier: TokenVerifier, mint: Minter, parts: int
) -> None:
    header, payload, signature = mint().split(".")
    segments = ([header, payload, signature] * 2)[:parts]
    assert (await refused(verifier, ".".join(segments))).code == "malformed"


# -- ECDSA signature shape (RFC 7518 §3.4) -----------------------------------------------


async def test_ecdsa_signatures_with_zero_or_out_of_range_values_are_refused(
    verifier: TokenVerifier, claims: dict[str, Any], ec_key: SigningKey
) -> None:
    header = {"alg": "ES256", "kid": "ec-1"}
    signing_input = f"{encode_part(header)}.{encode_part(claims)}".encode()
    raw = sign(ec_key, signing_input)
    r, s = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
    n = P256_ORDER

    def raw_sig(r_value: int, s_value: int) -> bytes:
        return r_value.to_bytes(32, "big") + s_value.to_bytes(32, "big")

    assert (await verifier.verify(forge(None, header, claims, signature=raw))).subject
    hostile = {
        "psychic r=s=0 (CVE-2022-21449)": raw_sig(0, 0),
        "r=0": raw_sig(0, s),
        "s=0": raw_sig(r, 0),
        "r=n": raw_sig(n, s),
        "s=n": raw_sig(r, n),
        "r=s=n": raw_sig(n, n),
        "r=2^256-1": raw_sig(2**256 - 1, s),
        "s=2^256-1": raw_sig(r, 2**256 - 1),
    }
    if r + n < 2**256:
        hostile["r+n"] = raw_sig(r + n, s)
    if s + n < 2**256:
        hostile["s+n"] = raw_sig(r, s + n)
    for name, signature in hostile.items():
        error = await refused(verifier, forge(None, header, claims, signature=signature))
        assert error.code == "bad_signature", name


async def test_ecdsa_signatures_of_the_wrong_encoding_or_length_are_refused(
    verifier: TokenVerifier, claims: dict[str, Any], ec_key: SigningKey
) -> None:
    header = {"alg": "ES256", "kid": "ec-1"}
    signing_input = f"{encode_part(header)}.{encode_part(claims)}".encode()
    der = ec_key.private.sign(signing_input, ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    raw = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    assert encode_dss_signature(r, s) == der
    shapes = {
        "DER": der,
        "one byte short": raw[:-1],
        "one byte long": raw + b"\x00",
        "leading zero": b"\x00" + raw,
        "each half padded": b"\x00" + raw[:32] + b"\x00" + raw[32:],
        "P-384 size": raw + bytes(32),
        "r only": raw[:32],
    }
    for name, signature in shapes.items():
        error = await refused(verifier, forge(None, header, claims, signature=signature))
        assert error.code == "bad_signature", name


# -- the JWKS: unusable keys are skipped, others keep working (RFC 7517, RFC 8725 §3.5) --


def _off_curve(jwk: dict[str, Any], kid: str) -> dict[str, Any]:
    y = bytearray(base64.urlsafe_b64decode(jwk["y"] + "=="))
    y[-1] ^= 1
    return {**jwk, "kid": kid, "y": b64u(bytes(y))}


async def test_off_curve_jwks_keys_are_skipped_and_the_others_still_work(
    make_verifier: VerifierFactory,
    endpoints: FakeIssuerEndpoints,
    claims: dict[str, Any],
    rsa_key: SigningKey,
    ec_key: SigningKey,
) -> None:
    endpoints.keys = [
        rsa_key.public_jwk,
        _off_curve(ec_key.public_jwk, "ec-off"),
        ec_key.public_jwk,
    ]
    verifier = make_verifier()
    good = forge(rsa_key, {"alg": "RS256", "kid": "rsa-1"}, claims)
    assert (await verifier.verify(good)).subject == "auth0|alice"
    assert (await verifier.verify(forge(ec_key, {"alg": "ES256", "kid": "ec-1"}, claims))).subject
    off = forge(ec_key, {"alg": "ES256", "kid": "ec-off"}, claims)
    assert (await refused(verifier, off)).code == "unknown_kid"
    state = verifier.jwks_state()
    assert set(state.kids) == {"rsa-1", "ec-1"}
    assert len(state.skipped_keys) == 1
    assert endpoints.jwks_requests == 1


async def test_a_jwks_with_only_an_off_curve_key_is_a_failed_fetch(
    make_verifier: VerifierFactory,
    endpoints: FakeIssuerEndpoints,
    claims: dict[str, Any],
    ec_key: SigningKey,
) -> None:
    endpoints.keys = [_off_curve(ec_key.public_jwk, "ec-1")]
    verifier = make_verifier()
    with pytest.raises(KeySetUnavailable):
        await verifier.verify(forge(ec_key, {"alg": "ES256", "kid": "ec-1"}, claims))
    assert verifier.jwks_state().last_error is not None


async def test_weak_rsa_encryption_and_symmetric_keys_in_the_jwks_are_skipped(
    make_verifier: VerifierFactory,
    endpoints: FakeIssuerEndpoints,
    claims: dict[str, Any],
    rsa_key: SigningKey,
    rsa_key_2: SigningKey,
) -> None:
    weak = SigningKey(rsa.generate_private_key(65537, 1024), "weak", "RS256")
    secret = b"correct horse battery staple"
    endpoints.keys = [
        rsa_key.public_jwk,
        weak.public_jwk,
        {**rsa_key_2.public_jwk, "kid": "enc", "use": "enc"},
        {**rsa_key_2.public_jwk, "kid": "no-verify", "key_ops": ["encrypt"]},
        {"kty": "oct", "kid": "oct", "k": b64u(secret), "alg": "HS256"},
    ]
    verifier = make_verifier()
    assert (await verifier.verify(forge(rsa_key, {"alg": "RS256", "kid": "rsa-1"}, claims))).subject
    assert len(verifier.jwks_state().skipped_keys) == 4
    for signer, kid in ((weak, "weak"), (rsa_key_2, "enc"), (rsa_key_2, "no-verify")):
        token = forge(signer, {"alg": "RS256", "kid": kid}, claims)
        assert (await refused(verifier, token)).code == "unknown_kid"
    signing_input = f"{encode_part({'alg': 'HS256', 'kid': 'oct'})}.{encode_part(claims)}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    assert (await refused(verifier, f"{signing_input}.{b64u(mac)}")).code == "alg_not_allowed"


async def test_missing_kid_matches_a_single_key_only(
    make_verifier: VerifierFactory,
    endpoints: FakeIssuerEndpoints,
    claims: dict[str, Any],
    rsa_key: SigningKey,
    rsa_key_2: SigningKey,
) -> None:
    several = make_verifier()
    kidless = forge(rsa_key, {"alg": "RS256"}, claims)
    assert (await refused(several, kidless)).code == "kid_required"

    endpoints.keys = [rsa_key.public_jwk]
    single = make_verifier()
    assert (await single.verify(kidless)).subject == "auth0|alice"
    forged = forge(rsa_key_2, {"alg": "RS256"}, claims)
    assert (await refused(single, forged)).code == "bad_signature"


# -- encoding: canonical base64url only (RFC 7515 §2, RFC 4648 §3.5) ---------------------

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def _set_unused_bits(segment: str) -> str:
    """The same bytes spelled differently: set the unused low bits of the last character."""
    assert len(segment) % 4 in (2, 3)
    return segment[:-1] + _ALPHABET[_ALPHABET.index(segment[-1]) | 1]


async def test_non_canonical_base64url_is_refused_in_every_segment(
    verifier: TokenVerifier, claims: dict[str, Any], rsa_key: SigningKey
) -> None:
    # Pad the header so that its encoding has a partial final quantum too.
    for pad in ("", "x", "xx"):
        header = {"alg": "RS256", "kid": "rsa-1", "p": pad}
        if len(encode_part(header)) % 4 in (2, 3):
            break
    payload = dict(claims)
    for pad in ("", "x", "xx"):
        payload["p"] = pad
        if len(encode_part(payload)) % 4 in (2, 3):
            break
    token = forge(rsa_key, header, payload)
    assert (await verifier.verify(token)).subject == "auth0|alice"
    parts = token.split(".")
    # The signature covers the payload's exact spelling (RFC 7515 §5.2), so a respelled
    # payload fails the signature; a respelled header or signature is caught while parsing.
    expected = ("malformed", "bad_signature", "malformed")
    for index in range(3):
        assert len(parts[index]) % 4 in (2, 3)
        mutated = list(parts)
        mutated[index] = _set_unused_bits(parts[index])
        assert (await refused(verifier, ".".join(mutated))).code == expected[index]


async def test_padding_standard_alphabet_and_white_space_are_refused(
    verifier: TokenVerifier, mint: Minter
) -> None:
    token = mint()
    parts = token.split(".")
    expected = ("malformed", "bad_signature", "malformed")  # as for non-canonical spelling
    for index in range(3):
        for suffix in ("=", "==", "===", " ", "\n"):
            mutated = list(parts)
            mutated[index] += suffix
            assert (await refused(verifier, ".".join(mutated))).code == expected[index]
    assert any(c in parts[2] for c in "-_")
    standard_alphabet = ".".join([*parts[:2], parts[2].replace("-", "+").replace("_", "/")])
    for variant in (standard_alphabet, " " + token, token[:10] + "\u00e9" + token[11:]):
        assert (await refused(verifier, variant)).code == "malformed"


# -- JSON ambiguity and resource exhaustion (RFC 7515 §5.2, RFC 8259 §4) ------------------


async def test_duplicate_member_names_are_refused_in_header_and_payload(
    verifier: TokenVerifier, claims: dict[str, Any], rsa_key: SigningKey, requested: list[str]
) -> None:
    duplicated_headers = [
        '{"alg":"RS256","kid":"rsa-1","kid":"ec-1"}',
        '{"alg":"none","alg":"RS256","kid":"rsa-1"}',
        '{"alg":"RS256","kid":"rsa-1","k\\u0069d":"rsa-1"}',
    ]
    for header in duplicated_headers:
        token = forge(rsa_key, header, claims, alg="RS256")
        assert (await refused(verifier, token)).code == "malformed"
    assert requested == []
    body = json.dumps(claims)[:-1]
    duplicated_payloads = [
        body + ', "sub": "auth0|admin"}',
        body + ', "aud": "https://other.example.com"}',
        body + ', "\\u0065xp": 99999999999}',
    ]
    for payload in duplicated_payloads:
        token = forge(rsa_key, {"alg": "RS256", "kid": "rsa-1"}, payload)
        assert (await refused(verifier, token)).code == "malformed"


@pytest.mark.parametrize("depth", [33, 1000, 5000])
async def test_deeply_nested_json_is_refused_without_a_crash(
    verifier: TokenVerifier, claims: dict[str, Any], rsa_key: SigningKey, depth: int
) -> None:
    nested = "[" * depth + "]" * depth
    payload = json.dumps(claims)[:-1] + f', "x": {nested}}}'
    token = forge(rsa_key, {"alg": "RS256", "kid": "rsa-1"}, payload)
    assert (await refused(verifier, token)).code == "malformed"
    header = '{"alg":"RS256","kid":"rsa-1","x":' + "{" * depth + "}" * depth + "}"
    if len(encode_part(header)) < verifier.max_token_bytes - 1000:
        token = forge(rsa_key, header, claims, alg="RS256")
        assert (await refused(verifier, token)).code == "malformed"


async def test_nesting_just_within_the_bound_is_accepted(
    verifier: TokenVerifier, claims: dict[str, Any], rsa_key: SigningKey
) -> None:
    payload = json.dumps(claims)[:-1] + ', "x": ' + "[" * 31 + "]" * 31 + "}"
    token = forge(rsa_key, {"alg": "RS256", "kid": "rsa-1"}, payload)
    assert (await verifier.verify(token))["x"] is not None


async def test_a_megabyte_token_is_refused_before_any_parsing_or_fetch(
    verifier: TokenVerifier, mint: Minter, requested: list[str]
) -> None:
    huge = mint(claims={"pad": "x" * (1024 * 1024)})
    assert (await refused(verifier, huge)).code == "too_large"
    just_over = "a" * (verifier.max_token_bytes + 1)
    assert (await refused(verifier, just_over)).code == "too_large"
    assert requested == []


# -- claims: numeric dates (RFC 7519 §2, §4.1.4-6) ---------------------------------------

NOT_A_NUMBER = ['"9999999999"', "true", "false", "null", "[9999999999]", '{"t": 1}', '""']
NOT_JSON_NUMBERS = ["NaN", "Infinity", "-Infinity", "1e400", "-1e400", "1" * 5000]


@pytest.mark.parametrize("name", ["exp", "nbf", "iat"])
@pytest.mark.parametrize("raw", NOT_A_NUMBER)
async def test_time_claims_that_are_not_numbers_are_invalid(
    verifier: TokenVerifier, claims: dict[str, Any], rsa_key: SigningKey, name: str, raw: str
) -> None:
    payload = with_raw_claim(claims, name, raw)
    token = forge(rsa_key, {"alg": "RS256", "kid": "rsa-1"}, payload)
    assert (await refused(verifier, token)).code == "invalid_claim"


@pytest.mark.parametrize("name", ["exp", "nbf", "iat"])
@pytest.mark.parametrize("raw", NOT_JSON_NUMBERS)
async def test_time_claims_that_are_not_finite_json_numbers_are_malformed(
    verifier: TokenVerifier, claims: dict[str, Any], rsa_key: SigningKey, name: str, raw: str
) -> None:
    payload = with_raw_claim(claims, name, raw)
    token = forge(rsa_key, {"alg": "RS256", "kid": "rsa-1"}, payload)
    assert (await refused(verifier, token)).code == "malformed"


@pytest.mark.parametrize(
    ("name", "code"),
    [("exp", "malformed"), ("nbf", "not_yet_valid"), ("iat", "not_yet_valid")],
)
async def test_time_claims_too_large_for_a_float_are_refused(
    verifier: TokenVerifier, claims: dict[str, Any], rsa_key: SigningKey, name: str, code: str
) -> None:
    # An integer of 400 digits is JSON, but no float holds it: never "valid forever".
    payload = with_raw_claim(claims, name, str(10**400))
    token = forge(rsa_key, {"alg": "RS256", "kid": "rsa-1"}, payload)
    assert (await refused(verifier, token)).code == code


async def test_exp_is_required(verifier: TokenVerifier, mint: Minter) -> None:
    assert (await refused(verifier, mint(claims={"exp": DROP}))).code == "missing_claim"


# -- claims: audience and issuer (RFC 7519 §4.1.1, §4.1.3) --------------------------------


@pytest.mark.parametrize(
    ("aud", "code"),
    [
        (DROP, "missing_claim"),
        (None, "missing_claim"),
        ("", "wrong_audience"),
        ([], "invalid_claim"),
        (123, "invalid_claim"),
        (True, "invalid_claim"),
        ({"aud": AUDIENCE}, "invalid_claim"),
        ([AUDIENCE, 1], "invalid_claim"),
        ([[AUDIENCE]], "invalid_claim"),
        (AUDIENCE + "/", "wrong_audience"),
        (AUDIENCE.upper(), "wrong_audience"),
        (AUDIENCE + ".evil.example", "wrong_audience"),
        (AUDIENCE[:-1], "wrong_audience"),
        (["https://other.example.com"], "wrong_audience"),
    ],
)
async def test_audience_must_be_present_well_typed_and_exact(
    verifier: TokenVerifier, mint: Minter, aud: Any, code: str
) -> None:
    assert (await refused(verifier, mint(claims={"aud": aud}))).code == code


@pytest.mark.parametrize(
    "iss",
    [
        ISSUER.rstrip("/"),  # trailing slash
        ISSUER + "/",
        ISSUER.upper(),
        "https://ISSUER.example.com/",  # host case
        ISSUER.replace("https://", "http://"),  # scheme
        ISSUER + "evil",
        ISSUER[:-2],  # substring (CVE-2024-53861)
        "issuer.example.com",
        [ISSUER],
        {"iss": ISSUER},
        None,
        DROP,
    ],
)
async def test_issuer_must_match_exactly(
    verifier: TokenVerifier, claims: dict[str, Any], rsa_key: SigningKey, iss: Any
) -> None:
    payload = {k: v for k, v in claims.items() if k != "iss"}
    if iss is not DROP:
        payload["iss"] = iss
    token = forge(rsa_key, {"alg": "RS256", "kid": "rsa-1"}, payload)
    assert (await refused(verifier, token)).code == "wrong_issuer"


# -- token type (RFC 9068 §4, RFC 8725 §3.11) --------------------------------------------


async def test_id_token_is_refused_where_an_access_token_is_required(
    make_verifier: VerifierFactory, mint: Minter
) -> None:
    verifier = make_verifier(require_at_jwt=True)
    id_token = mint(headers={"typ": "JWT"}, claims={"aud": "test-app", "nonce": "n-0S6_WzA2Mj"})
    assert (await refused(verifier, id_token)).code == "wrong_type"
    assert (await refused(verifier, mint(headers={"typ": "JWT"}))).code == "wrong_type"
    assert (await refused(verifier, mint())).code == "wrong_type"  # PyJWT writes typ JWT
    for typ in ("at+jwt", "application/at+jwt", "AT+JWT"):
        assert (await verifier.verify(mint(headers={"typ": typ}))).subject == "auth0|alice"
    # Without the requirement an ID token still fails: its audience is the client.
    assert (await refused(make_verifier(), id_token)).code == "wrong_audience"


# -- the request: one Authorization header, never the query string (RFC 6750 §2, §3.1) ---


@pytest.fixture
async def guarded_app(verifier: TokenVerifier) -> AsyncIterator[httpx.AsyncClient]:
    async def whoami(request: Request) -> JSONResponse:
        return JSONResponse({"sub": request.user.identity})

    app = ClaimGuardMiddleware(
        Starlette(routes=[Route("/me", whoami, methods=["GET", "POST"])]), verifier=verifier
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def test_two_authorization_headers_are_a_bad_request(
    guarded_app: httpx.AsyncClient, mint: Minter
) -> None:
    token = mint()
    ok = await guarded_app.get("/me", headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 200
    headers = [("Authorization", f"Bearer {token}"), ("Authorization", f"Bearer {token}")]
    response = await guarded_app.get("/me", headers=headers)
    assert response.status_code == 400
    assert 'error="invalid_request"' in response.headers["www-authenticate"]


async def test_a_token_in_the_query_string_or_form_body_is_not_accepted(
    guarded_app: httpx.AsyncClient, mint: Minter
) -> None:
    token = mint()
    response = await guarded_app.get("/me", params={"access_token": token})
    assert response.status_code == 400
    assert 'error="invalid_request"' in response.headers["www-authenticate"]
    both = await guarded_app.get(
        "/me", params={"access_token": token}, headers={"Authorization": f"Bearer {token}"}
    )
    assert both.status_code == 400
    form = await guarded_app.post("/me", data={"access_token": token})
    assert form.status_code == 401
    assert "error=" not in form.headers["www-authenticate"]


# -- CVE-2026-48522: a JWKS location that is not http(s) --------------------------------


@pytest.mark.parametrize(
    "uri",
    [
        "file:///etc/passwd",
        "ftp://keys.example.com/jwks.json",
        "data:application/json,{}",
        "http://keys.example.com/jwks.json",
    ],
)
def test_configured_jwks_uri_must_be_https_or_loopback(uri: str) -> None:
    with pytest.raises(ConfigurationError, match="https"):
        TokenVerifier(issuer=ISSUER, audience=AUDIENCE, jwks_uri=uri)


@pytest.mark.parametrize(
    "uri", ["file:///tmp/planted-jwks.json", "data:application/json,{}", "gopher://x/"]
)
async def test_discovered_jwks_uri_that_is_not_https_is_never_fetched(
    mint: Minter, clock: FakeClock, uri: str
) -> None:
    requested: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requested.append(str(request.url))
        return httpx.Response(200, json={"issuer": ISSUER, "jwks_uri": uri})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        verifier = TokenVerifier(issuer=ISSUER, audience=AUDIENCE, http_client=client, clock=clock)
        with pytest.raises(KeySetUnavailable):
            await verifier.verify(mint())
    assert requested == [DISCOVERY_URL]
    assert "https" in (verifier.jwks_state().last_error or "")
