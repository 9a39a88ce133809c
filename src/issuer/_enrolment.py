"""Where the TOTP secrets of users who enrolled at the login page are kept.

With a data directory they are written to ``totp-secrets.json`` in it (mode 0600, beside
the signing keys), keyed by lower-cased email since user ids are made anew at each start;
without one (``data_dir = false``, or an issuer built in Python) they live in memory and
end with the process. A ``totp_secret`` in the configuration wins over an enrolled one.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ._errors import ConfigError

__all__ = ["TotpSecrets"]

_FILE = "totp-secrets.json"


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

    def enrol(self, email: str, secret: str) -> None:
        """Keep ``secret`` for ``email`` (and write it out when there is a data directory)."""
        self._secrets[email.lower()] = secret
        if self._path is None:
            return
        temporary = self._path.with_suffix(".tmp")
        self._path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(self._secrets, handle)
        os.replace(temporary, self._path)
