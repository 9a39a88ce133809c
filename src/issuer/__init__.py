"""issuer: a bundled OAuth 2.0 / OpenID Connect issuer that runs post-login actions.

Build one in Python (:class:`Issuer`) or from a TOML file (:meth:`Issuer.from_config`),
register users, clients, APIs and actions, then use :attr:`Issuer.app` (a Starlette app),
:meth:`Issuer.login` (tokens without HTTP), :meth:`Issuer.http_client` (an in-process
``httpx.AsyncClient``) or :meth:`Issuer.serving` (a real loopback port).
"""

from ._issuer import Issuer, IssuerServer
from .actions._actions import Action
from .actions._event import Namespace
from .actions._runtime import ExecutionRecord
from .core._errors import (
    ActionFailed,
    ConfigError,
    IssuerError,
    LoginDenied,
    OAuthError,
    TooManyAttempts,
)
from .core._records import Api, Client, ClientGrant, User
from .core._serve import bind_socket, serve_in_thread
from .login._login import TokenSet
from .tokens._keys import SigningKey

__version__ = "0.1.0"

__all__ = [
    "Action",
    "ActionFailed",
    "Api",
    "Client",
    "ClientGrant",
    "ConfigError",
    "ExecutionRecord",
    "Issuer",
    "IssuerError",
    "IssuerServer",
    "LoginDenied",
    "Namespace",
    "OAuthError",
    "SigningKey",
    "TokenSet",
    "TooManyAttempts",
    "User",
    "__version__",
    "bind_socket",
    "serve_in_thread",
]
