"""Counting failed secret and password checks, and refusing attempts past the limit.

After ``max_failures`` failed checks of one client's secret or one account's password
within ``window_seconds``, further attempts for it get 429 with ``Retry-After`` (RFC 6585
§4) before any scrypt work, until the oldest of those failures leaves the window; a
success clears the count (RFC 6749 §4.3.2 and §10.10: the token endpoint must resist
guessing of passwords and client credentials; OWASP ASVS V2.2.1). Accounts are counted by
the email as sent, lower-cased, whether or not such an account exists, so a refusal says
nothing about which accounts exist.

One-time codes are six digits, so a fixed window would still let a password holder try
every code in a couple of weeks. For them (subject ``otp``) each full window of failures
locks the user out, for one window the first time and twice as long each time after, up
to :data:`MAX_LOCKOUT_SECONDS` (RFC 4226 §7.3 suggests such a delay scheme; RFC 6238
§5.2); a right code, or a lockout-free day, starts the count over.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from ._errors import ConfigError, TooManyAttempts
from ._hashing import check_secret

__all__ = [
    "MAX_FAILURES_LIMIT",
    "MAX_LOCKOUT_SECONDS",
    "MAX_WINDOW_SECONDS",
    "AttemptThrottle",
    "Subject",
]

Subject = Literal["client", "account", "otp"]
_logger = logging.getLogger("issuer.throttle")
# Past a thousand failures per window the throttle no longer slows guessing, and a window
# longer than a day gives a Retry-After no client waits for (hundreds of digits, for a
# huge float); both are refused when the throttle is built.
MAX_FAILURES_LIMIT = 1000
MAX_WINDOW_SECONDS = 86_400
#: The longest lockout of a growing subject: ten codes a day leave a six-digit code
#: (three good at a time) about 1 in 33,000 a day.
MAX_LOCKOUT_SECONDS = 86_400
#: Subjects whose lockouts grow. Not passwords: anyone could lock any account for a day.
_GROWING: frozenset[Subject] = frozenset({"otp"})


@dataclass(frozen=True)
class _Lockout:
    rounds: int
    until: float


class AttemptThrottle:
    """Failed attempts per client and per account in a sliding window of ``window_seconds``.

    ``max_failures`` is at most :data:`MAX_FAILURES_LIMIT` and ``window_seconds`` at most
    :data:`MAX_WINDOW_SECONDS`. At most ``max_tracked`` clients and accounts are remembered;
    past that the one whose last failure is oldest is forgotten, so made-up names cannot
    exhaust memory.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float],
        max_failures: int = 10,
        window_seconds: float = 60.0,
        max_tracked: int = 10_000,
    ) -> None:
        if isinstance(max_failures, bool) or not isinstance(max_failures, int):
            raise ConfigError(
                f"must be an integer, not {max_failures!r}", key="throttle.max_failures"
            )
        if max_failures < 1:
            raise ConfigError(
                f"must be a positive integer, not {max_failures!r}", key="throttle.max_failures"
            )
        if max_failures > MAX_FAILURES_LIMIT:
            raise ConfigError(
                f"must be at most {MAX_FAILURES_LIMIT}, not {max_failures!r}",
                key="throttle.max_failures",
            )
        if isinstance(window_seconds, bool) or not isinstance(window_seconds, int | float):
            raise ConfigError(
                f"must be a number, not {window_seconds!r}", key="throttle.window_seconds"
            )
        if not math.isfinite(window_seconds) or window_seconds <= 0:
            raise ConfigError(
                f"must be a positive number, not {window_seconds!r}",
                key="throttle.window_seconds",
            )
        if window_seconds > MAX_WINDOW_SECONDS:
            raise ConfigError(
                f"must be at most {MAX_WINDOW_SECONDS} (a day), not {window_seconds!r}",
                key="throttle.window_seconds",
            )
        self._clock = clock
        self._max_failures = max_failures
        self._window_seconds = float(window_seconds)
        self._max_tracked = max_tracked
        # Ordered by last failure, oldest first: each failure moves its entry to the end.
        self._failures: dict[tuple[Subject, str], deque[float]] = {}
        # Growing subjects' lockouts, ordered by start, oldest first.
        self._lockouts: dict[tuple[Subject, str], _Lockout] = {}

    @property
    def tracked(self) -> int:
        """How many clients and accounts have failures on record."""
        return len(self._failures)

    def retry_after_seconds(self, subject: Subject, name: str) -> int | None:
        """Whole seconds until ``name`` may try again, or ``None`` if it may now."""
        lockout = self._lockouts.get((subject, name))
        if lockout is not None and lockout.until > self._clock():
            return max(1, math.ceil(lockout.until - self._clock()))
        times = self._failures.get((subject, name))
        if times is None or len(times) < self._max_failures:
            return None
        wait = times[0] + self._window_seconds - self._clock()
        return max(1, math.ceil(wait)) if wait > 0 else None

    def check(self, subject: Subject, name: str) -> None:
        """Raise :class:`TooManyAttempts` while ``name`` is over the limit."""
        wait = self.retry_after_seconds(subject, name)
        if wait is not None:
            _logger.warning(
                "%s %r refused for %d s: %d failed attempts within %g s",
                subject,
                name,
                wait,
                self._max_failures,
                self._window_seconds,
            )
            raise TooManyAttempts(subject, retry_after_seconds=wait)

    def record(self, subject: Subject, name: str, *, succeeded: bool) -> None:
        """Count a failure, or clear the count after a success."""
        times = self._failures.pop((subject, name), None)
        if succeeded:
            self._lockouts.pop((subject, name), None)
            return
        now = self._clock()
        if times is None:
            times = deque(maxlen=self._max_failures)
        times.append(now)
        if subject in _GROWING and len(times) >= self._max_failures:
            self._lock_out(subject, name, now)
        else:
            self._failures[(subject, name)] = times
        self._forget_old(now)

    def _lock_out(self, subject: Subject, name: str, now: float) -> None:
        previous = self._lockouts.pop((subject, name), None)
        fresh = previous is None or now - previous.until > MAX_LOCKOUT_SECONDS
        rounds = 1 if fresh or previous is None else previous.rounds + 1
        seconds = min(self._window_seconds * 2 ** min(rounds - 1, 32), MAX_LOCKOUT_SECONDS)
        self._lockouts[(subject, name)] = _Lockout(rounds, now + seconds)
        _logger.warning(
            "%s %r locked out for %g s: %d rounds of %d failed attempts",
            subject,
            name,
            seconds,
            rounds,
            self._max_failures,
        )

    def _forget_old(self, now: float) -> None:
        horizon = now - self._window_seconds
        while self._failures:
            oldest = next(iter(self._failures))
            stale = self._failures[oldest][-1] <= horizon
            if not stale and len(self._failures) <= self._max_tracked:
                break
            del self._failures[oldest]
        while self._lockouts:
            first = next(iter(self._lockouts))
            over = now - self._lockouts[first].until > MAX_LOCKOUT_SECONDS
            if not over and len(self._lockouts) <= self._max_tracked:
                return
            del self._lockouts[first]

    async def verify(self, subject: Subject, name: str, secret: str, hashed: str | None) -> bool:
        """Check ``secret`` against ``hashed`` (``None``: an unknown account's decoy) off the
        event loop, unless ``name`` is over the limit, and count the outcome."""
        self.check(subject, name)
        matched = await check_secret(secret, hashed, admit=lambda: self.check(subject, name))
        self.record(subject, name, succeeded=matched)
        return matched
