"""``requires_claim``, ``requires_scope``, ``claim_check`` and ``requires_step_up``: endpoint
guards.

One decorator fits every endpoint shape: Starlette function endpoints (sync or async,
``request`` first), ``HTTPEndpoint`` methods (``self, request``), WebSocket endpoints
(``websocket``) and FastAPI path operations, where it must sit *below* the route
decorator. The guard finds the ``Request``/``WebSocket`` among the arguments. The
endpoint's signature is kept (``functools.wraps``); when a FastAPI operation declares no
``Request``/``WebSocket``/``HTTPConnection`` parameter, a keyword-only one is added to
the signature FastAPI reads and removed again before the endpoint is called.

A denied HTTP request is answered, not raised: 401 (no error code) when the request is
anonymous, else 403 ``insufficient_scope`` with ``scope="…"`` naming what is missing; the
body is ``{"error", "error_description"}`` JSON. A login too weak or too old for
``requires_step_up`` gets 401 ``insufficient_user_authentication`` naming ``acr_values``
and/or ``max_age`` (RFC 9470 §3). A denied WebSocket is closed with 1008 (a 401 is refused
with 403 carrying the 401 challenge where the server supports the denial-response
extension).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from typing import Any, ParamSpec, Protocol, TypeVar, cast

from starlette.requests import HTTPConnection
from starlette.responses import Response
from starlette.websockets import WebSocket

from .._errors import ConfigurationError, InsufficientClaims, InsufficientUserAuthentication
from ..verification._claims import Claims
from ._challenge import Challenge, scheme_of
from ._decisions import refusal_stands
from ._requirements import (
    UNSET,
    ClaimRequirement,
    PredicateRequirement,
    Requirement,
    Scalar,
    ScopeRequirement,
)
from ._stepup import StepUpRequirement
from ._user import challenger_of, claims_of, token_time_of
from ._websocket import refuse_websocket

__all__ = ["claim_check", "requires_claim", "requires_scope", "requires_step_up"]

P = ParamSpec("P")
R = TypeVar("R")


class Guard(Protocol):
    """A decorator that keeps the decorated endpoint's signature."""

    def __call__(self, func: Callable[P, R], /) -> Callable[P, R]: ...


_CONNECTION_PARAM = "claimguard_connection"
REQUIREMENTS_ATTRIBUTE = "__claimguard_requirements__"
_POLICY_VIOLATION = 1008


def requires_claim(name: str, *, equals: Scalar = UNSET, includes: Scalar = UNSET) -> Guard:
    """Let a request in only if its token has the claim ``name``.

    ``name`` is a short name under the configured namespaces (``"premium"`` for
    ``https://myapp.example.com/premium``) or a full namespaced name; a plain claim name
    counts only when no namespace is configured or the verifier has
    ``fallback_to_plain_claims=True``. Without options the claim must be JSON ``true``;
    ``equals=`` requires an exact value, ``includes=`` an item of a list claim. The claim is
    read from the token's claims, never from its ``scope`` words. The denial names the
    scope ``claim:name``, ``claim:name:value`` or ``claim:name:item``.
    """
    return guard(ClaimRequirement(name, equals=equals, includes=includes))


def requires_scope(*scopes: str) -> Guard:
    """Let a request in only if it has every one of ``scopes`` (``request.auth.scopes``)."""
    return guard(ScopeRequirement(*scopes))


def claim_check(
    predicate: Callable[[Claims], bool],
    *,
    description: str = "The token's claims do not allow this request.",
    scopes: tuple[str, ...] = (),
) -> Guard:
    """Let a request in only if ``predicate(claims)`` returns ``True``.

    ``description`` becomes the denial's ``error_description``; ``scopes``, if given, are
    named in its ``scope="…"``.
    """
    return guard(PredicateRequirement(predicate, description=description, scopes=scopes))


def requires_step_up(
    *, acr_values: Sequence[str] = (), max_age: int | None = None, amr: Sequence[str] = ()
) -> Guard:
    """Let a request in only if its user logged in strongly enough and recently enough.

    ``acr_values``: the token's ``acr`` must be one of them (in order of preference).
    ``max_age``: its ``auth_time`` must be at most this many seconds old, on the verifier's
    clock and with its leeway. ``amr``: its ``amr`` must list every one of these methods.
    Otherwise the answer is 401 ``insufficient_user_authentication`` with ``acr_values="…"``
    and/or ``max_age="…"`` in the challenge and the body (RFC 9470 §3), telling the client
    what to ask the authorization server for. Invalid options raise
    :class:`ConfigurationError` when the decorator is built.
    """
    return guard(StepUpRequirement(acr_values=acr_values, max_age=max_age, amr=amr))


def guard(requirement: Requirement) -> Guard:
    """The decorator that enforces ``requirement``; the public decorators are built on it."""

    def decorate(func: Callable[P, R]) -> Callable[P, R]:
        if not callable(func):
            raise ConfigurationError(f"{requirement!r} can only decorate a function")
        signature = _signature_with_connection(func)
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def async_guarded(*args: Any, **kwargs: Any) -> Any:
                connection = _find_connection(func, args, kwargs)
                answer = _denial(requirement, connection)
                if answer is None:
                    return await func(*args, **kwargs)
                if isinstance(connection, WebSocket):
                    await _refuse(connection, answer)
                    return None
                return _response(answer)

            guarded: Callable[..., Any] = async_guarded
        else:

            @functools.wraps(func)
            def sync_guarded(*args: Any, **kwargs: Any) -> Any:
                connection = _find_connection(func, args, kwargs)
                if isinstance(connection, WebSocket):
                    raise ConfigurationError(
                        f"{func.__qualname__} is a WebSocket endpoint; it must be async"
                    )
                answer = _denial(requirement, connection)
                if answer is None:
                    return func(*args, **kwargs)
                return _response(answer)

            guarded = sync_guarded
        if signature is not None:
            guarded.__signature__ = signature  # type: ignore[attr-defined]
        # Read by claimguard.fastapi to document the operation in OpenAPI.
        requirements = (*getattr(func, REQUIREMENTS_ATTRIBUTE, ()), requirement)
        setattr(guarded, REQUIREMENTS_ATTRIBUTE, requirements)
        return cast(Callable[P, R], guarded)

    return decorate


def _denial(requirement: Requirement, connection: HTTPConnection) -> Challenge | None:
    answer, code = _answer(requirement, connection)
    if answer is None or not refusal_stands(connection.scope, answer, code):
        return None
    return answer


def _answer(
    requirement: Requirement, connection: HTTPConnection
) -> tuple[Challenge | None, str | None]:
    claims = claims_of(connection.scope)
    challenger = challenger_of(connection.scope)
    if claims is None:
        return challenger.missing_token(), None
    try:
        requirement.check(claims, token_time_of(connection.scope))
    except InsufficientClaims as error:
        return challenger.for_error(error, scheme=scheme_of(claims)), None
    except InsufficientUserAuthentication as error:
        return challenger.for_error(error, scheme=scheme_of(claims)), error.cause
    return None, None


def _response(answer: Challenge) -> Response:
    return Response(
        answer.body,
        status_code=answer.status,
        headers=dict(answer.headers),
        media_type="application/json",
    )


async def _refuse(websocket: WebSocket, answer: Challenge) -> None:
    if answer.status == 401:
        await refuse_websocket(websocket.scope, websocket.receive, websocket.send, answer)
    else:
        await websocket.close(_POLICY_VIOLATION, answer.description[:120])


def _find_connection(
    func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> HTTPConnection:
    injected = kwargs.pop(_CONNECTION_PARAM, None)
    if isinstance(injected, HTTPConnection):
        return injected
    for value in (*args, *kwargs.values()):
        if isinstance(value, HTTPConnection):
            return value
    raise ConfigurationError(
        f"{func.__qualname__} was called without a Request or WebSocket argument; "
        "a claim guard must sit directly on the endpoint, below the route decorator"
    )


def _signature_with_connection(func: Callable[..., Any]) -> inspect.Signature | None:
    """``func``'s signature plus a keyword-only ``HTTPConnection`` parameter, or ``None``
    when ``func`` already declares one (FastAPI then hands it the request)."""
    try:
        signature = inspect.signature(func, eval_str=True)
    except NameError:
        signature = inspect.signature(func)
    except (TypeError, ValueError):
        return None
    parameters = list(signature.parameters.values())
    if any(_is_connection_annotation(p.annotation) for p in parameters):
        return None
    if any(p.name == _CONNECTION_PARAM for p in parameters):
        return None
    extra = inspect.Parameter(
        _CONNECTION_PARAM, inspect.Parameter.KEYWORD_ONLY, annotation=HTTPConnection
    )
    if parameters and parameters[-1].kind is inspect.Parameter.VAR_KEYWORD:
        parameters.insert(len(parameters) - 1, extra)
    else:
        parameters.append(extra)
    return signature.replace(parameters=parameters)


def _is_connection_annotation(annotation: object) -> bool:
    if isinstance(annotation, str):
        return annotation.rsplit(".", 1)[-1] in ("Request", "WebSocket", "HTTPConnection")
    return isinstance(annotation, type) and issubclass(annotation, HTTPConnection)
