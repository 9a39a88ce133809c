"""``examples/starlette_app.py`` behind real uvicorn, with the example issuer plus the roles
action from ``examples/actions/roles.py``."""

from __future__ import annotations

import httpx
import pytest
from examples.starlette_app import create_app

from issuer import IssuerServer

from .conftest import EXAMPLES, Serve, bearer

pytestmark = pytest.mark.anyio


async def test_every_route_answers_per_its_guard(
    example_issuer: IssuerServer, serve: Serve
) -> None:
    issuer = example_issuer.issuer
    issuer.add_action(EXAMPLES / "actions" / "roles.py")
    issuer.add_user("carol@example.com", password="carol-password", roles=["admin"])
    alice = await issuer.login("alice@example.com", scope="openid read:messages")
    carol = await issuer.login("carol@example.com")
    with serve(create_app(issuer_url=example_issuer.url)) as url:
        async with httpx.AsyncClient(base_url=url) as client:

            async def status(path: str, token: str | None) -> int:
                headers = bearer(token) if token else {}
                return (await client.get(path, headers=headers)).status_code

            me = await client.get("/me", headers=bearer(carol.access_token))
            answers = {
                (who, path): await status(path, token)
                for who, token in (
                    ("anon", None),
                    ("alice", alice.access_token),
                    ("carol", carol.access_token),
                )
                for path in ("/public", "/premium", "/messages", "/admin")
            }
    assert me.json()["sub"].startswith("auth0|")
    assert "claim:roles:admin" in me.json()["scopes"]
    assert answers == {
        ("anon", "/public"): 200, ("anon", "/premium"): 401,
        ("anon", "/messages"): 401, ("anon", "/admin"): 401,
        ("alice", "/public"): 200, ("alice", "/premium"): 200,
        ("alice", "/messages"): 200, ("alice", "/admin"): 403,
        ("carol", "/public"): 200, ("carol", "/premium"): 403,
        ("carol", "/messages"): 403, ("carol", "/admin"): 200,
    }  # fmt: skip
