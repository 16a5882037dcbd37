"""Where the server's log goes: stderr, one record per line.

``pyconvex serve`` writes JSON lines (a log collector parses them; a function failure's
traceback, path and request id are fields of one record). ``pyconvex dev`` writes
plain text for people, and leaves function failures to its console, which prints them
with their traceback as they happen. What functions themselves log is not the
server's log: it stays with their execution (``OutsideFunctions``).
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

import orjson

from pyconvex.functions.runtime.failures import failure_fields
from pyconvex.functions.runtime.logs import OutsideFunctions

_MARK = "_pyconvex_server_handler"


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        fields = failure_fields(record)
        if fields is not None:
            out["message"] = f"{fields['kind']} {fields['path']} failed: {fields['error']}"
            out.update(fields)
        else:
            out["message"] = record.getMessage()
            if record.exc_info:
                out["traceback"] = self.formatException(record.exc_info)
        return orjson.dumps(out, default=str).decode()


class _NotFailures(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return failure_fields(record) is None


def configure_server_logging(*, json: bool, failures: bool = True, level: int = logging.INFO) -> None:
    """Install the stderr handler once (again: replace it). ``failures=False`` leaves
    function failures to a console that prints them itself (``pyconvex dev``)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, _MARK, False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    setattr(handler, _MARK, True)
    handler.addFilter(OutsideFunctions())
    if not failures:
        handler.addFilter(_NotFailures())
    handler.setFormatter(
        JsonLines() if json else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    handler.setLevel(level)
    root.addHandler(handler)
    logging.getLogger("pyconvex").setLevel(level)
