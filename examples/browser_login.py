"""The browser half of the demo: an authorization-code login with PKCE (RFC 7636) whose
callback exchanges the code and shows the access token, ready to paste into ``curl``."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import secrets
from urllib.parse import urlencode

import httpx
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["BrowserLogin", "with_callback"]

CALLBACK_PATH = "/callback"


def _s256(verifier: str) -> str:
    # RFC 7636 §4.2: BASE64URL(SHA256(ASCII(code_verifier))), no padding.
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def unverified_payload(token: str) -> dict[str, object]:
    """The payload of a JWT, *not verified*: for display only, never for decisions."""
    segment = token.split(".")[1]
    data = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    return data if isinstance(data, dict) else {}


class BrowserLogin:
    """The login URL a person opens, and the ASGI callback that finishes the login.

    ``client_id`` is a public client registered with ``redirect_uri`` (the API's
    ``/callback``); one PKCE pair serves every login started from :attr:`url`.
    """

    def __init__(
        self, *, issuer_url: str, api_url: str, client_id: str, audience: str, namespace: str
    ) -> None:
        self.issuer_url = issuer_url
        self.api_url = api_url
        self.client_id = client_id
        self.redirect_uri = api_url + CALLBACK_PATH
        self.namespace = namespace
        self._verifier = secrets.token_urlsafe(48)
        self._state = secrets.token_urlsafe(16)
        query = {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": self.redirect_uri,
            "scope": "openid profile email",
            "audience": audience,
            "state": self._state,
            "code_challenge": _s256(self._verifier),
            "code_challenge_method": "S256",
        }
        self.url = f"{issuer_url}authorize?{urlencode(query)}"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        response = await self._finish(request)
        await response(scope, receive, send)

    async def _finish(self, request: Request) -> HTMLResponse:
        params = request.query_params
        if "error" in params:
            return _page(
                "Login refused",
                f"<p>{_e(params['error'])}: {_e(params.get('error_description', ''))}</p>"
                f'<p><a href="{_e(self.url)}">Try again</a></p>',
                status_code=403,
            )
        if params.get("state") != self._state or not params.get("code"):
            message = "<p>Start the login from the URL the demo printed.</p>"
            return _page("Invalid callback", message, status_code=400)
        async with httpx.AsyncClient(timeout=10) as client:
            answer = await client.post(
                f"{self.issuer_url}oauth/token",
                data={
                    "grant_type": "authorization_code",
                    "code": params["code"],
                    "redirect_uri": self.redirect_uri,
                    "client_id": self.client_id,
                    "code_verifier": self._verifier,
                },
            )
        if answer.status_code != 200:
            return _page("Token exchange failed", f"<pre>{_e(answer.text)}</pre>", status_code=502)
        token = answer.json()["access_token"]
        return _page("Logged in", self._token_html(token))

    def _token_html(self, token: str) -> str:
        payload = unverified_payload(token)
        custom = {k: v for k, v in payload.items() if k.startswith(self.namespace)}
        commands = "\n".join(
            f'curl -i -H "Authorization: Bearer $TOKEN" {self.api_url}{route}'
            for route in ("/me", "/premium")
        )
        return (
            f"<p>Signed in as <code>{_e(str(payload.get('sub')))}</code>. "
            f"Claims added by the post-login actions: <code>{_e(json.dumps(custom))}</code></p>"
            f"<p>Access token:</p><textarea readonly rows=6 cols=100>{_e(token)}</textarea>"
            f"<p>Call the API with it:</p><pre>TOKEN={_e(token)}\n{_e(commands)}</pre>"
            f'<p><a href="{_e(self.url)}">Log in as someone else</a></p>'
        )


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _page(title: str, body: str, *, status_code: int = 200) -> HTMLResponse:
    return HTMLResponse(
        f"<!doctype html><html><head><meta charset=utf-8><title>{_e(title)}</title></head>"
        f"<body style='font-family:sans-serif;max-width:60rem;margin:2rem auto'>"
        f"<h1>{_e(title)}</h1>{body}</body></html>",
        status_code=status_code,
        headers={"Cache-Control": "no-store"},
    )


def with_callback(api: ASGIApp, callback: ASGIApp) -> ASGIApp:
    """``api`` with ``GET /callback`` answered by ``callback`` (lifespan still reaches ``api``)."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == CALLBACK_PATH:
            await callback(scope, receive, send)
        else:
            await api(scope, receive, send)

    return app
