"""FastAPI dependencies on verified claims that also put the bearer scheme into OpenAPI.

Mount :class:`~claimguard.ClaimGuardMiddleware` as usual (it verifies the token), then::

    from claimguard.fastapi import CurrentClaims, require_claim, require_scope, require_step_up

    @app.get("/premium")
    async def premium(claims: Claims = require_claim("premium")) -> dict[str, str]: ...

    @app.get("/messages", dependencies=[require_scope("read:messages")])
    async def messages(claims: CurrentClaims) -> list[str]: ...

    @app.post("/payouts", dependencies=[require_step_up(acr_values=[MFA], max_age=300)])
    async def payout(claims: CurrentClaims) -> dict[str, str]: ...

Every operation using one of these declares the ``bearerAuth`` HTTP bearer scheme (JWT),
so ``/docs`` shows the lock, and lists what it requires as the scheme's scopes (role
names, as OpenAPI 3.1 §4.8.30 allows for non-OAuth schemes). Leave ``/docs`` and
``/openapi.json`` reachable with ``public_paths=["/docs", "/openapi.json"]``.
:func:`document_claims` adds each protected operation's 401/403 responses and a
description naming its required claims and scopes in words.

Denials are ``HTTPException``\\ s with the RFC 6750 status and ``WWW-Authenticate``
challenge of the middleware (401 without an error code when anonymous, 403
``insufficient_scope`` with ``scope="…"``, 401 ``insufficient_user_authentication`` with
``acr_values="…"``/``max_age="…"`` for a step-up); FastAPI puts the refusal's body
(``{"error", "error_description"}``, plus ``acr_values``/``max_age`` for a step-up) under
``detail``. On WebSocket routes a denial closes the socket with 1008.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Security, WebSocketException
from fastapi.dependencies.models import Dependant
from fastapi.openapi.models import HTTPBearer as HTTPBearerModel
from fastapi.routing import APIRoute
from fastapi.security.base import SecurityBase
from starlette.requests import HTTPConnection
from starlette.websockets import WebSocket

from ._errors import InsufficientClaims, InsufficientUserAuthentication
from .asgi._challenge import Challenge, scheme_of
from .asgi._decisions import refusal_stands
from .asgi._decorators import REQUIREMENTS_ATTRIBUTE
from .asgi._openapi import describe as describe_requirements
from .asgi._openapi import responses as openapi_responses
from .asgi._requirements import (
    UNSET,
    ClaimRequirement,
    PredicateRequirement,
    Requirement,
    Scalar,
    ScopeRequirement,
)
from .asgi._stepup import StepUpRequirement
from .asgi._user import challenger_of, claims_of, token_time_of
from .verification._claims import Claims

__all__ = [
    "ClaimGuardBearer",
    "CurrentClaims",
    "bearer_scheme",
    "current_claims",
    "document_claims",
    "optional_claims",
    "require_check",
    "require_claim",
    "require_scope",
    "require_step_up",
]

_POLICY_VIOLATION = 1008


class ClaimGuardBearer(SecurityBase):
    """The HTTP bearer (JWT) security scheme; as a dependency it gives the request's
    verified :class:`~claimguard.Claims`, or ``None`` for an anonymous request.

    The token itself is verified by the middleware, never here.
    """

    def __init__(self, *, scheme_name: str = "bearerAuth", description: str | None = None) -> None:
        self.model = HTTPBearerModel(bearerFormat="JWT", description=description)
        self.scheme_name = scheme_name

    async def __call__(self, connection: HTTPConnection) -> Claims | None:
        return claims_of(connection.scope)


bearer_scheme = ClaimGuardBearer(
    description=(
        "An access token (JWT) from the issuer, verified by claimguard. The scopes an "
        "operation lists are the claims and scopes its token must carry."
    )
)


OptionalBearerClaims = Annotated[Claims | None, Security(bearer_scheme)]


async def optional_claims(claims: OptionalBearerClaims) -> Claims | None:
    """Dependency: the verified claims, or ``None`` when the request is anonymous."""
    return claims


async def current_claims(connection: HTTPConnection, claims: OptionalBearerClaims) -> Claims:
    """Dependency: the verified claims; an anonymous request is denied with 401.

    In the middleware's report-only mode an anonymous request gets empty claims instead.
    """
    if claims is None:
        answer = challenger_of(connection.scope).missing_token()
        if refusal_stands(connection.scope, answer):
            raise _denial(connection, answer)
        return Claims({})
    return claims


CurrentClaims = Annotated[Claims, Depends(current_claims)]
"""``claims: CurrentClaims`` in a path operation: the verified claims, 401 if anonymous."""


def require_claim(name: str, *, equals: Scalar = UNSET, includes: Scalar = UNSET) -> Any:
    """Dependency on the claim ``name``, with the rules of :func:`claimguard.requires_claim`.

    Use it as a parameter default (``claims: Claims = require_claim("premium")``), in
    ``Annotated[Claims, require_claim(...)]`` or in ``dependencies=[...]``.
    """
    return _dependency(ClaimRequirement(name, equals=equals, includes=includes))


def require_scope(*scopes: str) -> Any:
    """Dependency on every one of ``scopes``, as :func:`claimguard.requires_scope`."""
    return _dependency(ScopeRequirement(*scopes))


def require_check(
    predicate: Callable[[Claims], bool],
    *,
    description: str = "The token's claims do not allow this request.",
    scopes: tuple[str, ...] = (),
) -> Any:
    """Dependency on ``predicate(claims)``, as :func:`claimguard.claim_check`."""
    return _dependency(PredicateRequirement(predicate, description=description, scopes=scopes))


def require_step_up(
    *, acr_values: Sequence[str] = (), max_age: int | None = None, amr: Sequence[str] = ()
) -> Any:
    """Dependency on a strong and recent enough login, as :func:`claimguard.requires_step_up`:
    a refusal is 401 ``insufficient_user_authentication`` naming ``acr_values``/``max_age``
    (RFC 9470 §3)."""
    return _dependency(StepUpRequirement(acr_values=acr_values, max_age=max_age, amr=amr))


def _dependency(requirement: Requirement) -> Any:
    async def check(connection: HTTPConnection, claims: CurrentClaims) -> Claims:
        if not claims and claims_of(connection.scope) is None:
            return claims  # anonymous in report-only mode: already reported as a 401
        try:
            requirement.check(claims, token_time_of(connection.scope))
        except (InsufficientClaims, InsufficientUserAuthentication) as error:
            answer = challenger_of(connection.scope).for_error(error, scheme=scheme_of(claims))
            code = getattr(error, "cause", None)
            if refusal_stands(connection.scope, answer, code):
                raise _denial(connection, answer) from None
        return claims

    setattr(check, REQUIREMENTS_ATTRIBUTE, (requirement,))

    return Security(check, scopes=list(requirement.scopes))


def _denial(connection: HTTPConnection, answer: Challenge) -> Exception:
    if isinstance(connection, WebSocket):
        return WebSocketException(_POLICY_VIOLATION, answer.description[:120])
    return HTTPException(answer.status, detail=answer.fields, headers=dict(answer.headers))


def document_claims(app: FastAPI) -> None:
    """Make ``app.openapi()`` document what each protected operation requires.

    Every operation that uses :func:`current_claims`, :data:`CurrentClaims`,
    :func:`require_claim`, :func:`require_scope`, :func:`require_check`,
    :func:`require_step_up` or a claimguard
    endpoint decorator gets its 401 (and, when it requires claims or scopes, 403) response
    with the RFC 6750 body, and a description paragraph naming the required claims and
    scopes in words. Call it once, before the schema is first served.
    """
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            for route in app.routes:
                if isinstance(route, APIRoute):
                    _document(schema, route)
        return app.openapi_schema or generate()

    app.openapi = openapi  # type: ignore[method-assign]


def _document(schema: dict[str, Any], route: APIRoute) -> None:
    found = _requirements(route.dependant, set())
    requirements = [*found[1], *getattr(route.endpoint, REQUIREMENTS_ATTRIBUTE, ())]
    if not found[0] and not requirements:
        return
    for method in route.methods or ():
        operation = schema.get("paths", {}).get(route.path_format, {}).get(method.lower())
        if operation is None:
            continue
        for status, response in openapi_responses(requirements).items():
            operation.setdefault("responses", {}).setdefault(status, response)
        suffix = describe_requirements(requirements)
        description = operation.get("description")
        operation["description"] = f"{description}\n\n{suffix}" if description else suffix
        if "security" not in operation:
            # A decorated endpoint declares no dependency FastAPI could read the bearer
            # scheme from: declare it here, so /docs shows the lock and sends the token.
            scopes = list(dict.fromkeys(s for r in requirements for s in r.scopes))
            operation["security"] = [{bearer_scheme.scheme_name: scopes}]
            schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
            schemes.setdefault(
                bearer_scheme.scheme_name,
                bearer_scheme.model.model_dump(mode="json", by_alias=True, exclude_none=True),
            )


def _requirements(dependant: Dependant, seen: set[int]) -> tuple[bool, list[Requirement]]:
    """Whether ``dependant`` needs a verified token, and what it requires of it."""
    needs_token = False
    found: list[Requirement] = []
    for dependency in dependant.dependencies:
        call = dependency.call
        if id(dependency) in seen:
            continue
        seen.add(id(dependency))
        if call is current_claims:
            needs_token = True
        requirements = getattr(call, REQUIREMENTS_ATTRIBUTE, ())
        found.extend(r for r in requirements if r not in found)
        inner_token, inner = _requirements(dependency, seen)
        needs_token = needs_token or inner_token or bool(requirements)
        found.extend(r for r in inner if r not in found)
    return needs_token, found
