"""DPoP per grant (RFC 9449 §5): binding, public clients' refresh tokens (§5.8),
``require_dpop`` APIs, ``dpop_jkt`` on /authorize (§10), nonces (§8), actions, config."""

import base64
import hashlib
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt
import pytest

from issuer import Issuer, OAuthError
from issuer.dpop import DPoPAuth, DPoPKey
from issuer.oauth._codes import pkce_challenge

from ..conftest import FakeClock
from ..dpop_proofs import API, client_credentials, refused
from ..flows import assert_config_error, redirect_params, submit_login

pytestmark = pytest.mark.anyio

SPA = "spa"
CALLBACK = "http://127.0.0.1:3000/callback"
VERIFIER = "v" * 43


@pytest.fixture
def dpop_issuer(bare_issuer: Issuer) -> Issuer:
    bare_issuer.add_client(
        SPA,
        redirect_uris=[CALLBACK],
        grant_types=["authorization_code", "refresh_token", "password"],
    )
    return bare_issuer


def _token_url(issuer: Issuer) -> str:
    return f"{issuer.url}oauth/token"


async def _post(issuer: Issuer, data: dict[str, str], key: DPoPKey | None = None) -> httpx.Response:
    async with issuer.http_client() as client:
        headers = {} if key is None else {"DPoP": key.proof("POST", _token_url(issuer))}
        return await client.post("oauth/token", data=data, headers=headers)


def _password(client_id: str = SPA, **extra: str) -> dict[str, str]:
    data = {
        "grant_type": "password",
        "client_id": client_id,
        "username": "alice@example.com",
        "password": "alice-pw",
        "scope": "openid offline_access",
        **extra,
    }
    if client_id == "app":
        data["client_secret"] = "app-secret"
    return data


def _refresh(token: str, client_id: str = SPA) -> dict[str, str]:
    data = {"grant_type": "refresh_token", "client_id": client_id, "refresh_token": token}
    if client_id == "app":
        data["client_secret"] = "app-secret"
    return data


def _claims(issuer: Issuer, token: str) -> dict[str, Any]:
    claims = issuer.verify_access_token(token, audience=API)
    assert claims is not None
    return claims


def _at_hash(access_token: str) -> str:
    digest = hashlib.sha256(access_token.encode()).digest()  # ES256 issuer
    return base64.urlsafe_b64encode(digest[:16]).decode().rstrip("=")


async def test_the_password_grant_binds_the_access_token_but_not_the_id_token(
    dpop_issuer: Issuer, clock: FakeClock
) -> None:
    key = DPoPKey(clock=clock)
    body = (await _post(dpop_issuer, _password(), key)).json()
    assert body["token_type"] == "DPoP"
    assert _claims(dpop_issuer, body["access_token"])["cnf"] == {"jkt": key.jkt}
    id_claims = jwt.decode(body["id_token"], options={"verify_signature": False})
    assert "cnf" not in id_claims


async def test_the_client_credentials_grant_binds_the_access_token(
    dpop_issuer: Issuer, clock: FakeClock
) -> None:
    key = DPoPKey(clock=clock)
    response = await client_credentials(dpop_issuer, key.proof("POST", _token_url(dpop_issuer)))
    assert _claims(dpop_issuer, response.json()["access_token"])["cnf"] == {"jkt": key.jkt}


async def _code(issuer: Issuer, **params: str) -> str:
    query = urlencode(
        {
            "response_type": "code",
            "client_id": SPA,
            "redirect_uri": CALLBACK,
            "scope": "openid offline_access",
            "code_challenge": pkce_challenge(VERIFIER),
            "code_challenge_method": "S256",
            **params,
        }
    )
    async with issuer.http_client() as client:
        logged_in = await submit_login(
            client, f"authorize?{query}", "alice@example.com", "alice-pw"
        )
    return redirect_params(logged_in)["code"]


def _exchange(code: str) -> dict[str, str]:
    return {
        "grant_type": "authorization_code",
        "client_id": SPA,
        "code": code,
        "redirect_uri": CALLBACK,
        "code_verifier": VERIFIER,
    }


async def test_the_authorization_code_grant_binds_the_tokens_at_the_exchange(
    dpop_issuer: Issuer, clock: FakeClock
) -> None:
    key = DPoPKey(clock=clock)
    body = (await _post(dpop_issuer, _exchange(await _code(dpop_issuer)), key)).json()
    assert body["token_type"] == "DPoP"
    assert _claims(dpop_issuer, body["access_token"])["cnf"] == {"jkt": key.jkt}
    # The ID token's at_hash names the access token actually released (OIDC Core §3.1.3.6).
    id_claims = jwt.decode(body["id_token"], options={"verify_signature": False})
    assert id_claims["at_hash"] == _at_hash(body["access_token"])
    assert "cnf" not in id_claims


async def test_a_public_clients_refresh_token_is_bound_to_the_key(
    dpop_issuer: Issuer, clock: FakeClock
) -> None:
    key, other = DPoPKey(clock=clock), DPoPKey(clock=clock)
    first = (await _post(dpop_issuer, _password(), key)).json()
    assert "another key" in refused(
        await _post(dpop_issuer, _refresh(first["refresh_token"]), other), "invalid_grant"
    )
    assert "no proof" in refused(
        await _post(dpop_issuer, _refresh(first["refresh_token"])), "invalid_grant"
    )
    # The refused attempts did not spend the token: its key still refreshes, and the next
    # refresh token of the family is bound too.
    second = (await _post(dpop_issuer, _refresh(first["refresh_token"]), key)).json()
    assert _claims(dpop_issuer, second["access_token"])["cnf"] == {"jkt": key.jkt}
    refused(await _post(dpop_issuer, _refresh(second["refresh_token"]), other), "invalid_grant")


async def test_a_code_exchanged_with_a_proof_binds_the_public_clients_refresh_token(
    dpop_issuer: Issuer, clock: FakeClock
) -> None:
    key = DPoPKey(clock=clock)
    body = (await _post(dpop_issuer, _exchange(await _code(dpop_issuer)), key)).json()
    refused(await _post(dpop_issuer, _refresh(body["refresh_token"])), "invalid_grant")


async def test_a_confidential_clients_refresh_token_is_not_bound(
    dpop_issuer: Issuer, clock: FakeClock
) -> None:
    # RFC 9449 §5.8: a confidential client's refresh token is bound by client authentication.
    first = (await _post(dpop_issuer, _password("app"), DPoPKey(clock=clock))).json()
    second = await _post(dpop_issuer, _refresh(first["refresh_token"], "app"))
    assert second.status_code == 200, second.text
    assert second.json()["token_type"] == "Bearer"


async def test_an_api_with_require_dpop_refuses_requests_without_a_proof(
    clock: FakeClock,
) -> None:
    issuer = Issuer(clock=clock, signing_alg="ES256")
    issuer.add_api(API, scopes=["read:messages"], require_dpop=True)
    issuer.add_client(
        "app",
        client_secret="app-secret",
        grant_types=["password", "client_credentials", "refresh_token"],
        grants={API: ["read:messages"]},
    )
    issuer.add_user("alice@example.com", password="alice-pw")
    assert "requires a DPoP proof" in refused(await client_credentials(issuer))
    refused(await _post(issuer, _password("app")))
    key = DPoPKey(clock=clock)
    bound = (await _post(issuer, _password("app"), key)).json()
    refused(await _post(issuer, _refresh(bound["refresh_token"], "app")))
    assert (await client_credentials(issuer, key.proof("POST", _token_url(issuer)))).is_success
    with pytest.raises(OAuthError, match="requires a DPoP proof"):
        await issuer.login("alice@example.com")
    assert (await issuer.login("alice@example.com", dpop_key=key)).token_type == "DPoP"


async def test_dpop_jkt_binds_the_code_to_the_key(dpop_issuer: Issuer, clock: FakeClock) -> None:
    key, other = DPoPKey(clock=clock), DPoPKey(clock=clock)
    code = await _code(dpop_issuer, dpop_jkt=key.jkt)
    assert "another key" in refused(
        await _post(dpop_issuer, _exchange(code), other), "invalid_grant"
    )
    assert "no proof" in refused(await _post(dpop_issuer, _exchange(code)), "invalid_grant")
    body = (await _post(dpop_issuer, _exchange(code), key)).json()
    assert _claims(dpop_issuer, body["access_token"])["cnf"] == {"jkt": key.jkt}


async def test_a_malformed_dpop_jkt_is_refused_at_authorize(dpop_issuer: Issuer) -> None:
    query = urlencode(
        {
            "response_type": "code",
            "client_id": SPA,
            "redirect_uri": CALLBACK,
            "code_challenge": pkce_challenge(VERIFIER),
            "code_challenge_method": "S256",
            "dpop_jkt": "not-a-thumbprint",
        }
    )
    async with dpop_issuer.http_client() as client:
        response = await client.get(f"authorize?{query}")
    assert redirect_params(response)["error"] == "invalid_request"


async def test_actions_see_the_key_the_token_will_be_bound_to(
    dpop_issuer: Issuer, clock: FakeClock
) -> None:
    seen: list[object] = []
    dpop_issuer.add_action(lambda event, api: seen.append(event.transaction.dpop_jkt))
    key = DPoPKey(clock=clock)
    await _post(dpop_issuer, _password(), key)
    await _post(dpop_issuer, _password())
    await _code(dpop_issuer, dpop_jkt=key.jkt)
    assert seen == [key.jkt, None, key.jkt]


async def test_credentials_exchange_actions_see_the_key(
    dpop_issuer: Issuer, clock: FakeClock
) -> None:
    seen: list[object] = []
    dpop_issuer.add_action(
        lambda event, api: seen.append(event.transaction.dpop_jkt), trigger="credentials_exchange"
    )
    key = DPoPKey(clock=clock)
    await client_credentials(dpop_issuer, key.proof("POST", _token_url(dpop_issuer)))
    assert seen == [key.jkt]


async def test_nonces_are_demanded_and_dpop_auth_retries_with_one(clock: FakeClock) -> None:
    issuer = Issuer(clock=clock, signing_alg="ES256", dpop_nonces=True)
    issuer.add_api(API)
    issuer.add_client("app", client_secret="app-secret", grant_types=["client_credentials"],
                      grants={API: []})  # fmt: skip
    key = DPoPKey(clock=clock)
    demanded = await client_credentials(issuer, key.proof("POST", _token_url(issuer)))
    refused(demanded, "use_dpop_nonce")
    nonce = demanded.headers["dpop-nonce"]
    form = {"grant_type": "client_credentials", "client_id": "app",
            "client_secret": "app-secret", "audience": API}  # fmt: skip
    async with issuer.http_client(auth=DPoPAuth(key)) as client:
        response = await client.post("oauth/token", data=form)
    assert response.status_code == 200, response.text
    assert response.json()["token_type"] == "DPoP"
    assert response.headers["dpop-nonce"] == nonce
    clock.advance(120)  # two nonce steps: the old nonce is no longer accepted
    stale = key.proof("POST", _token_url(issuer), nonce=nonce)
    refused(await client_credentials(issuer, stale), "use_dpop_nonce")


async def test_without_nonces_no_nonce_is_handed_out(bare_issuer: Issuer) -> None:
    assert "dpop-nonce" not in (await client_credentials(bare_issuer)).headers


def test_require_dpop_and_nonces_come_from_the_config_file(tmp_path: Path) -> None:
    path = tmp_path / "issuer.toml"
    path.write_text(
        '[dpop]\nnonces = true\n[[apis]]\nidentifier = "https://api.example.com"\n'
        "require_dpop = true\n"
    )
    issuer = Issuer.from_config(path)
    assert issuer.directory.apis[API].require_dpop
    assert issuer.dpop.nonces is not None
    assert not Issuer().dpop.nonces


def test_config_errors_name_the_dpop_keys(tmp_path: Path) -> None:
    assert_config_error(tmp_path, '[dpop]\nnonces = "yes"\n', "dpop.nonces", "true or false")
    assert_config_error(tmp_path, "[dpop]\nnonce = true\n", "dpop.nonce", "unknown key")
    assert_config_error(
        tmp_path,
        '[[apis]]\nidentifier = "x"\nrequire_dpop = 1\n',
        "apis[0].require_dpop",
        "true or false",
    )
