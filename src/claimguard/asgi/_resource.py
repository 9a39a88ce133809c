"""``ProtectedResource``: the RFC 9728 metadata a resource server publishes about itself.

A client that gets a 401 follows the challenge's ``resource_metadata="…"`` (RFC 9728 §5.1) to
this document and learns which authorization servers issue tokens for the resource, which
scopes it knows and how to present a token. The resource identifier is also the audience
the tokens must carry (RFC 8707 §2), compared as an exact string.

The document is served at two paths (RFC 9728 §3.1): the well-known path with the resource's
path appended (``/.well-known/oauth-protected-resource/mcp`` for ``https://host/mcp``), which
the challenges name, and the bare well-known path, where clients look when they have no
challenge to follow.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from .._errors import ConfigurationError
from ..jose._fetch import url_problem
from ..verification._dpopproof import DPOP_ALGORITHMS
from ._challenge import is_scope_token

if TYPE_CHECKING:
    from starlette.types import Scope, Send

__all__ = ["WELL_KNOWN_PATH", "ProtectedResource", "send_resource_metadata"]

WELL_KNOWN_PATH = "/.well-known/oauth-protected-resource"


def _check_url(value: object, name: str, *, allow_query: bool = True) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigurationError(f"{name} must be a non-empty URL string")
    problem = url_problem(value)
    if problem is not None:
        raise ConfigurationError(f"{name}: {problem}")
    parts = urlsplit(value)
    # RFC 9728 §1.2: a resource identifier has no fragment (and SHOULD have no query).
    if parts.fragment or "#" in value or (not allow_query and parts.query):
        raise ConfigurationError(f"{name} {value!r} must not have a fragment or query")
    if any(c in value for c in ' "\\<>') or any(ord(c) < 0x21 or ord(c) > 0x7E for c in value):
        raise ConfigurationError(f"{name} {value!r} must be printable ASCII without spaces")
    return value


class ProtectedResource:
    """RFC 9728 protected-resource metadata for one resource, configured once.

    - ``resource``: the resource identifier, an absolute ``https`` URL (``http`` on loopback
      hosts) without query or fragment, for example ``https://api.example.com/mcp``. Tokens
      must name it in ``aud``, exactly.
    - ``authorization_servers``: issuer identifiers of the servers that issue tokens for it,
      at least one, each as the issuer writes it (RFC 8414 §2).
    - ``scopes_supported``: the scopes the resource understands (may be empty).
    - ``documentation``: optional URL of human-readable documentation
      (``resource_documentation``).
    - ``resource_name``: optional human-readable name.
    - ``acr_values_supported``: the authentication context classes (``acr``) its step-up
      requirements ask for, published so clients can learn them before a refusal (RFC 9470;
      an extension member, as RFC 9728 §2 allows). Empty: not published.
    - ``dpop``: the verifier's DPoP mode; ``None`` (default) takes it from the verifier
      when the middleware mounts the resource (:meth:`with_dpop`). Unless ``"disabled"``
      the document names ``dpop_signing_alg_values_supported`` and
      ``dpop_bound_access_tokens_required`` (true for ``"required"``), RFC 9728 §2.

    :class:`~claimguard.ClaimGuardMiddleware` given ``protected_resource=`` serves
    :meth:`document` at :attr:`metadata_paths` without a token and names
    :attr:`metadata_url` in every challenge.
    """

    __slots__ = (
        "_body",
        "acr_values_supported",
        "authorization_servers",
        "documentation",
        "dpop",
        "metadata_paths",
        "metadata_url",
        "resource",
        "resource_name",
        "scopes_supported",
    )

    def __init__(
        self,
        *,
        resource: str,
        authorization_servers: Sequence[str],
        scopes_supported: Sequence[str] = (),
        documentation: str | None = None,
        resource_name: str | None = None,
        acr_values_supported: Sequence[str] = (),
        dpop: str | None = None,
    ) -> None:
        if dpop not in (None, "allowed", "required", "disabled"):
            raise ConfigurationError("dpop must be None, 'allowed', 'required' or 'disabled'")
        self.dpop = dpop
        self.resource = _check_url(resource, "resource", allow_query=False)
        if isinstance(authorization_servers, str) or not authorization_servers:
            raise ConfigurationError(
                "authorization_servers must be a non-empty sequence of issuer URLs"
            )
        self.authorization_servers = tuple(
            _check_url(server, "authorization_servers item", allow_query=False)
            for server in authorization_servers
        )
        if isinstance(scopes_supported, str):
            raise ConfigurationError(
                "scopes_supported must be a sequence of scopes, not one string"
            )
        for scope in scopes_supported:
            if not isinstance(scope, str) or not is_scope_token(scope):
                raise ConfigurationError(
                    f"scope {scope!r} must be a non-empty string without spaces"
                )
        self.scopes_supported = tuple(dict.fromkeys(scopes_supported))
        self.documentation = (
            None if documentation is None else _check_url(documentation, "documentation")
        )
        if resource_name is not None and (not isinstance(resource_name, str) or not resource_name):
            raise ConfigurationError("resource_name must be a non-empty string")
        self.resource_name = resource_name
        if isinstance(acr_values_supported, str):
            raise ConfigurationError(
                "acr_values_supported must be a sequence of acr values, not one string"
            )
        for acr in acr_values_supported:
            if not isinstance(acr, str) or not is_scope_token(acr):
                raise ConfigurationError(
                    f"acr value {acr!r} must be a non-empty string of printable ASCII "
                    "without spaces, double quotes or backslashes"
                )
        self.acr_values_supported = tuple(dict.fromkeys(acr_values_supported))

        parts = urlsplit(self.resource)
        path = parts.path.rstrip("/")
        suffixed = WELL_KNOWN_PATH + path
        self.metadata_url = urlunsplit((parts.scheme, parts.netloc, suffixed, "", ""))
        self.metadata_paths = frozenset({suffixed, WELL_KNOWN_PATH})
        self._body = json.dumps(self.document(), separators=(",", ":")).encode()

    def __repr__(self) -> str:
        return f"ProtectedResource(resource={self.resource!r})"

    def with_dpop(self, dpop: str) -> ProtectedResource:
        """This resource with the DPoP mode ``dpop`` (a copy; this one is unchanged)."""
        return ProtectedResource(
            resource=self.resource,
            authorization_servers=self.authorization_servers,
            scopes_supported=self.scopes_supported,
            documentation=self.documentation,
            resource_name=self.resource_name,
            acr_values_supported=self.acr_values_supported,
            dpop=dpop,
        )

    def document(self) -> dict[str, Any]:
        """The metadata document (RFC 9728 §2) as a JSON object."""
        document: dict[str, Any] = {
            "resource": self.resource,
            "authorization_servers": list(self.authorization_servers),
            "bearer_methods_supported": ["header"],
        }
        if self.scopes_supported:
            document["scopes_supported"] = list(self.scopes_supported)
        if self.documentation is not None:
            document["resource_documentation"] = self.documentation
        if self.resource_name is not None:
            document["resource_name"] = self.resource_name
        if self.acr_values_supported:
            document["acr_values_supported"] = list(self.acr_values_supported)
        if self.dpop in ("allowed", "required"):
            document["dpop_signing_alg_values_supported"] = list(DPOP_ALGORITHMS)
            document["dpop_bound_access_tokens_required"] = self.dpop == "required"
        return document

    @property
    def body(self) -> bytes:
        """:meth:`document` as compact JSON, built once."""
        return self._body


_METADATA_METHODS = "GET, HEAD, OPTIONS"


async def send_resource_metadata(scope: Scope, send: Send, resource: ProtectedResource) -> None:
    """Answer a request for the RFC 9728 metadata document (public, readable cross-origin)."""
    method = scope.get("method", "GET")
    cors = [(b"access-control-allow-origin", b"*")]
    if method in ("GET", "HEAD"):
        body = resource.body
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode("ascii")),
            (b"cache-control", b"public, max-age=3600"),
            *cors,
        ]
        status = 200
    else:
        body = b""
        headers = [(b"allow", _METADATA_METHODS.encode("ascii")), *cors]
        if method == "OPTIONS":
            headers.append((b"access-control-allow-methods", _METADATA_METHODS.encode("ascii")))
            headers.append((b"access-control-allow-headers", b"mcp-protocol-version"))
            status = 204
        else:
            status = 405
        headers.append((b"content-length", b"0"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if method == "HEAD" else body})
