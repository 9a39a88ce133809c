"""Loading the TOML configuration (DESIGN §2) with errors that name file, key and problem."""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from ._setup import IssuerSetup
from .core._errors import ConfigError
from .core._records import DEFAULT_GRANT_TYPES

__all__ = ["DEFAULT_DATA_DIR", "TOP_LEVEL_KEYS", "load_config"]

#: Where the command line keeps signing keys when the file names no ``data_dir``: beside it.
DEFAULT_DATA_DIR = ".issuer"

_Built = TypeVar("_Built", bound=IssuerSetup)


class _DirectoryOrFalse:
    """The type of ``data_dir``: a directory (relative to the file), or ``false`` for none."""


_TOP = {
    "issuer": str,
    "signing_alg": str,
    "access_token_lifetime": int,
    "id_token_lifetime": int,
    "data_dir": _DirectoryOrFalse,
    "action_budget_seconds": float,
    "max_token_bytes": int,
    "apis": list,
    "clients": list,
    "users": list,
    "actions": dict,
    "secrets": dict,
    "allowed_logout_urls": list,
    "registration": dict,
    "action_logs": dict,
    "throttle": dict,
    "sessions": dict,
    "console": bool,
    "redirects": dict,
    "dpop": dict,
    "mfa": dict,
}
#: Every key and table the file may have at its top level, in the reference's order.
TOP_LEVEL_KEYS = tuple(_TOP)
_API = {
    "identifier": str,
    "scopes": list,
    "token_dialect": str,
    "permissions": dict,
    "enforce_rbac": bool,
    "add_permissions_in_token": bool,
    "require_dpop": bool,
}
_CLIENT = {
    "client_id": str,
    "client_secret": str,
    "name": str,
    "redirect_uris": list,
    "grant_types": list,
    "metadata": dict,
    "grants": list,
    "allowed_logout_urls": list,
}
_GRANT = {"api": str, "scopes": list}
_USER = {
    "email": str,
    "password": str,
    "name": str,
    "email_verified": bool,
    "app_metadata": dict,
    "user_metadata": dict,
    "roles": list,
    "totp_secret": str,
}
_ACTIONS = {"post_login": list, "credentials_exchange": list}
_REGISTRATION = {"allowed_apis": list}
_ACTION_LOGS = {"enabled": bool, "token": str}
_THROTTLE = {"max_failures": int, "window_seconds": float}
_SESSIONS = {"lifetime_seconds": float, "idle_timeout_seconds": float}
_REDIRECTS = {"continue_seconds": float}
_DPOP = {"nonces": bool}
_MFA = {"enrolment": bool}
_TYPE_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true or false",
               list: "an array", dict: "a table",
               _DirectoryOrFalse: "a string (a directory) or false"}  # fmt: skip


def _type_ok(value: Any, expected: type) -> bool:
    if expected is _DirectoryOrFalse:
        return isinstance(value, str) or value is False
    if expected is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if expected is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, expected)


def _check(
    table: Any, schema: Mapping[str, type], key: str, required: tuple[str, ...] = ()
) -> dict[str, Any]:
    if not isinstance(table, dict):
        raise ConfigError("must be a table", key=key)
    where = f"{key}." if key else ""
    for name, value in table.items():
        if name not in schema:
            raise ConfigError(
                f"unknown key (expected one of: {', '.join(schema)})", key=where + name
            )
        if not _type_ok(value, schema[name]):
            raise ConfigError(
                f"must be {_TYPE_NAMES[schema[name]]}, not {type(value).__name__}", key=where + name
            )
    for name in required:
        if name not in table:
            raise ConfigError("is required", key=where + name)
    return table


def _strings(table: dict[str, Any], name: str, key: str) -> list[str]:
    values = table.get(name, [])
    where = f"{key}.{name}" if key else name
    for index, value in enumerate(values):
        if not isinstance(value, str):
            raise ConfigError("must be a string", key=f"{where}[{index}]")
    return list(values)


def _registered_apis(registration: dict[str, Any], apis: Mapping[str, object]) -> None:
    for index, identifier in enumerate(registration.get("allowed_apis", [])):
        if identifier not in apis:
            raise ConfigError(
                f"{identifier!r} is not the identifier of an [[apis]] entry",
                key=f"registration.allowed_apis[{index}]",
            )


def _each(items: list[Any], key: str, register: Callable[[dict[str, Any], str], None]) -> None:
    for index, item in enumerate(items):
        where = f"{key}[{index}]"
        try:
            register(item, where)
        except ConfigError as exc:
            if exc.key and not exc.key.startswith(where):
                exc.key = f"{where}.{exc.key}"
            elif not exc.key:
                exc.key = where
            raise


def load_config(
    path: Path,
    *,
    build: Callable[..., _Built],
    issuer_url: str | None = None,
    persist_keys: bool | None = None,
    console: bool | None = None,
) -> _Built:
    """Build an issuer from ``path`` with ``build`` (given the file's options as keyword
    arguments), then register what the file lists; every problem is a :class:`ConfigError`.

    Signing keys are kept in the file's ``data_dir``; with ``persist_keys`` true, in
    :data:`DEFAULT_DATA_DIR` beside the file when it names none (``data_dir = false``: in
    memory only); with ``persist_keys`` false, in memory whatever the file says.
    ``console``, when given, overrides the file's ``console``.
    """
    try:
        return _load(path, build, issuer_url, persist_keys, console)
    except ConfigError as exc:
        exc.file = str(path)
        raise


def _data_dir(configured: str | bool | None, base: Path, persist_keys: bool | None) -> Path | None:
    if persist_keys is False or configured is False:
        return None
    if isinstance(configured, str):
        return base / configured
    return base / DEFAULT_DATA_DIR if persist_keys else None


def _load(
    path: Path,
    build: Callable[..., _Built],
    issuer_url: str | None,
    persist_keys: bool | None,
    console: bool | None,
) -> _Built:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror or exc}") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"invalid TOML: {exc}") from exc
    _check(data, _TOP, "")
    base = path.parent
    options: dict[str, Any] = {
        "issuer_url": issuer_url or data.get("issuer", "http://127.0.0.1:8765/")
    }
    for name, option in (
        ("signing_alg", "signing_alg"),
        ("access_token_lifetime", "access_token_lifetime_seconds"),
        ("id_token_lifetime", "id_token_lifetime_seconds"),
        ("action_budget_seconds", "action_budget_seconds"),
        ("max_token_bytes", "max_token_bytes"),
        ("console", "console"),
    ):
        if name in data:
            options[option] = data[name]
    options["data_dir"] = _data_dir(data.get("data_dir"), base, persist_keys)
    options["allowed_logout_urls"] = _strings(data, "allowed_logout_urls", "")
    registration = _check(data.get("registration", {}), _REGISTRATION, "registration")
    if "allowed_apis" in registration:
        allowed_apis = _strings(registration, "allowed_apis", "registration")
        options["registration_allowed_apis"] = allowed_apis
    for table, schema in (
        ("action_logs", _ACTION_LOGS),
        ("throttle", _THROTTLE),
        ("sessions", _SESSIONS),
        ("dpop", _DPOP),
        ("mfa", _MFA),
    ):
        for name, value in _check(data.get(table, {}), schema, table).items():
            options[f"{table}_{name}"] = value
    redirects = _check(data.get("redirects", {}), _REDIRECTS, "redirects")
    if "continue_seconds" in redirects:
        options["redirect_continue_seconds"] = redirects["continue_seconds"]
    if console is not None:
        options["console"] = console
    issuer = build(**options)

    def api(item: dict[str, Any], key: str) -> None:
        _check(item, _API, key, required=("identifier",))
        issuer.add_api(
            item["identifier"],
            scopes=_strings(item, "scopes", key),
            token_dialect=item.get("token_dialect", "auth0"),
            permissions={role: _strings(item["permissions"], role, f"{key}.permissions")
                         for role in item.get("permissions", {})},
            enforce_rbac=item.get("enforce_rbac", False),
            add_permissions_in_token=item.get("add_permissions_in_token"),
            require_dpop=item.get("require_dpop", False),
        )  # fmt: skip

    def client(item: dict[str, Any], key: str) -> None:
        _check(item, _CLIENT, key, required=("client_id",))
        issuer.add_client(
            item["client_id"],
            client_secret=item.get("client_secret"),
            redirect_uris=_strings(item, "redirect_uris", key),
            grant_types=(
                _strings(item, "grant_types", key) if "grant_types" in item else DEFAULT_GRANT_TYPES
            ),
            name=item.get("name"),
            metadata=item.get("metadata"),
            allowed_logout_urls=_strings(item, "allowed_logout_urls", key),
        )

        def grant(entry: dict[str, Any], where: str) -> None:
            _check(entry, _GRANT, where, required=("api", "scopes"))
            scopes = _strings(entry, "scopes", where)
            issuer.add_client_grant(item["client_id"], entry["api"], scopes=scopes)

        _each(item.get("grants", []), f"{key}.grants", grant)

    def user(item: dict[str, Any], key: str) -> None:
        _check(item, _USER, key, required=("email", "password"))
        issuer.add_user(
            item["email"],
            password=item["password"],
            name=item.get("name"),
            email_verified=item.get("email_verified", True),
            app_metadata=item.get("app_metadata"),
            user_metadata=item.get("user_metadata"),
            roles=_strings(item, "roles", key),
            totp_secret=item.get("totp_secret"),
        )

    _each(data.get("apis", []), "apis", api)
    _registered_apis(registration, issuer.directory.apis)
    _each(data.get("clients", []), "clients", client)
    _each(data.get("users", []), "users", user)
    actions = _check(data.get("actions", {}), _ACTIONS, "actions")
    for trigger in actions:
        for index, source in enumerate(_strings(actions, trigger, "actions")):
            try:
                issuer.add_action(base / source, trigger=trigger)
            except ConfigError as exc:
                exc.key = f"actions.{trigger}[{index}]"
                raise
    for name, value in data.get("secrets", {}).items():
        if not isinstance(value, str):
            raise ConfigError("must be a string", key=f"secrets.{name}")
        issuer.set_secret(name, value)
    return issuer
