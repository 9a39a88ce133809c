"""Helpers for driving the issuer like a client would, with plain httpx: the login page as a
browser fills it in, and the password grant."""

import re
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx

_FORM_ACTION = re.compile(r'<form method="post" action="([^"]+)"')
_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"')


async def submit_login(
    client: httpx.AsyncClient, authorize_url: str, email: str, password: str
) -> httpx.Response:
    """Open the authorize URL, fill in the form, post it; return the response to the post."""
    page = await client.get(authorize_url)
    assert page.status_code == 200, page.text
    action = _FORM_ACTION.search(page.text)
    assert action is not None
    fields = dict(_HIDDEN.findall(page.text))
    fields.update(email=email, password=password)
    return await client.post(urljoin(str(page.url), action.group(1)), data=fields)


def redirect_params(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 303, response.text
    query = parse_qs(urlsplit(response.headers["location"]).query)
    return {name: values[0] for name, values in query.items()}


async def password_grant(
    client: httpx.AsyncClient,
    email: str,
    password: str,
    *,
    auth: tuple[str, str] | None = None,
    **params: Any,
) -> httpx.Response:
    """POST the password grant to the token endpoint; ``params`` are further form fields."""
    data = {"grant_type": "password", "username": email, "password": password, **params}
    return await client.post(
        "oauth/token", data=data, auth=httpx.USE_CLIENT_DEFAULT if auth is None else auth
    )
