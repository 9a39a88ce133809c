"""Actions: user code that runs in a trigger (post-login, credentials exchange)."""

from __future__ import annotations

import importlib.util
import inspect
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ..core._errors import ConfigError
from ._capture import ACTIONS_LOGGER

__all__ = ["ENTRY_POINTS", "Action", "Trigger", "load_action"]

Trigger = Literal["post_login", "credentials_exchange"]
ENTRY_POINTS: dict[str, str] = {
    "post_login": "on_execute_post_login",
    "credentials_exchange": "on_execute_credentials_exchange",
}
#: Runs when the browser comes back to ``/continue`` after ``api.redirect.send_user_to``.
CONTINUE_ENTRY_POINT = "on_continue_post_login"
ActionFunction = Callable[[Any, Any], Any]


@dataclass(frozen=True)
class Action:
    """An action's name (file stem or function name), trigger and entry point, and for
    post-login its ``on_continue_post_login`` if it has one."""

    name: str
    trigger: Trigger
    function: ActionFunction
    on_continue: ActionFunction | None = None

    @property
    def is_async(self) -> bool:
        return inspect.iscoroutinefunction(self.function)


def _check_trigger(trigger: str) -> Trigger:
    if trigger not in ENTRY_POINTS:
        raise ConfigError(f"unknown trigger {trigger!r} (known: {', '.join(ENTRY_POINTS)})")
    return trigger  # type: ignore[return-value]


def load_action(
    source: str | Path | ActionFunction,
    *,
    trigger: str = "post_login",
    on_continue: ActionFunction | None = None,
) -> Action:
    """An action from a ``.py`` file (which must define the trigger's entry point) or a
    function; ``on_continue`` is a function action's ``on_continue_post_login``."""
    checked = _check_trigger(trigger)
    if on_continue is not None and (checked != "post_login" or not callable(on_continue)):
        raise ConfigError("on_continue must be a function, for a post_login action")
    if callable(source):
        name = getattr(source, "__name__", "action")
        if name == ENTRY_POINTS[checked]:
            name = getattr(source, "__module__", name).rsplit(".", 1)[-1]
        return Action(name, checked, source, on_continue)
    return _load_file(Path(source), checked)


def _load_file(path: Path, trigger: Trigger) -> Action:
    if path.suffix != ".py":
        raise ConfigError(f"action {str(path)!r} is not a .py file")
    if not path.is_file():
        raise ConfigError(f"action file {str(path)!r} does not exist")
    module_name = f"{ACTIONS_LOGGER}.{path.stem}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ConfigError(f"action file {str(path)!r} cannot be loaded")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[module_name]
        raise ConfigError(
            f"action file {str(path)!r} failed to import: {type(exc).__name__}: {exc}"
        ) from exc
    entry = ENTRY_POINTS[trigger]
    function = getattr(module, entry, None)
    if not callable(function):
        raise ConfigError(f"action file {str(path)!r} does not define {entry}(event, api)")
    on_continue = getattr(module, CONTINUE_ENTRY_POINT, None) if trigger == "post_login" else None
    return Action(path.stem, trigger, function, on_continue if callable(on_continue) else None)
