"""One-time codes (TOTP, RFC 6238) for the second factor: checking codes, refusing a code
seen before, new secrets, and the ``otpauth://`` URI with its QR code for enrolment.

``pyotp`` and ``segno`` come with the ``mfa`` extra and are imported only when a login
needs them, so an issuer whose actions never ask for a second factor does not need them.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import importlib
from collections.abc import Callable
from types import ModuleType
from typing import Any

from ._errors import ConfigError, IssuerError

__all__ = [
    "CODE_DIGITS",
    "STEP_SECONDS",
    "CodeChecker",
    "new_secret",
    "provisioning_uri",
    "qr_svg",
    "validate_secret",
]

STEP_SECONDS = 30
CODE_DIGITS = 6
# RFC 6238 §5.2: one step either side absorbs clock drift and the time to type the code.
VALID_WINDOW = 1
# RFC 4226 §4 R6 asks for at least 128 bits of shared secret; 160 is what it recommends.
MIN_SECRET_BYTES = 16


def _require(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ImportError:
        raise IssuerError(
            f"multi-factor login needs the {name!r} package: pip install 'claimguard-asgi[mfa]'"
        ) from None


def validate_secret(secret: object, *, key: str = "totp_secret") -> str:
    """``secret`` as canonical base32 (upper case, no spaces or padding), or a
    :class:`ConfigError` naming ``key`` and what is wrong with it."""
    if not isinstance(secret, str):
        raise ConfigError(f"must be a base32 string, not {type(secret).__name__}", key=key)
    cleaned = secret.replace(" ", "").upper().rstrip("=")
    try:
        raw = base64.b32decode(cleaned + "=" * (-len(cleaned) % 8))
    except (binascii.Error, ValueError):
        raise ConfigError("is not base32 (letters A-Z and digits 2-7)", key=key) from None
    if len(raw) < MIN_SECRET_BYTES:
        raise ConfigError(
            f"is {len(raw)} bytes; a TOTP secret needs at least {MIN_SECRET_BYTES}"
            f" ({MIN_SECRET_BYTES * 8} bits, RFC 4226 §4)",
            key=key,
        )
    return cleaned


def new_secret() -> str:
    """A fresh 160-bit base32 secret."""
    pyotp = _require("pyotp")
    secret: str = pyotp.random_base32(32)
    return secret


def provisioning_uri(secret: str, *, email: str, issuer_name: str) -> str:
    """The ``otpauth://totp/...`` URI authenticator apps read from the QR code."""
    pyotp = _require("pyotp")
    uri: str = pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=issuer_name)
    return uri


def qr_svg(text: str) -> str:
    """``text`` as an inline ``<svg>`` QR code (no script, no style, no external fetch)."""
    segno = _require("segno")
    svg: str = segno.make(text, error="m").svg_inline(scale=5, border=2, title="QR code")
    return svg


class CodeChecker:
    """Checks codes against a secret and accepts each time step at most once per user.

    A code is good for its step and one step either side (RFC 6238 §5.2). Once a code of
    step ``n`` is accepted for a user, codes of step ``n`` or earlier are refused for that
    user: RFC 6238 §5.2 says the verifier must not accept the second attempt of a code
    after a successful validation, and an older code is a replay as much as the same one.
    """

    def __init__(self, *, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._last_step: dict[str, int] = {}

    def check(self, user_key: str, secret: str, code: str) -> bool:
        """Whether ``code`` is good now for ``secret`` and not used before by ``user_key``."""
        code = code.strip().replace(" ", "")
        if len(code) != CODE_DIGITS or not code.isascii() or not code.isdigit():
            return False
        totp: Any = _require("pyotp").TOTP(secret, digits=CODE_DIGITS, interval=STEP_SECONDS)
        now = int(self._clock())
        current = now // STEP_SECONDS
        matched: int | None = None
        for step in range(current - VALID_WINDOW, current + VALID_WINDOW + 1):
            expected: str = totp.generate_otp(step)
            if hmac.compare_digest(expected.encode(), code.encode()):
                matched = step
        if matched is None or matched <= self._last_step.get(user_key, -1):
            return False
        self._last_step[user_key] = matched
        return True
