"""Reloading a served issuer when its configuration file or an action file changes.

A change builds a fresh issuer from the file, off to the side, and moves what can change
live into the served one: APIs, the file's clients, users, actions, secrets, logout URLs and
the registration policy. Keys, refresh-token families, sessions, consents and dynamically
registered clients stay. A broken edit is reported and changes nothing, so the previous
version keeps serving. Everything else in the file is baked into what is already running
(the issuer URL, the keys, token lifetimes, the budget, the throttle, sessions, the action
log endpoint, the console, redirects, DPoP): a change to it is reported as needing a
restart and keeps its previous value. An edited user whose password is unchanged keeps its
password hash, so its sessions go on.
"""

from __future__ import annotations

import threading
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .._config import TOP_LEVEL_KEYS, load_config
from .._issuer import Issuer
from ..core._errors import ConfigError

__all__ = ["LIVE_KEYS", "RESTART_KEYS", "ConfigReloader"]

#: Top-level keys and tables whose edits :func:`_apply` moves into the served issuer.
LIVE_KEYS = (
    "apis",
    "clients",
    "users",
    "actions",
    "secrets",
    "allowed_logout_urls",
    "registration",
)
#: Top-level keys whose change takes effect only when ``serve`` is restarted: everything
#: the file may hold that is not live, so a new setting is never silently ignored.
RESTART_KEYS = tuple(key for key in TOP_LEVEL_KEYS if key not in LIVE_KEYS)
_Signature = tuple[tuple[int, int] | None, ...]


class ConfigReloader:
    """Polls ``path`` and the action files it names; reloads ``issuer`` when one changes.

    ``report`` receives one line per reload, failure or setting that needs a restart.
    """

    def __init__(
        self,
        issuer: Issuer,
        path: Path,
        *,
        report: Callable[[str], None],
        interval_seconds: float = 0.5,
    ) -> None:
        self._issuer = issuer
        self._path = path
        self._report = report
        self.interval_seconds = interval_seconds
        self._data = _read(path) or {}
        self._signature = self._stat()

    def run_until(self, stop: threading.Event) -> None:
        """Check every ``interval_seconds`` until ``stop`` is set."""
        while not stop.wait(self.interval_seconds):
            self.check()

    def check(self) -> bool:
        """Reload if a watched file changed since the last check; whether it reloaded."""
        signature = self._stat()
        if signature == self._signature:
            return False
        self._signature = signature
        return self.reload()

    def reload(self) -> bool:
        """Load the file now and apply it; on any problem report it and change nothing."""
        try:
            candidate = load_config(
                self._path, build=Issuer, issuer_url=self._issuer.url, persist_keys=False
            )
        except Exception as exc:  # whatever an edit breaks, the running version stays
            self._report(
                f"error: {_one_line(exc, self._path)} (still serving the previous version)"
            )
            return False
        data = _read(self._path) or {}
        pending = [key for key in RESTART_KEYS if data.get(key) != self._data.get(key)]
        for key in pending:
            # Keep comparing against what is running, so the reminder repeats until restart.
            if key in self._data:
                data[key] = self._data[key]
            else:
                data.pop(key, None)
        _apply(self._issuer, candidate, _users(self._data), _users(data))
        self._data = data
        self._signature = self._stat()
        if pending:
            self._report(
                f"{self._path}: {', '.join(pending)} changed: needs a restart"
                " (the rest of the change is live)"
            )
        else:
            self._report(f"{self._path}: reloaded")
        return True

    def _watched(self) -> list[Path]:
        files = [self._path]
        actions = self._data.get("actions")
        for sources in actions.values() if isinstance(actions, dict) else ():
            if isinstance(sources, list):
                files += [self._path.parent / s for s in sources if isinstance(s, str)]
        return files

    def _stat(self) -> _Signature:
        signature: list[tuple[int, int] | None] = []
        for file in self._watched():
            try:
                status = file.stat()
            except OSError:
                signature.append(None)
            else:
                signature.append((status.st_mtime_ns, status.st_size))
        return tuple(signature)


def _read(path: Path) -> dict[str, Any] | None:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _one_line(exc: Exception, path: Path) -> str:
    text = str(exc) if isinstance(exc, ConfigError) else f"{path}: {type(exc).__name__}: {exc}"
    return " ".join(text.split())


def _users(data: dict[str, Any]) -> dict[str, Any]:
    users = data.get("users", [])
    return {
        u["email"].lower(): u
        for u in users
        if isinstance(u, dict) and isinstance(u.get("email"), str)
    }


def _apply(live: Issuer, candidate: Issuer, before: dict[str, Any], after: dict[str, Any]) -> None:
    directory, fresh = live.directory, candidate.directory
    directory.apis = dict(fresh.apis)
    registered = {
        i: c for i, c in directory.clients.items() if c.registered and i not in fresh.clients
    }
    directory.clients = {**registered, **fresh.clients}
    directory.client_grants = {
        **{k: g for k, g in directory.client_grants.items() if k[0] in registered},
        **fresh.client_grants,
    }
    users = {}
    for email, user in fresh.users.items():
        current = directory.users.get(email)
        if current is not None and before.get(email) == after.get(email):
            user = current  # an unchanged entry keeps what logins changed (metadata, count)
        elif current is not None:
            # Sessions, consents and refresh-token families name the user by user_id.
            user.user_id, user.created_at = current.user_id, current.created_at
            user.logins_count = current.logins_count
            if before.get(email, {}).get("password") == after.get(email, {}).get("password"):
                # A new hash (a new salt) of the same password would end the user's sessions.
                user.password_hash = current.password_hash
        users[email] = user
    directory.users = users
    for trigger, actions in candidate._actions.items():
        live._actions[trigger] = list(actions)
    live._secrets.update(candidate._secrets)
    for name in set(live._secrets) - set(candidate._secrets):
        del live._secrets[name]
    live.allowed_logout_urls = candidate.allowed_logout_urls
    live.registration_allowed_apis = candidate.registration_allowed_apis
