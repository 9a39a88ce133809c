"""issuer: a bundled OAuth 2.0 / OpenID Connect issuer that runs post-login actions."""

__version__ = "0.1.0"

__all__ = ["__version__"]
