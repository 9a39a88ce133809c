"""OpenID Connect discovery: from the configured issuer to its ``jwks_uri``.

The document is at ``{issuer without trailing slash}/.well-known/openid-configuration``
(OpenID Connect Discovery §4) and its ``issuer`` must equal the configured one exactly
(§4.3), since tokens are checked against that same string. When the two differ only in a
way people often get wrong (a trailing slash, ``localhost`` for ``127.0.0.1``, the
scheme), the failure says so and names the value to configure.
"""

from __future__ import annotations

from urllib.parse import SplitResult, urlsplit

from ._fetch import FetchError, JSONFetcher, is_loopback, url_problem

__all__ = ["discover", "discovery_url", "issuer_mismatch"]

_SHOWN_CHARS = 200


def discovery_url(issuer: str) -> str:
    """Where ``issuer`` publishes its discovery document."""
    return issuer.rstrip("/") + "/.well-known/openid-configuration"


async def discover(fetcher: JSONFetcher, issuer: str) -> str:
    """Fetch ``issuer``'s discovery document and return its ``jwks_uri``.

    Raises :class:`FetchError` naming the precise problem.
    """
    url = discovery_url(issuer)
    document = await fetcher.get_json(url)
    named = document.get("issuer")
    if named != issuer:
        raise FetchError(issuer_mismatch(url, issuer, named))
    jwks_uri = document.get("jwks_uri")
    if not isinstance(jwks_uri, str):
        raise FetchError(f"discovery document at {url} has no 'jwks_uri'")
    problem = url_problem(jwks_uri)
    if problem is not None:
        raise FetchError(f"discovery document at {url} names a jwks_uri that {problem}")
    return jwks_uri


def issuer_mismatch(url: str, configured: str, named: object) -> str:
    """The message for a discovery document at ``url`` naming ``named``, not ``configured``."""
    if not isinstance(named, str):
        return f"discovery at {url} names no issuer (its 'issuer' is not a string)"
    message = (
        f"discovery at {url} names another issuer: {_shown(named)}, configured {_shown(configured)}"
    )
    hints = _differences(configured, named)
    if not hints:
        return message
    fix = f"configure issuer={named!r}" if url_problem(named) is None else "fix the issuer URL"
    return f"{message} — {'; '.join(hints)}: tokens carry the issuer's own spelling, so {fix}"


def _shown(text: str) -> str:
    # The document is remote input: keep what it names short in logs and messages.
    return repr(text if len(text) <= _SHOWN_CHARS else text[:_SHOWN_CHARS] + "…")


def _differences(configured: str, named: str) -> list[str]:
    """The harmless-looking differences between two issuer URLs, or ``[]`` when they differ
    in anything else too."""
    try:
        ours, theirs = urlsplit(configured), urlsplit(named)
        ours_port, theirs_port = _port(ours), _port(theirs)
    except ValueError:
        return []
    if (ours.path.rstrip("/"), ours.query, ours.fragment, ours.username, ours.password) != (
        theirs.path.rstrip("/"),
        theirs.query,
        theirs.fragment,
        theirs.username,
        theirs.password,
    ):
        return []
    hints: list[str] = []
    if ours.scheme != theirs.scheme:
        if ours.port != theirs.port:
            return []
        hints.append(f"the scheme differs ({theirs.scheme}, configured {ours.scheme})")
    elif ours_port != theirs_port:
        return []
    ours_host, theirs_host = ours.hostname or "", theirs.hostname or ""
    if ours_host != theirs_host:
        if not (is_loopback(ours_host) and is_loopback(theirs_host)):
            return []
        hints.append(
            f"{theirs_host!r} and {ours_host!r} are the same machine but different issuers"
        )
    if ours.path != theirs.path:
        hints.append("check the trailing slash")
    return hints


def _port(parts: SplitResult) -> int | None:
    return parts.port or {"http": 80, "https": 443}.get(parts.scheme)
