"""The ready-made issuer behind the pytest fixtures: one API, one client, alice and bob."""

from __future__ import annotations

from typing import Any

from ._issuer import Issuer

__all__ = ["PREMIUM_CLAIM", "default_issuer", "premium_action"]

PREMIUM_CLAIM = "https://myapp.example.com/premium"


async def premium_action(event: Any, api: Any) -> None:
    """Add the premium claim to both tokens when ``app_metadata.roles`` has ``premium``."""
    if "premium" in event.user.app_metadata.get("roles", []):
        api.id_token.add_claim({PREMIUM_CLAIM: True})
        api.access_token.add_claim({PREMIUM_CLAIM: True})


def default_issuer(**options: Any) -> Issuer:
    """An issuer with API ``https://api.example.com`` (scope ``read:messages``), client
    ``test-app`` / ``test-secret`` (every grant type; redirect ``http://127.0.0.1/callback``;
    ``client_credentials`` granted for the API with ``read:messages``),
    users ``alice@example.com`` / ``alice-password`` (premium) and ``bob@example.com`` /
    ``bob-password``, and the premium post-login action."""
    issuer = Issuer(**options)
    issuer.add_api("https://api.example.com", scopes=["read:messages"])
    issuer.add_client(
        "test-app",
        client_secret="test-secret",
        redirect_uris=["http://127.0.0.1/callback"],
        grant_types=["authorization_code", "refresh_token", "password", "client_credentials"],
        grants={"https://api.example.com": ["read:messages"]},
    )
    issuer.add_user(
        "alice@example.com",
        password="alice-password",
        app_metadata={"roles": ["premium"]},
        name="Alice",
    )
    issuer.add_user(
        "bob@example.com", password="bob-password", app_metadata={"roles": []}, name="Bob"
    )
    issuer.add_action(premium_action)
    return issuer
