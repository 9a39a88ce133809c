"""``/authorize`` and ``POST /login``: the login transaction is used once."""

import anyio
import httpx
import pytest

from issuer import Issuer

from ..flows import hidden_fields, redirect_params

pytestmark = pytest.mark.anyio

CALLBACK = "http://127.0.0.1:3000/callback"


async def test_a_login_form_posted_twice_at_once_logs_in_once(bare_issuer: Issuer) -> None:
    # A double click sends the form twice; the second must not meet a half-used transaction.
    query = {
        "client_id": "app",
        "response_type": "code",
        "redirect_uri": CALLBACK,
        "state": "xyz",
        "scope": "openid",
    }
    responses: list[httpx.Response] = []
    async with bare_issuer.http_client() as client:
        page = await client.get(f"authorize?{httpx.QueryParams(query)}")
        form = {**hidden_fields(page), "email": "alice@example.com", "password": "alice-pw"}

        async def post() -> None:
            responses.append(await client.post("login", data=form))

        async with anyio.create_task_group() as group:
            group.start_soon(post)
            group.start_soon(post)
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [303, 400]
    done = next(response for response in responses if response.status_code == 303)
    assert "code" in redirect_params(done)
    again = next(response for response in responses if response.status_code == 400)
    assert "Start the login again" in again.text
