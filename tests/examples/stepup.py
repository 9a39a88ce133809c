"""A user at a browser and an OAuth client that steps up when an API asks (RFC 9470 §3).

:class:`Browser` plays the user on the issuer's own pages with plain httpx form posts: it
fills in the login form, allows a consent page and types the one-time code of the user's
TOTP secret (RFC 6238, computed with pyotp), and records which pages it was shown. Its
cookie jar is the browser's, so a second authorization runs in the same issuer session.
:class:`CodeClient` is a confidential client using the authorization code grant with PKCE
(RFC 7636).
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import httpx
import pyotp

MULTI_FACTOR = "http://schemas.openid.net/pape/policies/2007/06/multi-factor"
#: Alice's TOTP secret in ``examples/issuer/issuer.toml``.
ALICE_TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"

_FORM_ACTION = re.compile(r'<form method="post" action="([^"]+)"')
_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"')
_PARAM = re.compile(r'([a-z_]+)="([^"]*)"')


def challenge_params(response: httpx.Response) -> dict[str, str]:
    """The parameters of a ``Bearer`` challenge (RFC 6750 §3; RFC 9470 §3)."""
    header = response.headers["www-authenticate"]
    assert header.startswith("Bearer "), header
    return dict(_PARAM.findall(header))


def step_up_params(challenge: dict[str, str]) -> dict[str, str]:
    """What a client adds to ``/authorize`` for a challenge: its ``acr_values`` and
    ``max_age`` (RFC 9470 §4; OpenID Connect Core §3.1.2.1)."""
    return {k: challenge[k] for k in ("acr_values", "max_age") if k in challenge}


@dataclass
class Browser:
    """A user's browser: ``http``'s cookie jar holds the issuer's session cookie."""

    http: httpx.AsyncClient
    email: str
    password: str
    totp_secret: str
    #: The pages shown, in order: ``password``, ``consent``, ``code``.
    shown: list[str] = field(default_factory=list)

    async def authorize(self, url: str) -> dict[str, str]:
        """Open an authorization URL and answer each page until the issuer redirects
        back; return the redirect's query parameters."""
        issuer = urlsplit(url).netloc
        response = await self.http.get(url)
        for _ in range(6):
            if response.status_code == 200:
                response = await self._answer(response)
                continue
            assert response.status_code in (302, 303), response.text
            location = urljoin(str(response.url), response.headers["location"])
            if urlsplit(location).netloc != issuer:
                break
            # A page of the issuer's own (the consent page after the login form).
            response = await self.http.get(location)
        query = parse_qs(urlsplit(location).query)
        return {name: values[0] for name, values in query.items()}

    async def _answer(self, page: httpx.Response) -> httpx.Response:
        action = _FORM_ACTION.search(page.text)
        assert action is not None, page.text
        target = urljoin(str(page.url), action.group(1))
        fields = dict(_HIDDEN.findall(page.text))
        path = urlsplit(target).path
        if path.endswith("/login"):
            self.shown.append("password")
            fields |= {"email": self.email, "password": self.password}
        elif path.endswith("/mfa"):
            self.shown.append("code")
            fields["code"] = pyotp.TOTP(self.totp_secret).now()
        elif path.endswith("/consent"):
            self.shown.append("consent")
            fields["decision"] = "allow"
        else:
            raise AssertionError(f"unexpected form posting to {target}")
        return await self.http.post(target, data=fields)


def pkce_pair() -> tuple[str, str]:
    """A code verifier and its S256 challenge (RFC 7636 §4.1, §4.2)."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@dataclass
class CodeClient:
    """A confidential client logging users in with the code grant and PKCE."""

    issuer_url: str
    client_id: str
    client_secret: str
    redirect_uri: str
    audience: str

    async def log_in(self, browser: Browser, **extra: str) -> dict[str, Any]:
        """Send ``browser`` through ``/authorize`` (``extra`` added) and redeem the code."""
        verifier, challenge = pkce_pair()
        state = secrets.token_urlsafe(12)
        query = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "scope": "openid",
            "audience": self.audience,
            "state": state,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            **extra,
        }
        params = await browser.authorize(f"{self.issuer_url}authorize?{urlencode(query)}")
        assert params.get("state") == state, params
        assert "code" in params, params
        answer = await browser.http.post(
            f"{self.issuer_url}oauth/token",
            data={
                "grant_type": "authorization_code",
                "code": params["code"],
                "redirect_uri": self.redirect_uri,
                "code_verifier": verifier,
            },
            auth=(self.client_id, self.client_secret),
        )
        assert answer.status_code == 200, answer.text
        tokens: dict[str, Any] = answer.json()
        return tokens
