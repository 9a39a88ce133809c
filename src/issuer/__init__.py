"""issuer: a bundled OAuth 2.0 / OpenID Connect issuer that runs post-login actions."""

from ._errors import ActionFailed, ConfigError, IssuerError, LoginDenied, OAuthError
from ._serve import bind_socket, serve_in_thread

__version__ = "0.1.0"

__all__ = [
    "ActionFailed",
    "ConfigError",
    "IssuerError",
    "LoginDenied",
    "OAuthError",
    "__version__",
    "bind_socket",
    "serve_in_thread",
]
