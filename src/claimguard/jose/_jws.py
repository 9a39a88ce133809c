"""Strict parsing of compact JWS (RFC 7515 §7.1) before any cryptography runs.

Only the compact serialization is accepted: exactly three segments of canonical
base64url (RFC 7515 §2, RFC 4648 §5, no padding, no non-zero trailing bits), within a
size cap. JSON must be an object without duplicate member names (RFC 7515 §5.2 step 4
lets us reject them), with finite numbers only and bounded nesting. Everything that
goes wrong here becomes :class:`InvalidToken` with a stable code.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Callable
from typing import Any, NamedTuple

from .._errors import InvalidToken

__all__ = [
    "CompactJWS",
    "Header",
    "b64_decode",
    "b64_encode",
    "decode_json_object",
    "parse_header",
    "split_compact",
]

# base64url is decoded by translating a segment to the standard alphabet and letting
# binascii's strict mode reject anything outside it. "+", "/" and "=" are not
# base64url (RFC 7515 §2: no padding), so they are mapped to a byte strict mode refuses.
_TO_STANDARD = bytes.maketrans(b"-_+/=", b"+/!!!")
_PADDING = (b"", b"", b"==", b"=")
# In canonical base64url the last character of a 2- or 3-character tail carries no
# unused set bits (RFC 4648 §3.5); anything else decodes to the same bytes as another
# string, which lets a token be changed without changing its meaning.
_CANONICAL_LAST = (None, None, frozenset(b"AQgw"), frozenset(b"AEIMQUYcgkosw048"))

_a2b_base64 = binascii.a2b_base64
_new_tuple = tuple.__new__

# Header parameters whose presence means a form of JOSE claimguard does not accept.
_REFUSED_HEADER_PARAMS = {
    "enc": "Encrypted tokens (JWE) are not accepted.",
    "zip": "Compressed payloads are not accepted.",
    "b64": "Unencoded payloads (RFC 7797) are not accepted.",
    # RFC 7515 §4.1.11; the description stays ASCII, as RFC 6750 §3 requires.
    "crit": "No critical header extension is understood.",
}


class CompactJWS(NamedTuple):
    """The parts of a compact JWS: the raw header segment, the payload segment still
    encoded, the decoded signature and the bytes that were signed."""

    header_segment: bytes
    payload: bytes
    signature: bytes
    signing_input: bytes


class Header(NamedTuple):
    """The protected header parameters claimguard acts on."""

    alg: str
    kid: str | None
    typ: str | None


def b64_decode(segment: bytes) -> bytes:
    """Decode one base64url segment; canonical form only (RFC 7515 §2, RFC 4648 §3.5)."""
    segment = segment.translate(_TO_STANDARD)
    tail = len(segment) & 3
    if tail:
        canonical_last = _CANONICAL_LAST[tail]
        if canonical_last is None:
            raise InvalidToken("malformed", "A token segment has an impossible length.")
        if segment[-1] not in canonical_last:
            raise InvalidToken("malformed", "A token segment is not canonical base64url.")
        segment += _PADDING[tail]
    try:
        return _a2b_base64(segment, strict_mode=True)
    except binascii.Error as exc:
        raise InvalidToken("malformed", "A token segment is not base64url.") from exc


def b64_encode(data: bytes) -> str:
    """Encode ``data`` as canonical base64url without padding (RFC 7515 §2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def split_compact(token: str, *, max_bytes: int) -> CompactJWS:
    """Check the token's shape and size and split it; the header and payload stay encoded.

    Only the signature is decoded here. The header segment is checked when it is parsed
    (:func:`parse_header`) and the payload when it is decoded (:func:`decode_json_object`).
    """
    if len(token) > max_bytes:
        raise InvalidToken("too_large", f"The token is larger than {max_bytes} bytes.")
    try:
        raw = token.encode("ascii")
    except UnicodeEncodeError as exc:
        raise InvalidToken("malformed", "The token contains non-ASCII characters.") from exc
    signing_input, _, signature = raw.rpartition(b".")
    header, dot, payload = signing_input.partition(b".")
    if not dot or b"." in payload:
        if raw.count(b".") == 4:
            raise InvalidToken("malformed", "Encrypted tokens (JWE) are not accepted.")
        raise InvalidToken(
            "malformed", "The token is not a compact JWS of three base64url segments."
        )
    if not header or not payload or not signature:
        raise InvalidToken("malformed", "The token has an empty segment.")
    # tuple.__new__ skips the generated Python __new__ of a NamedTuple: this runs per token.
    return _new_tuple(CompactJWS, (header, payload, b64_decode(signature), signing_input))


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise ValueError("duplicate member name")
    return obj


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("number out of range")
    return value


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


_DECODER = json.JSONDecoder(
    object_pairs_hook=_object_without_duplicates,
    parse_float=_finite_float,
    parse_constant=_refuse_constant,
)

_MAX_JSON_DEPTH = 32


def _depth_ok(text: str) -> bool:
    """Whether the JSON ``text`` nests at most ``_MAX_JSON_DEPTH`` deep (string-aware)."""
    depth = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > _MAX_JSON_DEPTH:
                return False
        elif char in "]}":
            depth -= 1
    return True


_SCAN: Callable[[str, int], tuple[Any, int]] = _DECODER.scan_once  # type: ignore[attr-defined]


def decode_json_object(segment: bytes, what: str) -> dict[str, Any]:
    """Decode a base64url segment holding a JSON object, strictly."""
    raw = b64_decode(segment)
    try:
        text = raw.decode("utf-8")
        # A cheap bound first: nesting needs brackets.
        if text.count("{") + text.count("[") > _MAX_JSON_DEPTH and not _depth_ok(text):
            raise ValueError("nested too deeply")
        try:
            # The C scanner alone, skipping the white-space regexes of decode() ...
            value, end = _SCAN(text, 0)
        except StopIteration:
            end = -1
        if end != len(text):
            # ... which still judges anything unusual: surrounding white space, errors.
            value = _DECODER.decode(text)
    except (ValueError, RecursionError) as exc:
        # ValueError covers UnicodeDecodeError, JSONDecodeError, duplicate names,
        # NaN/Infinity, integers longer than the interpreter's digit limit, and nesting
        # deeper than any token needs (the C parser's recursion is never approached).
        raise InvalidToken("malformed", f"The token's {what} is not valid JSON.") from exc
    if not isinstance(value, dict):
        raise InvalidToken("malformed", f"The token's {what} is not a JSON object.")
    return value


def parse_header(segment: bytes) -> Header:
    """Decode and check the protected header; refuse JOSE forms claimguard does not accept.

    ``jku``, ``x5u``, ``jwk`` and ``x5c`` are ignored on purpose: keys come only from
    the issuer's JWKS (RFC 8725 §3.10), so nothing a token says is ever fetched.
    """
    header = decode_json_object(segment, "header")
    for param, reason in _REFUSED_HEADER_PARAMS.items():
        if param in header:
            raise InvalidToken("unsupported_header", reason)
    alg = header.get("alg")
    if not isinstance(alg, str):
        raise InvalidToken("malformed", "The token's header has no string 'alg'.")
    kid = header.get("kid")
    # RFC 7515 §4.1.4, §4.1.9: when present these are strings; null is not "absent".
    if "kid" in header and not isinstance(kid, str):
        raise InvalidToken("malformed", "The token's header 'kid' is not a string.")
    typ = header.get("typ")
    if "typ" in header and not isinstance(typ, str):
        raise InvalidToken("malformed", "The token's header 'typ' is not a string.")
    cty = header.get("cty")
    if isinstance(cty, str) and cty.upper() == "JWT":
        raise InvalidToken("unsupported_header", "Nested JWTs are not accepted.")
    return Header(alg, kid, typ)
