"""``JWKSRules``: the caching rules one issuer's key set follows.

They are the verifier's ``jwks_*`` options, with an :class:`IssuerConfig`'s own values in
place where it gives them, so each issuer's keys can be refetched on that provider's
schedule (see :class:`~claimguard.jose._jwks.KeySet` for what each rule does).
"""

from __future__ import annotations

from typing import NamedTuple, TypeVar

from .._errors import ConfigurationError
from ._issuerconfig import IssuerConfig
from ._options import check_jwks_options

__all__ = ["JWKSRules"]

_Number = TypeVar("_Number", int, float)


class JWKSRules(NamedTuple):
    """The key-set caching rules of an issuer's :class:`KeySet`: the verifier's ``jwks_*``
    options, or an :class:`IssuerConfig`'s own where it gives them."""

    max_age_seconds: float
    refresh_ahead_seconds: float
    cooldown_seconds: float
    stale_seconds: float
    timeout_seconds: float
    max_bytes: int

    def overridden_by(self, config: IssuerConfig) -> JWKSRules:
        """These rules with ``config``'s own ``jwks_*`` values in place, checked together
        (a refresh ahead must stay below the max age, whichever side gave each)."""
        rules = JWKSRules(
            _own(config.jwks_max_age_seconds, self.max_age_seconds),
            _own(config.jwks_refresh_ahead_seconds, self.refresh_ahead_seconds),
            _own(config.jwks_cooldown_seconds, self.cooldown_seconds),
            _own(config.jwks_stale_seconds, self.stale_seconds),
            _own(config.jwks_timeout_seconds, self.timeout_seconds),
            _own(config.jwks_max_bytes, self.max_bytes),
        )
        if rules == self:
            return self
        try:
            for name, value in rules._asdict().items():
                if isinstance(value, bool) or not isinstance(value, int | float):
                    raise ConfigurationError(f"jwks_{name} must be a number, not {value!r}")
            check_jwks_options(**rules._asdict())
        except ConfigurationError as exc:
            raise ConfigurationError(f"issuer {config.issuer!r}: {exc}") from None
        return rules


def _own(own: _Number | None, default: _Number) -> _Number:
    return default if own is None else own
