"""``claimguard.fastapi.document_claims``: 401/403 responses and requirement descriptions."""

from __future__ import annotations

from typing import Annotated, Any

import pytest
from fastapi import Depends, FastAPI, Request

from claimguard import Claims, requires_claim, requires_scope
from claimguard.fastapi import (
    CurrentClaims,
    current_claims,
    document_claims,
    optional_claims,
    require_check,
    require_claim,
    require_scope,
)


def is_gold(claims: Claims) -> bool:
    return claims.custom.get("tier") == "gold"


def build_api() -> FastAPI:
    api = FastAPI()

    @api.get("/premium", description="Premium content.")
    async def premium(claims: Annotated[Claims, require_claim("premium")]) -> dict[str, Any]:
        return {}

    @api.get("/admin", dependencies=[require_claim("roles", includes="admin")])
    async def admin() -> dict[str, str]:
        return {}

    @api.get("/tier", dependencies=[require_claim("tier", equals="gold")])
    async def tier() -> dict[str, str]:
        return {}

    @api.get("/messages", dependencies=[require_scope("read:messages", "write:messages")])
    def messages(claims: CurrentClaims) -> dict[str, Any]:
        return {}

    @api.get("/gold")
    async def gold(
        claims: Annotated[
            Claims, require_check(is_gold, description="Gold tier only.", scopes=("tier:gold",))
        ],
    ) -> dict[str, str]:
        return {}

    @api.get("/me")
    async def me(claims: Annotated[Claims, Depends(current_claims)]) -> dict[str, Any]:
        return {}

    @api.get("/maybe")
    async def maybe(claims: Annotated[Claims | None, Depends(optional_claims)]) -> dict[str, Any]:
        return {}

    @api.get("/decorated")
    @requires_scope("read:reports")
    @requires_claim("premium")
    async def decorated(request: Request) -> dict[str, str]:
        return {}

    @api.get("/open")
    async def open_route() -> dict[str, str]:
        return {}

    document_claims(api)
    return api


@pytest.fixture(scope="module")
def paths() -> dict[str, Any]:
    return build_api().openapi()["paths"]


def test_claim_dependency_documents_401_403_and_names_the_claim(paths: dict[str, Any]) -> None:
    operation = paths["/premium"]["get"]
    assert set(operation["responses"]) >= {"200", "401", "403"}
    assert operation["description"].startswith("Premium content.\n\n**Authorization:**")
    assert "the claim `premium` must be true" in operation["description"]
    assert 'scope="claim:premium"' in operation["responses"]["403"]["description"]
    schema = operation["responses"]["403"]["content"]["application/json"]["schema"]
    body = schema["anyOf"][0]
    assert body["required"] == ["error", "error_description"]
    assert schema["anyOf"][1]["properties"]["detail"] == body


@pytest.mark.parametrize(
    ("path", "words"),
    [
        ("/admin", 'the claim `roles` must include `"admin"`'),
        ("/tier", 'the claim `tier` must equal `"gold"`'),
        ("/messages", "it must grant the scopes `read:messages`, `write:messages`"),
        ("/gold", "Gold tier only (`tier:gold`)"),
    ],
)
def test_requirements_are_named_in_words(paths: dict[str, Any], path: str, words: str) -> None:
    operation = paths[path]["get"]
    assert words in operation["description"]
    assert {"401", "403"} <= set(operation["responses"])


def test_current_claims_documents_only_401(paths: dict[str, Any]) -> None:
    operation = paths["/me"]["get"]
    assert "401" in operation["responses"]
    assert "403" not in operation["responses"]
    assert operation["description"] == "**Authorization:** a valid bearer token (JWT)."


def test_decorators_on_path_operations_are_documented(paths: dict[str, Any]) -> None:
    operation = paths["/decorated"]["get"]
    assert {"401", "403"} <= set(operation["responses"])
    assert "the claim `premium` must be true" in operation["description"]
    assert "it must grant the scope `read:reports`" in operation["description"]
    # The lock in /docs, so "Try it out" sends the token.
    assert operation["security"] == [{"bearerAuth": ["claim:premium", "read:reports"]}]


def test_unprotected_operations_are_left_alone(paths: dict[str, Any]) -> None:
    for path in ("/open", "/maybe"):
        operation = paths[path]["get"]
        assert "401" not in operation["responses"]
        assert "description" not in operation


def test_without_document_claims_nothing_is_added() -> None:
    api = FastAPI()

    @api.get("/premium", dependencies=[require_claim("premium")])
    async def premium() -> dict[str, str]:
        return {}

    operation = api.openapi()["paths"]["/premium"]["get"]
    assert "401" not in operation["responses"]


def test_an_app_with_only_decorated_operations_declares_the_bearer_scheme() -> None:
    api = FastAPI()

    @api.get("/decorated")
    @requires_claim("premium")
    async def decorated(request: Request) -> dict[str, str]:
        return {}

    document_claims(api)
    schema = api.openapi()
    scheme = schema["components"]["securitySchemes"]["bearerAuth"]
    assert (scheme["type"], scheme["scheme"], scheme["bearerFormat"]) == ("http", "bearer", "JWT")
    assert schema["paths"]["/decorated"]["get"]["security"] == [{"bearerAuth": ["claim:premium"]}]
