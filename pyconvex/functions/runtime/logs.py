"""Capture ``print`` and ``logging`` inside functions as the function's log lines.

Lines look like Convex's: ``[LOG] 'hello' 1`` for ``print("hello", 1)`` (strings quoted,
as console.log shows them) and ``[INFO] message`` for ``logging``. Capture is per
execution through a context variable, so concurrent functions never mix their lines,
and code outside functions prints normally.
"""

from __future__ import annotations

import builtins
import contextlib
import logging
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

MAX_LINE = 32_768
MAX_LINES = 256

current_log: ContextVar[list[str] | None] = ContextVar("pyconvex_log", default=None)
_SERVER_LOGGERS = ("pyconvex.", "uvicorn")
"""pyconvex's own loggers: what they say during a function (a search index being built
for its first search) is the server's log, never the function's log lines."""

_original_print = builtins.print
_installed = False

_LEVELS = {
    logging.DEBUG: "DEBUG",
    logging.INFO: "INFO",
    logging.WARNING: "WARN",
    logging.ERROR: "ERROR",
    logging.CRITICAL: "ERROR",
}


def format_arg(arg: Any) -> str:
    return repr(arg) if isinstance(arg, str) else str(arg) if isinstance(arg, (int, float)) else repr(arg)


def append_line(lines: list[str], line: str) -> None:
    if len(lines) >= MAX_LINES:
        if len(lines) == MAX_LINES:
            lines.append("[WARN] Log overflow (maximum 256). Remaining log lines will be omitted.")
        return
    if len(line) > MAX_LINE:
        line = line[:MAX_LINE] + " (truncated due to length)"
    lines.append(line)


def _print(
    *args: Any, sep: str | None = " ", end: str | None = "\n", file: Any = None, flush: bool = False
) -> None:
    lines = current_log.get()
    if lines is None or file is not None:
        _original_print(*args, sep=sep, end=end, file=file, flush=flush)
        return
    append_line(lines, "[LOG] " + (sep if sep is not None else " ").join(format_arg(a) for a in args))


class _CaptureHandler(logging.Handler):
    """On the root logger, to see every user module's logger. Outside functions it must
    not change what Python would do: a handler on the root switches off Python's
    last-resort output to stderr, so when this is the only handler a record reaches, it
    hands the record to that last resort itself (pyconvex's own ``log.exception`` calls
    then still reach stderr in an application that configured no logging)."""

    def emit(self, record: logging.LogRecord) -> None:
        lines = current_log.get()
        if lines is None or record.name.startswith(_SERVER_LOGGERS):
            last = logging.lastResort
            if last is not None and record.levelno >= last.level and self._alone(record):
                last.handle(record)
            return
        level = _LEVELS.get(record.levelno, "LOG")
        append_line(lines, f"[{level}] {record.getMessage()}")

    def _alone(self, record: logging.LogRecord) -> bool:
        logger: logging.Logger | None = logging.getLogger(record.name)
        while logger is not None:
            if any(h is not self for h in logger.handlers):
                return False
            logger = logger.parent if logger.propagate else None
        return True


class OutsideFunctions(logging.Filter):
    """For the server's own log handlers: what a function logs is its log lines (shown
    with its execution), not the server's log."""

    def filter(self, record: logging.LogRecord) -> bool:
        return current_log.get() is None or record.name.startswith(_SERVER_LOGGERS)


def install_log_capture() -> None:
    """Install once per process: builtins.print and a handler for user-module loggers."""
    global _installed
    if _installed:
        return
    _installed = True
    builtins.print = _print
    handler = _CaptureHandler(logging.DEBUG)
    root = logging.getLogger()
    root.addHandler(handler)


@contextlib.contextmanager
def outside_functions() -> Iterator[None]:
    """Log to the server's log from code that runs inside a function's execution (the
    runtime's own records about it): not captured as the function's log lines."""
    token = current_log.set(None)
    try:
        yield
    finally:
        current_log.reset(token)
