"""Building ``WWW-Authenticate`` challenges and the small JSON error bodies (RFC 6750 §3).

| situation                       | status | ``WWW-Authenticate``                                  |
|---------------------------------|--------|-------------------------------------------------------|
| no token sent                   | 401    | ``Bearer realm="…"`` — no error code (RFC 6750 §3.1)  |
| bad, expired, tampered token    | 401    | ``… error="invalid_token", error_description="…"``    |
| malformed request               | 400    | ``… error="invalid_request", error_description="…"``  |
| valid token lacking claims      | 403    | ``… error="insufficient_scope", scope="…"``           |
| login too weak or too old       | 401    | ``… error="insufficient_user_authentication",``       |
|                                 |        | ``acr_values="…"`` and/or ``max_age="…"`` (RFC 9470)  |
| keys unavailable                | 503    | none; ``Retry-After: <seconds>`` instead              |

Bodies are JSON objects with ``error`` and ``error_description``. ``error`` is the RFC 6750
code where there is one; the two answers without one use ``"unauthorized"`` (no token)
and ``"temporarily_unavailable"`` (no keys), which never appear in a challenge. The 503
body also has ``cause`` (``unreachable``, ``bad_discovery`` or ``no_usable_keys``); its
description names no URL unless the challenger is built with ``debug=True``. A step-up
refusal's body also has ``acr_values`` (space-separated, as in the challenge) and/or
``max_age`` (an integer).
When configured, every challenge also names the RFC 9728 protected-resource metadata
document (``resource_metadata="…"``, RFC 9728 §5.1).

DPoP (RFC 9449 §7.1): where DPoP is allowed, every 401 and 403 carries two challenges,
``Bearer …`` and ``DPoP algs="ES256 EdDSA RS256 PS256", …``, in one ``WWW-Authenticate``
field; the error parameters go into the challenge of the scheme the client used (proof
errors always into ``DPoP``). Where DPoP is required only the ``DPoP`` challenge is sent.
``use_dpop_nonce`` adds the ``DPoP-Nonce`` header (RFC 9449 §9). A replay store that
cannot answer is a 503 with ``Retry-After`` and ``cause`` ``replay_store``, like keys.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .._errors import (
    ClaimGuardError,
    ConfigurationError,
    InsufficientClaims,
    InsufficientUserAuthentication,
    InvalidDPoPProof,
    KeySetUnavailable,
    ReplayStoreUnavailable,
    UseDPoPNonce,
)
from ..verification._dpopproof import DPOP_ALGORITHMS

__all__ = ["Challenge", "Challenger", "scheme_of"]

# RFC 6750 §3: error_description is %x20-21 / %x23-5B / %x5D-7E; realm is a quoted-string
# (RFC 9110 §5.6.4), kept to the same characters so no escaping is ever needed.
_QUOTABLE = re.compile(r"[\x20\x21\x23-\x5b\x5d-\x7e]*")
_NOT_QUOTABLE = re.compile(r"[^\x20\x21\x23-\x5b\x5d-\x7e]")
# RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
_SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")

_NO_TOKEN_DESCRIPTION = "A bearer token is required."
_NO_DPOP_TOKEN_DESCRIPTION = "A DPoP-bound access token and its DPoP proof are required."
_DPOP_MODES = ("allowed", "required", "disabled")
_MAX_BODY_DESCRIPTION = 1000


@dataclass(frozen=True, slots=True)
class Challenge:
    """A complete error answer: status, headers (``WWW-Authenticate`` et al.) and JSON body."""

    status: int
    error: str
    description: str
    headers: tuple[tuple[str, str], ...]
    cause: str | None = None
    step_up: tuple[tuple[str, str | int], ...] = ()

    @property
    def fields(self) -> dict[str, str | int]:
        """The JSON body's members: ``error``, ``error_description``, ``cause`` for a 503,
        ``acr_values``/``max_age`` for a step-up refusal."""
        fields: dict[str, str | int] = {"error": self.error, "error_description": self.description}
        if self.cause is not None:
            fields["cause"] = self.cause
        fields.update(self.step_up)
        return fields

    @property
    def body(self) -> bytes:
        """:attr:`fields` as compact JSON."""
        return json.dumps(self.fields, separators=(",", ":")).encode()

    @property
    def raw_headers(self) -> list[tuple[bytes, bytes]]:
        """The headers as ASGI wants them, with ``content-type`` and ``content-length``."""
        headers = [
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in self.headers
        ]
        headers.append((b"content-type", b"application/json"))
        headers.append((b"content-length", str(len(self.body)).encode("ascii")))
        return headers

    @property
    def www_authenticate(self) -> str | None:
        """The ``WWW-Authenticate`` value, or ``None`` for answers that carry none."""
        for name, value in self.headers:
            if name == "WWW-Authenticate":
                return value
        return None


def scheme_of(claims: Mapping[str, Any]) -> str:
    """The scheme verified ``claims`` came with: only a token bound to a key (``cnf.jkt``)
    is ever accepted with ``DPoP``, and only with ``DPoP``."""
    cnf = claims.get("cnf")
    return "dpop" if isinstance(cnf, dict) and cnf.get("jkt") else "bearer"


def is_scope_token(value: str) -> bool:
    """Whether ``value`` is a single RFC 6749 §3.3 scope token."""
    return _SCOPE_TOKEN.fullmatch(value) is not None


class Challenger:
    """Turns claimguard errors into :class:`Challenge` answers for one protected resource.

    ``realm`` names the protection space (RFC 9110 §11.5); ``resource_metadata_url``, when
    given, is the RFC 9728 protected-resource metadata URL named in every challenge.
    ``debug=True`` adds the precise cause of a 503 (which names the issuer's URLs) to its
    description; keep it off where clients are not the operators.
    """

    __slots__ = ("_params", "debug", "dpop", "realm", "resource_metadata_url")

    def __init__(
        self,
        *,
        realm: str = "api",
        resource_metadata_url: str | None = None,
        debug: bool = False,
        dpop: str = "disabled",
    ) -> None:
        if not isinstance(debug, bool):
            raise ConfigurationError("debug must be True or False")
        if dpop not in _DPOP_MODES:
            raise ConfigurationError(f"dpop must be one of {', '.join(_DPOP_MODES)}")
        self.dpop = dpop
        self.debug = debug
        if not isinstance(realm, str) or not realm or not _QUOTABLE.fullmatch(realm):
            raise ConfigurationError(
                f"realm {realm!r} must be a non-empty string of printable ASCII without "
                "double quotes or backslashes"
            )
        if resource_metadata_url is not None and (
            not isinstance(resource_metadata_url, str)
            or not resource_metadata_url.startswith(("https://", "http://"))
            or not _QUOTABLE.fullmatch(resource_metadata_url)
            or " " in resource_metadata_url
        ):
            raise ConfigurationError(
                f"resource_metadata_url {resource_metadata_url!r} must be an absolute http(s) URL"
            )
        self.realm = realm
        self.resource_metadata_url = resource_metadata_url
        params = [f'realm="{realm}"']
        if resource_metadata_url is not None:
            params.append(f'resource_metadata="{resource_metadata_url}"')
        self._params = tuple(params)

    def __repr__(self) -> str:
        return (
            f"Challenger(realm={self.realm!r}, "
            f"resource_metadata_url={self.resource_metadata_url!r}, debug={self.debug!r}, "
            f"dpop={self.dpop!r})"
        )

    def missing_token(self) -> Challenge:
        """401 for a request that sent no token: no error code (RFC 6750 §3.1)."""
        description = (
            _NO_DPOP_TOKEN_DESCRIPTION if self.dpop == "required" else _NO_TOKEN_DESCRIPTION
        )
        return Challenge(401, "unauthorized", description, self._challenges((), "bearer"))

    def for_error(self, error: ClaimGuardError, *, scheme: str = "bearer") -> Challenge:
        """The answer for ``error``: its status, challenge (or ``Retry-After``) and body.

        ``scheme`` (``"bearer"`` or ``"dpop"``, see :func:`scheme_of`) is the one the client
        used: its challenge carries the error.
        """
        if isinstance(error, KeySetUnavailable | ReplayStoreUnavailable):
            retry_after = max(1, int(error.retry_after_seconds))
            # No header carries this text, so it need not be quotable; JSON escapes it.
            description = error.description
            if self.debug and error.detail:
                description = f"{description.removesuffix('.')} ({error.detail})."
            return Challenge(
                503,
                "temporarily_unavailable",
                description[:_MAX_BODY_DESCRIPTION],
                (("Retry-After", str(retry_after)),),
                cause=error.cause if isinstance(error, KeySetUnavailable) else "replay_store",
            )
        description = _quotable(error.description)
        code = error.error or "invalid_token"
        params = [f'error="{code}"', f'error_description="{description}"']
        if isinstance(error, InsufficientClaims):
            scopes = [s for s in error.required if is_scope_token(s)]
            if scopes:
                params.append(f'scope="{" ".join(scopes)}"')
        step_up = (
            step_up_parameters(error) if isinstance(error, InsufficientUserAuthentication) else ()
        )
        params.extend(f'{name}="{value}"' for name, value in step_up)
        status = error.status if error.status in (400, 401, 403) else 401
        if isinstance(error, InvalidDPoPProof):
            scheme = "dpop"
        headers = self._challenges(params, scheme)
        if isinstance(error, UseDPoPNonce):
            headers = (*headers, ("DPoP-Nonce", error.nonce))
        return Challenge(status, code, description, headers, step_up=step_up)

    def _challenges(
        self, params: list[str] | tuple[str, ...], scheme: str
    ) -> tuple[tuple[str, str], ...]:
        mode = self.dpop
        if mode == "disabled":
            value = self._bearer(params)
        elif mode == "required":
            value = self._dpop(params)
        else:
            # One field holding both challenges (RFC 9110 §11.6.1), as in RFC 9449 §7.2;
            # frameworks that keep headers in a dict cannot repeat a field.
            bearer = self._bearer(params if scheme != "dpop" else ())
            value = f"{bearer}, {self._dpop(params if scheme == 'dpop' else ())}"
        return (("WWW-Authenticate", value),)

    def _bearer(self, params: list[str] | tuple[str, ...]) -> str:
        return "Bearer " + ", ".join((*self._params, *params))

    def _dpop(self, params: list[str] | tuple[str, ...]) -> str:
        # RFC 9449 §7.1: algs names the proof algorithms this resource accepts.
        return "DPoP " + ", ".join((_ALGS, *self._params, *params))


_ALGS = f'algs="{" ".join(DPOP_ALGORITHMS)}"'


def step_up_parameters(
    error: InsufficientUserAuthentication,
) -> tuple[tuple[str, str | int], ...]:
    """RFC 9470 §3: ``acr_values`` (space-separated, in order of preference) and ``max_age``
    (seconds), each only when required. The values were checked quotable when the requirement
    was declared; one that is not is left out rather than break the header."""
    step_up: list[tuple[str, str | int]] = []
    acr_values = [value for value in error.acr_values if is_scope_token(value)]
    if acr_values:
        step_up.append(("acr_values", " ".join(acr_values)))
    if error.max_age is not None:
        step_up.append(("max_age", int(error.max_age)))
    return tuple(step_up)


def _quotable(text: str) -> str:
    return _NOT_QUOTABLE.sub("?", text)[:300]
