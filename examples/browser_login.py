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
        tokens = answer.json()
        return _page("Logged in", self._token_html(tokens["access_token"], tokens.get("id_token")))

    def _token_html(self, token: str, id_token: str | None) -> str:
        payload = unverified_payload(token)
        # Both tokens came straight from the issuer's token endpoint, so reading them
        # unverified for display is safe (OpenID Connect Core 1.0 §3.1.3.7 item 6).
        identity = unverified_payload(id_token) if id_token else {}
        who = identity.get("email") or payload.get("email") or payload.get("sub")
        custom = {k: v for k, v in payload.items() if k.startswith(self.namespace)}
        commands = "\n".join(
            f'curl -i -H "Authorization: Bearer $TOKEN" {self.api_url}{route}'
            for route in ("/me", "/premium")
        )
        return (
            f'<p class="lede">Signed in as <strong id="user">{_e(str(who))}</strong></p>'
            f'<dl class="facts"><div><dt>Subject</dt><dd><code>{_e(str(payload.get("sub")))}'
            "</code></dd></div><div><dt>Claims added by the post-login actions</dt>"
            f"<dd><code>{_e(json.dumps(custom))}</code></dd></div></dl>"
            "<h2>Call the API with the access token</h2>"
            f'<pre id="token">TOKEN={_e(token)}\n{_e(commands)}</pre>'
            f'<p><a href="{_e(self.url)}">Log in as someone else</a></p>'
        )


def _e(text: str) -> str:
    return html.escape(text, quote=True)


_STYLE = """
:root { color-scheme: light; color: #1b1f24; background: #f3f4f6; line-height: 1.5;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
* { box-sizing: border-box; }
body { margin: 0; padding: 2rem 1rem; }
main { max-width: 46rem; margin: 0 auto; padding: 2rem; background: #fff;
  border: 1px solid #d8dee4; border-radius: 12px; box-shadow: 0 8px 24px rgb(27 31 36 / 8%); }
h1 { font-size: 1.375rem; margin: 0 0 .25rem; }
h2 { font-size: 1rem; margin: 1.5rem 0 .5rem; }
.lede { margin: 0; color: #57606a; }
.lede strong { color: #1b1f24; }
.facts { margin: 1.25rem 0 0; border: 1px solid #d8dee4; border-radius: 8px; }
.facts div { padding: .625rem .875rem; }
.facts div + div { border-top: 1px solid #d8dee4; }
.facts dt { color: #57606a; font-size: .8125rem; font-weight: 600; }
.facts dd { margin: 0; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
  font-size: .875rem; overflow-wrap: anywhere; }
pre { margin: 0; padding: .875rem; background: #f6f8fa; border: 1px solid #d8dee4;
  border-radius: 8px; white-space: pre-wrap; }
a { color: #1f4fb8; }
a:focus-visible { outline: 3px solid #1f4fb8; outline-offset: 2px; }
@media (max-width: 30rem) { body { padding: 1rem .75rem; } main { padding: 1.5rem 1.25rem; } }
"""
# The page loads nothing and runs nothing; its one stylesheet is allowed by its hash.
_CSP = (
    "default-src 'none'; style-src 'sha256-"
    + base64.b64encode(hashlib.sha256(_STYLE.encode()).digest()).decode()
    + "'; base-uri 'none'; frame-ancestors 'none'"
)


def _page(title: str, body: str, *, status_code: int = 200) -> HTMLResponse:
    return HTMLResponse(
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{_STYLE}</style></head>"
        f"<body><main><h1>{_e(title)}</h1>{body}</main></body></html>",
        status_code=status_code,
        headers={"Cache-Control": "no-store", "Content-Security-Policy": _CSP},
    )


def with_callback(api: ASGIApp, callback: ASGIApp) -> ASGIApp:
    """``api`` with ``GET /callback`` answered by ``callback`` (lifespan still reaches ``api``)."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == CALLBACK_PATH:
            await callback(scope, receive, send)
        else:
            await api(scope, receive, send)

    return app
