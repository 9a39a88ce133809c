"""Where the TOTP secrets of users who enrolled at the login page are kept.

With a data directory they are written to ``totp-secrets.json`` in it (mode 0600, beside
the signing keys), keyed by lower-cased email since user ids are made anew at each start;
without one (``data_dir = false``, or an issuer built in Python) they live in memory and
end with the process. A ``totp_secret`` in the configuration wins over an enrolled one.

Enrolment is compare-and-set: a secret is kept only for a user who has none, checked
against the file itself under an exclusive lock, so neither a stale enrolment form nor a
second issuer process sharing the directory can replace a confirmed secret.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..core._errors import ConfigError

if sys.platform != "win32":
    import fcntl

__all__ = ["TotpSecrets"]

_FILE = "totp-secrets.json"
_LOCK = "totp-secrets.lock"


class TotpSecrets:
    """Enrolled secrets by email, persisted in ``data_dir`` when there is one."""

    def __init__(self, *, data_dir: Path | None) -> None:
        self._path = None if data_dir is None else data_dir / _FILE
        self._secrets: dict[str, str] = self._load()

    def _load(self) -> dict[str, str]:
        if self._path is None:
            return {}
        try:
            data = json.loads(self._path.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise ConfigError(f"unreadable TOTP file {self._path}: {exc}", key="data_dir") from exc
        if not isinstance(data, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in data.items()
        ):
            raise ConfigError(
                f"unreadable TOTP file {self._path}: not an object of strings", key="data_dir"
            )
        return data

    def get(self, email: str) -> str | None:
        return self._secrets.get(email.lower())

    def enrol_if_absent(self, email: str, secret: str) -> bool:
        """Keep ``secret`` for ``email`` unless it already has one; whether it was kept.

        With a data directory the check and the write happen under an exclusive lock on the
        file as it is on disk, and the secret counts as kept only once it is written.
        """
        key = email.lower()
        with self._locked():
            self._secrets = {**self._load(), **self._secrets}
            if key in self._secrets:
                return False
            self._write({**self._secrets, key: secret})
            self._secrets[key] = secret
            return True

    @contextmanager
    def _locked(self) -> Iterator[None]:
        if self._path is None:
            yield
            return
        lock = self._path.with_name(_LOCK)
        try:
            self._path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(lock, os.O_WRONLY | os.O_CREAT, 0o600)
        except OSError as exc:
            raise ConfigError(
                f"cannot lock TOTP file {lock}: {exc.strerror or exc}", key="data_dir"
            ) from exc
        try:
            if sys.platform != "win32":
                fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _write(self, secrets: dict[str, str]) -> None:
        if self._path is None:
            return
        temporary = self._path.with_suffix(".tmp")
        try:
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as handle:
                json.dump(secrets, handle)
            os.replace(temporary, self._path)
        except OSError as exc:
            raise ConfigError(
                f"cannot write TOTP file {exc.filename or temporary}: {exc.strerror or exc}",
                key="data_dir",
            ) from exc
