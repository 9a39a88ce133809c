"""Helpers for logins that pause: the one-time code form, the redirect to a page and back,
and the code exchange that ends them."""

import re
from typing import Any
from urllib.parse import urlencode, urljoin

import httpx
import jwt
import pyotp

from issuer import Issuer

from .flows import hidden_fields, redirect_params, submit_login

REDIRECT = "http://127.0.0.1:3000/callback"
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
_SECRET_TEXT = re.compile(r'<code id="secret">([A-Z2-7]+)</code>')


def authorize_url(**extra: str) -> str:
    query = {
        "response_type": "code",
        "client_id": "app",
        "redirect_uri": REDIRECT,
        "scope": "openid offline_access read:messages",
        "audience": "https://api.example.com",
        "state": "st",
        **extra,
    }
    return f"http://127.0.0.1:8765/authorize?{urlencode(query)}"


def code_at(secret: str, now: float) -> str:
    return str(pyotp.TOTP(secret).at(int(now)))


def shown_secret(page: httpx.Response) -> str:
    match = _SECRET_TEXT.search(page.text)
    assert match is not None, page.text
    return match.group(1)


async def log_in(client: httpx.AsyncClient, email: str, password: str, **extra: str) -> Any:
    return await submit_login(client, authorize_url(**extra), email, password)


async def send_code(client: httpx.AsyncClient, page: httpx.Response, code: str) -> httpx.Response:
    assert 'action="http://127.0.0.1:8765/mfa"' in page.text, page.text
    return await client.post(
        urljoin(str(page.url), "/mfa"), data={**hidden_fields(page), "code": code}
    )


async def tokens_from(client: httpx.AsyncClient, response: httpx.Response) -> dict[str, Any]:
    params = redirect_params(response)
    assert "code" in params, params
    answer = await client.post(
        "http://127.0.0.1:8765/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": params["code"],
            "redirect_uri": REDIRECT,
        },
        auth=("app", "app-secret"),
    )
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def claims(token: str) -> dict[str, Any]:
    decoded: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return decoded


def http(issuer: Issuer) -> httpx.AsyncClient:
    return issuer.http_client(base_url="http://127.0.0.1:8765")
