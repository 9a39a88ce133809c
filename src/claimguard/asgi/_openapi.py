"""What a protected operation requires, written for OpenAPI: its 401 and 403 responses
(RFC 6750 §3 bodies) and a sentence naming the required claims and scopes.

OpenAPI puts role names into an operation's ``security`` (OpenAPI 3.1 §4.8.30), which
Swagger UI does not show for HTTP bearer schemes; the description and responses it does.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ._requirements import ClaimRequirement, PredicateRequirement, Requirement, ScopeRequirement
from ._stepup import StepUpRequirement

__all__ = ["ERROR_SCHEMA", "describe", "responses"]

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "BearerError",
    "description": "RFC 6750 §3 error: 'error' is the code, 'error_description' says why.",
    "properties": {
        "error": {"type": "string", "examples": ["invalid_token"]},
        "error_description": {"type": "string"},
    },
    "required": ["error", "error_description"],
}
# Refusals from the middleware and the decorators carry the object itself; FastAPI
# dependencies raise HTTPException, which puts it under "detail".
_EITHER_SHAPE: dict[str, Any] = {
    "anyOf": [
        ERROR_SCHEMA,
        {"type": "object", "properties": {"detail": ERROR_SCHEMA}, "required": ["detail"]},
    ]
}


def _value(value: object) -> str:
    return f"`{json.dumps(value)}`"


def _sentence(requirement: Requirement) -> str:
    if isinstance(requirement, ClaimRequirement):
        name = f"`{requirement.name}`"
        if requirement.scopes == (f"claim:{requirement.name}",):
            return f"the claim {name} must be true"
        if isinstance(requirement.includes, str | int | float | bool):
            return f"the claim {name} must include {_value(requirement.includes)}"
        return f"the claim {name} must equal {_value(requirement.equals)}"
    if isinstance(requirement, ScopeRequirement):
        words = ", ".join(f"`{scope}`" for scope in requirement.scopes)
        noun = "scope" if len(requirement.scopes) == 1 else "scopes"
        return f"it must grant the {noun} {words}"
    if isinstance(requirement, PredicateRequirement):
        text = requirement.description.rstrip(".")
        if requirement.scopes:
            text += " (" + ", ".join(f"`{scope}`" for scope in requirement.scopes) + ")"
        return text
    if isinstance(requirement, StepUpRequirement):
        return _step_up_sentence(requirement)
    return repr(requirement)


def _step_up_sentence(requirement: StepUpRequirement) -> str:
    parts = []
    if requirement.acr_values:
        parts.append("its `acr` must be " + " or ".join(map(_value, requirement.acr_values)))
    if requirement.max_age is not None:
        parts.append(f"its `auth_time` at most {requirement.max_age} seconds old")
    if requirement.amr:
        parts.append("its `amr` must list " + ", ".join(map(_value, requirement.amr)))
    return "the login: " + "; ".join(parts) + " (RFC 9470)"


def describe(requirements: Sequence[Requirement]) -> str:
    """The description suffix: a bearer token, and each requirement in words."""
    if not requirements:
        return "**Authorization:** a valid bearer token (JWT)."
    items = "\n".join(f"- {_sentence(requirement)}" for requirement in requirements)
    return f"**Authorization:** a valid bearer token (JWT) where\n{items}"


def responses(requirements: Sequence[Requirement]) -> dict[str, Any]:
    """The 401 response, and the 403 one when there is something to lack."""
    documented: dict[str, Any] = {
        "401": {
            "description": (
                "No bearer token, or an invalid or expired one (RFC 6750 §3.1); "
                "the WWW-Authenticate header carries the challenge."
            ),
            "content": {"application/json": {"schema": _EITHER_SHAPE}},
        }
    }
    if any(isinstance(requirement, StepUpRequirement) for requirement in requirements):
        documented["401"]["description"] += (
            " Also for a login too weak or too old: error 'insufficient_user_authentication'"
            " with acr_values and/or max_age (RFC 9470 §3)."
        )
    if any(not isinstance(requirement, StepUpRequirement) for requirement in requirements):
        scopes = " ".join(scope for requirement in requirements for scope in requirement.scopes)
        documented["403"] = {
            "description": (
                "The token lacks a required claim or scope: error 'insufficient_scope'"
                + (f', scope="{scopes}"' if scopes else "")
                + " (RFC 6750 §3.1)."
            ),
            "content": {"application/json": {"schema": _EITHER_SHAPE}},
        }
    return documented
