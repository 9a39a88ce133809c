"""Other Python JWT libraries, each set up the way a careful user would: the key object
built once, the algorithm pinned, and ``iss``, ``aud`` and ``exp`` all validated."""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from typing import Any

from _tokens import AUDIENCE, ISSUER, SigningKey, b64url_decode

__all__ = ["PEERS", "peer_verifier"]

PEERS = ("PyJWT", "joserfc", "authlib", "python-jose")

Verify = Callable[[], Any]
"""Verify the prepared token and return its claims; raise if it does not verify."""


def _pyjwt(key: SigningKey, token: str) -> Verify:
    import jwt

    public, algorithms = key.public, [key.alg]

    def verify() -> Any:
        return jwt.decode(token, public, algorithms=algorithms, audience=AUDIENCE, issuer=ISSUER)

    return verify


def _joserfc(key: SigningKey, token: str) -> Verify:
    from joserfc import jwt
    from joserfc.jwk import ECKey, OKPKey, RSAKey
    from joserfc.jwt import JWTClaimsRegistry

    # joserfc warns on every use of "EdDSA" (deprecated by RFC 9864); its users verify the
    # fully-specified "Ed25519" instead, so it gets the same token and key under that name.
    alg = "Ed25519" if key.alg == "EdDSA" else key.alg
    if alg != key.alg:
        token = key.mint(_claims_of(token), header_alg=alg)
    key_type = {"RS256": RSAKey, "ES256": ECKey, "EdDSA": OKPKey}[key.alg]
    public = key_type.import_key({**key.public_jwk, "alg": alg})
    algorithms = [alg]
    registry = JWTClaimsRegistry(
        iss={"essential": True, "value": ISSUER},
        aud={"essential": True, "value": AUDIENCE},
        exp={"essential": True},
    )

    def verify() -> Any:
        decoded = jwt.decode(token, public, algorithms=algorithms)
        registry.validate(decoded.claims)
        return decoded.claims

    return verify


def _authlib(key: SigningKey, token: str) -> Verify:
    from authlib.deprecate import AuthlibDeprecationWarning

    with warnings.catch_warnings():
        # authlib.jose announces its own deprecation (in favour of joserfc) on import.
        warnings.filterwarnings("ignore", category=AuthlibDeprecationWarning)
        from authlib.jose import JsonWebKey, JsonWebToken

    public = JsonWebKey.import_key(key.public_jwk)
    decoder = JsonWebToken([key.alg])
    options = {
        "iss": {"essential": True, "value": ISSUER},
        "aud": {"essential": True, "value": AUDIENCE},
        "exp": {"essential": True},
    }

    def verify() -> Any:
        claims = decoder.decode(token, public, claims_options=options)
        claims.validate()
        return claims

    return verify


def _python_jose(key: SigningKey, token: str) -> Verify | None:
    if key.alg == "EdDSA":
        return None  # python-jose has no EdDSA
    from jose import jwk, jwt

    public = jwk.construct(key.public_jwk, key.alg)
    algorithms = [key.alg]

    def verify() -> Any:
        return jwt.decode(token, public, algorithms=algorithms, audience=AUDIENCE, issuer=ISSUER)

    return verify


def _claims_of(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = json.loads(b64url_decode(token.split(".")[1]))
    return claims


_BUILDERS: dict[str, Callable[[SigningKey, str], Verify | None]] = {
    "PyJWT": _pyjwt,
    "joserfc": _joserfc,
    "authlib": _authlib,
    "python-jose": _python_jose,
}


def peer_verifier(peer: str, key: SigningKey, token: str) -> Verify | None:
    """A prepared verification of ``token`` by ``peer``, or ``None`` if it cannot do ``key.alg``.

    The callable is run once here, so a library that would refuse the token fails now,
    not in the middle of a measurement.
    """
    verify = _BUILDERS[peer](key, token)
    if verify is not None:
        claims = verify()
        if claims["sub"] != _claims_of(token)["sub"]:
            raise AssertionError(f"{peer} returned the wrong claims for {key.alg}")
    return verify
