"""Helpers for driving the issuer like a client would, with plain httpx: the login page as a
browser fills it in, the consent page as a user answers it, the password grant; and one
assertion for configuration errors."""

import re
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import pytest

from issuer import ConfigError, Issuer

SESSION_COOKIE = "issuer_session"
_FORM_ACTION = re.compile(r'<form method="post" action="([^"]+)"')
_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"')
_BUTTON = re.compile(r'<button type="submit" name="([^"]+)" value="([^"]*)"')


def hidden_fields(page: httpx.Response) -> dict[str, str]:
    """The hidden fields of the page's form."""
    return dict(_HIDDEN.findall(page.text))


async def _submit(
    client: httpx.AsyncClient, page: httpx.Response, fields: dict[str, str]
) -> httpx.Response:
    action = _FORM_ACTION.search(page.text)
    assert action is not None, page.text
    return await client.post(
        urljoin(str(page.url), action.group(1)), data={**hidden_fields(page), **fields}
    )


async def submit_login(
    client: httpx.AsyncClient, authorize_url: str, email: str, password: str
) -> httpx.Response:
    """Open the authorize URL, fill in the form, post it; return the response to the post.

    Each call is a password login: a session cookie from an earlier login is dropped first,
    as in a fresh browser (a live session would skip the form).
    """
    client.cookies.delete(SESSION_COOKIE)
    page = await client.get(authorize_url)
    assert page.status_code == 200, page.text
    return await _submit(client, page, {"email": email, "password": password})


async def open_consent(client: httpx.AsyncClient, logged_in: httpx.Response) -> httpx.Response:
    """Follow the login's redirect to the consent page and return the page."""
    assert logged_in.status_code == 303, logged_in.text
    page = await client.get(urljoin(str(logged_in.url), logged_in.headers["location"]))
    assert page.status_code == 200, page.text
    return page


async def submit_consent(
    client: httpx.AsyncClient, page: httpx.Response, decision: Literal["allow", "deny"]
) -> httpx.Response:
    """Press the page's Allow or Deny button; return the response to the post."""
    assert ("decision", decision) in _BUTTON.findall(page.text), page.text
    return await _submit(client, page, {"decision": decision})


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


def assert_config_error(tmp_path: Path, toml: str, key: str, problem: str) -> None:
    """Loading ``toml`` from a file fails with a ConfigError naming the file, ``key`` and
    a problem containing ``problem``."""
    path = tmp_path / "issuer.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError) as error:
        Issuer.from_config(path)
    assert (error.value.file, error.value.key) == (str(path), key)
    assert problem in error.value.problem
