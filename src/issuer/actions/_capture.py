"""Per-execution capture of ``print`` and ``logging`` output.

The current execution's log lines live in a context variable, so concurrent logins (tasks
or worker threads, which inherit the context) never mix their output. ``sys.stdout`` is
wrapped from the first capture on; output from outside a capture passes through
unchanged, and output of an action that was abandoned at its budget (a worker thread that
outlives its execution) is dropped rather than printed bare.
"""

from __future__ import annotations

import contextvars
import logging
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TextIO

__all__ = ["ACTIONS_LOGGER", "capture_output", "real_stdout"]

ACTIONS_LOGGER = "issuer.actions"


class _Capture:
    def __init__(self, on_line: Callable[[str], None] | None) -> None:
        self.lines: list[str] = []
        self.partial = ""
        self.on_line = on_line
        self.finished = False

    def add(self, line: str) -> None:
        if self.finished:
            return  # the execution is over: its record is written, its console line too
        self.lines.append(line)
        if self.on_line is not None:
            self.on_line(line)

    def write(self, text: str) -> None:
        *complete, self.partial = (self.partial + text).split("\n")
        for line in complete:
            self.add(line)

    def close(self) -> None:
        if self.partial:
            self.add(self.partial)
            self.partial = ""


_current: contextvars.ContextVar[_Capture | None] = contextvars.ContextVar(
    "issuer_action_output", default=None
)
_lock = threading.Lock()


class _StdoutProxy:
    def __init__(self, wrapped: TextIO) -> None:
        self.wrapped = wrapped

    def write(self, text: str) -> int:
        capture = _current.get()
        if capture is None:
            return self.wrapped.write(text)
        capture.write(text)
        return len(text)

    def flush(self) -> None:
        if _current.get() is None:
            self.wrapped.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.wrapped, name)


def real_stdout() -> TextIO:
    """The process's standard output, never the capturing wrapper: what is written here
    while an action runs is not taken for that action's output."""
    stream = sys.stdout
    return stream.wrapped if isinstance(stream, _StdoutProxy) else stream


class _CaptureHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        capture = _current.get()
        if capture is not None:
            capture.close()
            capture.add(f"{record.levelname} {record.name}: {record.getMessage()}")
            return
        last_resort = logging.lastResort
        if (
            last_resort is not None
            and record.levelno >= last_resort.level
            and not _handled_elsewhere(record)
        ):
            # A handler on the root logger switches off Python's last-resort output of
            # warnings in a process that configured no logging: do its work, so being
            # installed for actions never silences the issuer's (or the app's) warnings.
            last_resort.handle(record)


def _handled_elsewhere(record: logging.LogRecord) -> bool:
    """Whether a handler other than the capture's sees ``record`` (as ``Logger.callHandlers``
    walks the hierarchy)."""
    logger: logging.Logger | None = (
        logging.getLogger() if record.name == "root" else logging.getLogger(record.name)
    )
    while logger is not None:
        if any(handler is not _handler for handler in logger.handlers):
            return True
        if not logger.propagate:
            return False
        logger = logger.parent
    return False


_handler = _CaptureHandler(logging.DEBUG)


def _install() -> None:
    with _lock:
        if not isinstance(sys.stdout, _StdoutProxy):
            sys.stdout = _StdoutProxy(sys.stdout)
        root = logging.getLogger()
        if _handler not in root.handlers:
            root.addHandler(_handler)
        # Action modules log under this name; their INFO and DEBUG lines belong in the log.
        actions_logger = logging.getLogger(ACTIONS_LOGGER)
        if actions_logger.level == logging.NOTSET:
            actions_logger.setLevel(logging.DEBUG)


@contextmanager
def capture_output(on_line: Callable[[str], None] | None = None) -> Iterator[list[str]]:
    """Collect the lines printed or logged in this context (and threads started from it);
    ``on_line`` also sees each line as it completes, from whichever thread wrote it."""
    capture = _Capture(on_line)
    token = _current.set(capture)
    _install()
    try:
        yield capture.lines
    finally:
        capture.close()
        capture.finished = True
        _current.reset(token)
