"""``api.multifactor`` and ``api.redirect`` of post-login actions (Auth0's model).

``api.multifactor.enable("otp")`` asks for a one-time code once every action of the login
has run. ``api.redirect.send_user_to(url)`` pauses the login after the current action and
sends the browser to ``url`` with ``state``; the browser comes back to ``/continue`` and
the action's ``on_continue_post_login`` runs. ``encode_token``/``validate_token`` sign
what goes along with HS256 and a secret of the action's (RFC 7519; RFC 7518 §3.2), bound
to this issuer (``iss``), the user (``sub``) and this login (``state``), with a short
expiry, so neither the page nor the browser can change it or use it for another login.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

import jwt

from ._claimrules import check_json_value

if TYPE_CHECKING:
    from ._actionapi import ActionStep

__all__ = ["LoginFlow", "MultifactorApi", "RedirectApi"]

PROVIDERS = ("otp",)
DEFAULT_TOKEN_SECONDS = 900
MAX_TOKEN_SECONDS = 3600
# RFC 7518 §3.2: an HS256 key must be at least as long as the hash output, 256 bits.
MIN_SECRET_BYTES = 32
_OWN_CLAIMS = ("iss", "sub", "iat", "exp", "state")


@dataclass(frozen=True)
class LoginFlow:
    """What ``api.redirect`` needs to know of the login it runs in.

    ``continue_state`` is ``None`` for logins without a browser (refresh, password grant),
    which cannot be sent anywhere; else it is the state a redirect now would carry.
    ``returned_state`` is the state the browser came back to ``/continue`` with, and
    ``params`` the query and body of that request (in ``on_continue_post_login``).
    ``via`` names how the login came in, for messages.
    """

    issuer_url: str
    user_id: str
    protocol: str
    clock: Callable[[], float]
    via: str = "a browser login (/authorize)"
    continue_state: str | None = None
    returned_state: str | None = None
    params: Mapping[str, str] = field(default_factory=dict)


class MultifactorApi:
    """``api.multifactor``: require a second factor for this login."""

    def __init__(self, step: ActionStep) -> None:
        self._step = step

    def enable(self, provider: str, *, allow_remember_browser: bool = False) -> None:
        """Ask for a one-time code (``provider="otp"``) after every action has run.

        With ``allow_remember_browser=True`` a code entered earlier in the same browser
        session, in a login that allowed remembering it too, stands in for a new one; with
        ``False`` (the default) the code is asked at every authorization. When several
        actions enable MFA, one that does not allow remembering wins.
        """
        if provider not in PROVIDERS:
            raise ValueError(
                f"multifactor provider {provider!r} is not supported here (supported: otp)"
            )
        if not isinstance(allow_remember_browser, bool):
            raise TypeError("allow_remember_browser must be true or false")
        if not self._step.closed:
            changes = self._step.changes
            remember = allow_remember_browser and (changes.mfa_remember or not changes.mfa_required)
            changes.mfa_required = True
            changes.mfa_remember = remember


class RedirectApi:
    """``api.redirect``: send the browser elsewhere and continue when it comes back."""

    def __init__(self, step: ActionStep, flow: LoginFlow | None) -> None:
        self._step = step
        self._flow = flow

    def _interactive(self, what: str) -> LoginFlow:
        flow = self._flow
        if flow is None or flow.continue_state is None:
            via = "this run" if flow is None else f"this login came through {flow.via}, which"
            raise RuntimeError(
                f"api.redirect.{what} needs a browser login (/authorize); {via}"
                " has no browser to send anywhere: use the authorization code flow"
            )
        return flow

    def send_user_to(self, url: str, query: Mapping[str, str] | None = None) -> None:
        """Pause the login after this action and send the browser to ``url`` (``query``
        added, with ``state``); ``on_continue_post_login`` runs when it returns."""
        flow = self._interactive("send_user_to")
        if not self._step.continuable:
            # Refused at the call, so the action log shows this action failing, and why.
            raise RuntimeError(
                "api.redirect.send_user_to needs an on_continue_post_login in the same action,"
                " to carry on the login when the browser comes back"
            )
        parts = urlsplit(url) if isinstance(url, str) else None
        if parts is None or parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValueError(f"send_user_to needs an absolute http(s) URL, not {url!r}")
        if parts.fragment:
            raise ValueError("send_user_to: the URL may not have a fragment")
        extra = dict(query or {})
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in extra.items()):
            raise TypeError("send_user_to: query must map strings to strings")
        extra["state"] = flow.continue_state  # type: ignore[assignment]
        separator = "&" if parts.query else "?"
        if self._step.closed:
            return
        self._step.changes.redirect_url = f"{url}{separator}{urlencode(extra)}"
        self._step.changes.redirected_by = self._step.action

    def encode_token(
        self,
        *,
        secret: str,
        payload: Mapping[str, Any],
        expires_in_seconds: float = DEFAULT_TOKEN_SECONDS,
    ) -> str:
        """An HS256 JWT of ``payload`` plus ``iss``, ``sub``, ``iat``, ``exp`` and ``state``."""
        flow = self._interactive("encode_token")
        key = _key(secret)
        if (
            isinstance(expires_in_seconds, bool)
            or not isinstance(expires_in_seconds, int | float)
            or not math.isfinite(expires_in_seconds)
            or not 0 < expires_in_seconds <= MAX_TOKEN_SECONDS
        ):
            raise ValueError(
                f"expires_in_seconds must be a number in (0, {MAX_TOKEN_SECONDS}],"
                f" not {expires_in_seconds!r}"
            )
        check_json_value(dict(payload), where="encode_token payload")
        now = int(flow.clock())
        claims = {
            **payload,
            "iss": flow.issuer_url,
            "sub": flow.user_id,
            "iat": now,
            "exp": now + int(expires_in_seconds),
            "state": flow.continue_state,
        }
        return jwt.encode(claims, key, algorithm="HS256")

    def validate_token(
        self, *, secret: str, token_parameter_name: str = "session_token"
    ) -> dict[str, Any]:
        """The claims of the token the page sent back in ``token_parameter_name`` (query or
        form field of the ``/continue`` request); raises ``ValueError`` saying what is
        wrong when it is missing, altered, expired, or made for another login or user."""
        flow = self._interactive("validate_token")
        key = _key(secret)
        token = flow.params.get(token_parameter_name)
        if not token:
            raise ValueError(f"validate_token: no {token_parameter_name!r} parameter was sent")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=["HS256"],
                issuer=flow.issuer_url,
                # Expiry is checked below against the issuer's clock.
                options={"require": list(_OWN_CLAIMS), "verify_exp": False, "verify_iat": False},
            )
        except jwt.PyJWTError as exc:
            raise ValueError(f"validate_token: the token is invalid ({exc})") from None
        exp = claims["exp"]
        if not isinstance(exp, int | float) or isinstance(exp, bool) or exp <= flow.clock():
            raise ValueError("validate_token: the token has expired")
        if claims["sub"] != flow.user_id:
            raise ValueError("validate_token: the token was made for another user")
        if flow.returned_state is None or claims["state"] != flow.returned_state:
            raise ValueError("validate_token: the token was made for another login (state)")
        return claims

    sendUserTo = send_user_to
    encodeToken = encode_token
    validateToken = validate_token


def _key(secret: object) -> bytes:
    if not isinstance(secret, str) or len(secret.encode()) < MIN_SECRET_BYTES:
        raise ValueError(
            f"the token secret must be a string of at least {MIN_SECRET_BYTES} bytes"
            " (RFC 7518 §3.2); keep it in event.secrets"
        )
    return secret.encode()
