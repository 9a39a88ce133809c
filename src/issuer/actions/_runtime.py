"""Running a flow of actions: order, deny, the time budget, and one log record per action."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import inspect
import logging
import secrets
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import anyio
import anyio.to_thread

from ..core._activity import ActionOutput, Activity
from ..core._errors import ActionFailed
from ._actionapi import ActionStep, CredentialsExchangeApi, FlowChanges, PostLoginApi
from ._actions import Action, Trigger
from ._capture import ACTIONS_LOGGER, capture_output
from ._event import Namespace
from ._redirectapi import LoginFlow

__all__ = ["ActionLog", "ExecutionRecord", "FlowContext", "apply_metadata", "run_flow"]

_logger = logging.getLogger(ACTIONS_LOGGER)


@dataclass
class FlowContext:
    """Who a flow runs for, and what it did: filled in by :func:`run_flow` as it goes."""

    client_id: str
    protocol: str
    user_id: str | None = None
    user_email: str | None = None
    execution_id: str = field(default_factory=lambda: secrets.token_hex(8))
    #: The actions run so far, each named once (in the order they first ran).
    actions_run: list[str] = field(default_factory=list)


@dataclass
class ExecutionRecord:
    """What one action did in one execution (one login or token request).

    ``outcome`` is this action's: ``ok``, ``denied`` (it called ``api.access.deny``),
    ``paused`` (it sent the browser away with ``api.redirect.send_user_to``) or ``failed``
    (it raised or ran out of time; ``error_file``/``error_line`` locate the raise in the
    action's own file when the traceback passes through it). ``actions`` lists the actions
    the execution has run so far, this one included.
    """

    execution_id: str
    action: str
    trigger: str
    started_at: float
    duration_ms: float = 0.0
    logs: list[str] = field(default_factory=list)
    claims_added: dict[str, dict[str, Any]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    deny_reason: str | None = None
    error: str | None = None
    user_id: str | None = None
    user_email: str | None = None
    client_id: str | None = None
    protocol: str | None = None
    actions: list[str] = field(default_factory=list)
    outcome: str = "ok"
    error_file: str | None = None
    error_line: int | None = None

    @property
    def timestamp(self) -> str:
        """``started_at`` as RFC 3339 UTC, e.g. ``2025-01-31T12:00:00.123Z``."""
        moment = datetime.fromtimestamp(self.started_at, UTC)
        return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "timestamp": self.timestamp}


class ActionLog:
    """The most recent execution records, newest first."""

    def __init__(self, *, max_records: int = 200) -> None:
        self._records: deque[ExecutionRecord] = deque(maxlen=max_records)

    def append(self, record: ExecutionRecord) -> None:
        self._records.appendleft(record)

    def records(self) -> list[ExecutionRecord]:
        return list(self._records)


def apply_metadata(target: dict[str, Any], updates: Mapping[str, Any]) -> None:
    """Merge metadata updates into ``target``; a ``None`` value removes the key."""
    for key, value in updates.items():
        if value is None:
            target.pop(key, None)
        else:
            target[key] = copy.deepcopy(value)


class _OwnLoop:
    """Runs an async action on its own event loop, in the worker thread that calls it.

    A blocking call inside ``async def`` (``time.sleep``, a synchronous HTTP client) then
    stalls only that thread, never the loop serving requests, and the budget still holds:
    on timeout the thread is abandoned and the action's task is cancelled at its next await.
    """

    def __init__(self, action: Action, event: Namespace, api: object) -> None:
        self._action, self._event, self._api = action, event, api
        self._lock = threading.Lock()
        self._cancelled = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[Any] | None = None

    def __call__(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        with self._lock:
            if self._cancelled:
                return
            self._loop, self._task = asyncio.get_running_loop(), asyncio.current_task()
        await self._action.function(self._event, self._api)

    def cancel(self) -> None:
        with self._lock:
            self._cancelled = True
            if self._loop is not None and self._task is not None:
                with contextlib.suppress(RuntimeError):  # the loop already finished
                    self._loop.call_soon_threadsafe(self._task.cancel)


async def _call(action: Action, event: Namespace, api: object) -> None:
    # Every action runs in a worker thread (which inherits the context, so its output is
    # captured), abandoned on timeout, so no action can block the serving loop.
    if action.is_async:
        own_loop = _OwnLoop(action, event, api)
        try:
            await anyio.to_thread.run_sync(own_loop, abandon_on_cancel=True)
        finally:
            own_loop.cancel()
        return
    result = await anyio.to_thread.run_sync(action.function, event, api, abandon_on_cancel=True)
    if inspect.isawaitable(result):
        await result


async def _run_step(
    action: Action,
    event: dict[str, Any],
    api: object,
    deadline: float,
    budget_seconds: float,
    record: ExecutionRecord,
) -> None:
    try:
        with anyio.fail_after(max(deadline - anyio.current_time(), 0)):
            await _call(action, Namespace(event), api)
    except TimeoutError:
        record.error = f"did not finish within the {budget_seconds:g} s flow budget"
        raise ActionFailed(action.name, record.error) from None
    except (Exception, SystemExit) as exc:
        # SystemExit too: sys.exit() in an action fails that login, not the issuer.
        text = _text_of(exc)
        record.error = f"{type(exc).__name__}: {text}"
        record.error_file, record.error_line = _raised_at(action, exc)
        raise ActionFailed(action.name, record.error, message=text) from exc


def _raised_at(action: Action, exc: BaseException) -> tuple[str | None, int | None]:
    """The last traceback frame in the action's own file: where its code raised, or called
    the library that did."""
    code = getattr(action.function, "__code__", None)
    own_file = getattr(code, "co_filename", None)
    found: tuple[str | None, int | None] = (None, None)
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename == own_file:
            found = (frame.filename, frame.lineno)
    return found


def _text_of(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:  # an action's own exception class may fail to say what it is
        return "(the exception's text could not be read)"


async def run_flow(
    actions: Sequence[Action],
    *,
    trigger: Trigger,
    event: dict[str, Any],
    budget_seconds: float,
    caches: dict[str, dict[str, Any]],
    log: ActionLog,
    clock: Callable[[], float],
    context: FlowContext,
    activity: Activity | None = None,
    changes: FlowChanges | None = None,
    flow: LoginFlow | None = None,
) -> FlowChanges:
    """Run ``actions`` in order against ``event`` and merge what they asked for.

    A deny lets the current action finish and skips the rest. An exception, or running past
    the flow's ``budget_seconds``, raises :class:`ActionFailed` naming the action.
    Metadata changes are visible to later actions through ``event.user``. Each line an
    action prints or logs goes to ``activity`` as it is written. ``changes`` carries on
    from an earlier part of the same login; a redirect (``api.redirect.send_user_to``)
    stops the flow after the action that asked for it, as a deny does.
    """
    changes = FlowChanges() if changes is None else changes
    execution_id = context.execution_id
    deadline = anyio.current_time() + budget_seconds
    event = copy.deepcopy(event)
    for action in actions:
        step = ActionStep(action.name, changes, continuable=action.on_continue is not None)
        cache = caches.setdefault(action.name, {})
        api = (
            PostLoginApi(step, cache, flow)
            if trigger == "post_login"
            else CredentialsExchangeApi(step, cache)
        )
        if "user" in event:
            apply_metadata(event["user"].setdefault("app_metadata", {}), changes.app_metadata)
            apply_metadata(event["user"].setdefault("user_metadata", {}), changes.user_metadata)
        record = ExecutionRecord(
            execution_id,
            action.name,
            trigger,
            started_at=clock(),
            user_id=context.user_id,
            user_email=context.user_email,
            client_id=context.client_id,
            protocol=context.protocol,
        )
        if action.name not in context.actions_run:
            # A redirect action runs again when the browser returns (its
            # on_continue_post_login); it is still one action of this login.
            context.actions_run.append(action.name)
        started = time.perf_counter()
        lines: list[str] = []
        try:
            with capture_output(_forward(activity, action.name, context)) as lines:
                await _run_step(action, event, api, deadline, budget_seconds, record)
        finally:
            step.closed = True
            record.duration_ms = round((time.perf_counter() - started) * 1000, 3)
            record.logs = list(lines)
            record.claims_added = step.claims_added
            record.warnings = step.warnings
            record.actions = list(context.actions_run)
            if changes.denied_by == action.name:
                record.deny_reason = changes.deny_reason
                record.outcome = "denied"
            if changes.redirect_url is not None and changes.redirected_by == action.name:
                record.outcome = "paused"
            if record.error is not None:
                record.outcome = "failed"
            log.append(record)
            if record.error is not None:
                # Outside the capture, so the line goes to the server log, not the record.
                # Neither the exception's text (it can quote event.secrets) nor its class:
                # the whole error is in the action log.
                _logger.warning(
                    "action %r failed (execution %s); the full error is in the action log",
                    action.name,
                    execution_id,
                )
        if changes.deny_reason is not None or changes.redirect_url is not None:
            break
    return changes


def _forward(
    activity: Activity | None, action: str, context: FlowContext
) -> Callable[[str], None] | None:
    if activity is None or not activity.followed:
        return None

    def on_line(line: str) -> None:
        activity.emit(
            ActionOutput(
                action=action,
                user=context.user_email,
                client_id=context.client_id,
                line=line,
                execution_id=context.execution_id,
            )
        )

    return on_line
