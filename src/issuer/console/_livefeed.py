"""The console's live logins: each finished login as one entry (its actions, their output,
the claims they added, the deny or error), pushed to every open stream, and the last
token sets kept, bounded, so an entry can show what it produced."""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from ..actions._runtime import ExecutionRecord
from ..core._activity import Activity, Event, LoginOutcome, mask
from ..login._login import TokenSet

__all__ = ["LiveFeed", "mask"]

MAX_ENTRIES = 100
MAX_TOKEN_SETS = 20
MAX_SUBSCRIBERS = 16
_QUEUE_SIZE = 200


class LiveFeed:
    """Entries for the logins the issuer ends, for the console's stream and pages."""

    def __init__(
        self,
        activity: Activity,
        *,
        records: Callable[[], list[ExecutionRecord]],
        secret_values: Callable[[], Sequence[str]],
        clock: Callable[[], float],
    ) -> None:
        self._records = records
        self._secret_values = secret_values
        self._clock = clock
        self._entries: deque[dict[str, Any]] = deque(maxlen=MAX_ENTRIES)
        self._tokens: OrderedDict[str, TokenSet] = OrderedDict()
        self._subscribers: list[tuple[asyncio.AbstractEventLoop, asyncio.Queue[str]]] = []
        self._lock = threading.Lock()
        # The pipeline hands over a login's tokens just before it reports the login, in
        # the same thread with no await between: the next outcome in this thread is theirs.
        self._pending = threading.local()
        activity.subscribe(self._on_event)

    def tokens_issued(self, tokens: TokenSet) -> None:
        """Called by the login pipeline with each token set it is about to return."""
        self._pending.tokens = tokens

    def entries(self) -> list[dict[str, Any]]:
        """The recent entries, oldest first."""
        with self._lock:
            return list(self._entries)

    def entry(self, entry_id: str) -> dict[str, Any] | None:
        return next((e for e in self.entries() if e["id"] == entry_id), None)

    def tokens(self, entry_id: str) -> TokenSet | None:
        with self._lock:
            return self._tokens.get(entry_id)

    def _on_event(self, event: Event) -> None:
        if not isinstance(event, LoginOutcome):
            return
        tokens: TokenSet | None = getattr(self._pending, "tokens", None)
        self._pending.tokens = None
        entry = self._entry(event, tokens if event.outcome == "ok" else None)
        with self._lock:
            self._entries.append(entry)
            if tokens is not None and entry["has_tokens"]:
                self._tokens[entry["id"]] = tokens
                while len(self._tokens) > MAX_TOKEN_SETS:
                    self._tokens.popitem(last=False)
            subscribers = list(self._subscribers)
        message = _json(entry)
        for loop, queue in subscribers:
            loop.call_soon_threadsafe(_offer, queue, message)

    def _entry(self, outcome: LoginOutcome, tokens: TokenSet | None) -> dict[str, Any]:
        hidden = self._secret_values()
        records = [r for r in reversed(self._records()) if r.execution_id == outcome.execution_id]
        ended = datetime.fromtimestamp(self._clock(), UTC)
        return {
            "id": outcome.execution_id or secrets.token_hex(8),
            "time": ended.isoformat(timespec="seconds").replace("+00:00", "Z"),
            "user": outcome.user,
            "client_id": outcome.client_id,
            "grant": outcome.grant,
            "outcome": outcome.outcome,
            "action": outcome.action,
            "reason": None if outcome.reason is None else mask(outcome.reason, hidden),
            "error_type": outcome.error_type,
            "duration_ms": outcome.duration_ms,
            "actions": [_action(r, hidden) for r in records if outcome.execution_id],
            "has_tokens": tokens is not None,
        }

    def subscribe(self) -> asyncio.Queue[str] | None:
        """A queue of JSON entries for one open stream, on the running loop; ``None`` when
        ``MAX_SUBSCRIBERS`` streams are open already (memory stays bounded)."""
        queue: asyncio.Queue[str] = asyncio.Queue(maxsize=_QUEUE_SIZE)
        with self._lock:
            if len(self._subscribers) >= MAX_SUBSCRIBERS:
                return None
            self._subscribers.append((asyncio.get_running_loop(), queue))
        return queue

    def unsubscribe(self, queue: asyncio.Queue[str]) -> None:
        with self._lock:
            self._subscribers = [s for s in self._subscribers if s[1] is not queue]


def _offer(queue: asyncio.Queue[str], message: str) -> None:
    if not queue.full():  # a stalled browser misses entries rather than growing memory
        queue.put_nowait(message)


def _json(entry: dict[str, Any]) -> str:
    return json.dumps(entry, default=str)


def _action(record: ExecutionRecord, hidden: Sequence[str]) -> dict[str, Any]:
    located = (
        f"{record.error_file}:{record.error_line}"
        if record.error_file and record.error_line
        else None
    )
    return {
        "name": record.action,
        "outcome": record.outcome,
        "duration_ms": record.duration_ms,
        "logs": [mask(line, hidden) for line in record.logs],
        "claims_added": record.claims_added,
        "deny_reason": None if record.deny_reason is None else mask(record.deny_reason, hidden),
        "error": None if record.error is None else mask(record.error, hidden),
        "error_at": located,
    }
