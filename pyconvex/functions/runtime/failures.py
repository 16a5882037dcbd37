"""What a failed execution leaves behind, and where an operator finds it.

A function's exception keeps its own type (a ``ConvexError`` must stay one for the
client), so what the execution produced travels beside it as one typed record,
:class:`Failure`, read back with :func:`failure_of` (the one place that touches the
exception's attributes). Every failure is logged once, with its request id, function
path and the traceback of the user's code (pyconvex's own runtime frames left out), on
the ``pyconvex.functions`` logger; ``server/logging_setup.py`` writes it to stderr as
one JSON record, and the dev console, ``pyconvex logs`` and the dashboard get the same
record through :class:`~pyconvex.functions.runtime.executor.ExecutionRecord`.
"""

from __future__ import annotations

import itertools
import logging
import os
import secrets
import traceback
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyconvex.database import ReadSet
from pyconvex.errors import ConvexError, PyConvexError

log = logging.getLogger("pyconvex.functions")
_RUNTIME_DIRS = tuple(
    str(Path(__file__).resolve().parents[1] / d) + os.sep for d in ("runtime", "isolation")
)
_ATTRIBUTE = "__pyconvex_failure__"

request_id_var: ContextVar[str | None] = ContextVar("pyconvex_request_id", default=None)
"""The request a function runs for: nested calls (``ctx.run_query`` in an action) share
their caller's id, as in Convex."""


_PREFIX = secrets.token_hex(4)
_sequence = itertools.count(secrets.randbelow(1 << 24))


def new_request_id() -> str:
    """16 hex digits: this process's random prefix and a counter. Unique per deployment
    in practice, and made without a system call (every execution gets one)."""
    return f"{_PREFIX}{next(_sequence) & 0xFFFFFFFF:08x}"


@dataclass(frozen=True, slots=True)
class Failure:
    request_id: str
    path: str
    kind: str
    error: str
    """``Type: message``, as the logs show it."""
    traceback: str
    log_lines: list[str] = field(default_factory=list)
    reads: ReadSet | None = None
    """What a failed query read: it is live too, and re-runs when that changes."""


def attach(e: BaseException, failure: Failure) -> None:
    # Exceptions of builtin types take attributes but not weak references, so the
    # record rides on the exception itself; only this module reads it back.
    if failure_of(e) is None:
        setattr(e, _ATTRIBUTE, failure)


def failure_of(e: BaseException) -> Failure | None:
    found = getattr(e, _ATTRIBUTE, None)
    return found if isinstance(found, Failure) else None


def log_lines_of(e: BaseException) -> list[str]:
    """The log lines a failed execution printed before ``e`` (empty if none)."""
    failure = failure_of(e)
    return list(failure.log_lines) if failure is not None else []


def describe(e: BaseException) -> str:
    if isinstance(e, ConvexError):
        return f"Uncaught ConvexError: {e}"
    if isinstance(e, PyConvexError):
        return f"{type(e).__name__}: {e.message}"
    remote = getattr(e, "remote_description", None)
    if isinstance(remote, str):
        return remote
    return f"{type(e).__name__}: {e}" if str(e) else type(e).__name__


def user_traceback(e: BaseException) -> str:
    """The traceback without pyconvex's runtime frames (the metering driver, the
    executor), which say nothing about the user's bug."""
    remote = getattr(e, "remote_traceback", None)
    if isinstance(remote, str):
        return remote
    exc = traceback.TracebackException.from_exception(e)
    for te in _chain(exc):
        te.stack = traceback.StackSummary.from_list(
            [f for f in te.stack if not f.filename.startswith(_RUNTIME_DIRS)]
        )
    return "".join(exc.format())


def _chain(exc: traceback.TracebackException) -> list[traceback.TracebackException]:
    out = []
    current: traceback.TracebackException | None = exc
    while current is not None and current not in out:
        out.append(current)
        current = current.__cause__ or current.__context__
    return out


def log_failure(failure: Failure, duration_ms: float) -> None:
    level = logging.ERROR if not failure.error.startswith("Uncaught ConvexError") else logging.INFO
    log.log(
        level,
        "%s %s failed [Request ID: %s]: %s\n%s",
        failure.kind, failure.path, failure.request_id, failure.error, failure.traceback.rstrip(),
        extra={"pyconvex_failure": {
            "event": "function_failed",
            "path": failure.path,
            "kind": failure.kind,
            "requestId": failure.request_id,
            "error": failure.error,
            "traceback": failure.traceback,
            "durationMs": round(duration_ms, 3),
            "logLines": failure.log_lines,
        }},
    )


def failure_fields(record: logging.LogRecord) -> dict[str, Any] | None:
    found = getattr(record, "pyconvex_failure", None)
    return found if isinstance(found, dict) else None
