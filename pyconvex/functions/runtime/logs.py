"""Capture ``print`` and ``logging`` inside functions as the function's log lines.

Lines look like Convex's: ``[LOG] 'hello' 1`` for ``print("hello", 1)`` (strings quoted,
as console.log shows them) and ``[INFO] message`` for ``logging``. Capture is per
execution through a context variable, so concurrent functions never mix their lines,
and code outside functions prints normally.
"""

from __future__ import annotations

import builtins
import logging
from contextvars import ContextVar
from typing import Any

MAX_LINE = 32_768
MAX_LINES = 256

current_log: ContextVar[list[str] | None] = ContextVar("pyconvex_log", default=None)

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
    def emit(self, record: logging.LogRecord) -> None:
        lines = current_log.get()
        if lines is None:
            return
        level = _LEVELS.get(record.levelno, "LOG")
        append_line(lines, f"[{level}] {record.getMessage()}")


def install_log_capture(package_prefix: str = "_pyconvex_app_") -> None:
    """Install once per process: builtins.print and a handler for user-module loggers."""
    global _installed
    if _installed:
        return
    _installed = True
    builtins.print = _print
    handler = _CaptureHandler(logging.DEBUG)
    root = logging.getLogger()
    root.addHandler(handler)


class capture:
    """``with capture() as lines:`` collects the log lines of the code inside."""

    __slots__ = ("_token", "lines")

    def __init__(self, lines: list[str] | None = None) -> None:
        self.lines: list[str] = lines if lines is not None else []

    def __enter__(self) -> list[str]:
        self._token = current_log.set(self.lines)
        return self.lines

    def __exit__(self, *exc: object) -> None:
        current_log.reset(self._token)
