"""How function errors reach clients (HTTP and WebSocket alike).

- ``ConvexError``: its ``data`` travels intact as ``errorData``; the message reads like
  Convex's ``[Request ID: ...] Server Error\\nUncaught ConvexError: ...``.
- pyconvex's own request errors (bad arguments, unknown function, limits, ...): the
  message names the cause, since it is about how the function was called.
- Anything else is a bug in user code: clients get ``[Request ID: <id>] Server Error``
  and the traceback goes to the server log under that request id.
"""

from __future__ import annotations

import logging
from typing import Any, NamedTuple

import orjson

from pyconvex.errors import ConvexError, InternalError, PyConvexError
from pyconvex.functions import failure_of, new_request_id
from pyconvex.values import convex_to_json

log = logging.getLogger("pyconvex.functions")


class ErrorReply(NamedTuple):
    """What a client is told about a failed function (``QueryFailed``, a failed
    ``MutationResponse``/``ActionResponse``, an HTTP API error body)."""

    message: str
    data: Any
    has_data: bool


def format_function_error(e: BaseException, request_id: str | None = None) -> ErrorReply:
    """``(errorMessage, errorData, has_error_data)`` for a function that raised ``e``.

    The request id is the failed execution's own (the one its logged traceback carries),
    so what a client shows leads an operator to the record."""
    failure = failure_of(e)
    rid = failure.request_id if failure is not None else request_id or new_request_id()
    if isinstance(e, ConvexError):
        try:
            shown = e.data if isinstance(e.data, str) else orjson.dumps(convex_to_json(e.data)).decode()
        except Exception:
            shown = repr(e.data)
        return ErrorReply(f"[Request ID: {rid}] Server Error\nUncaught ConvexError: {shown}", e.data, True)
    if isinstance(e, PyConvexError) and not isinstance(e, InternalError):
        return ErrorReply(f"[Request ID: {rid}] {e.message}", None, False)
    if failure is None:  # not from a function execution, so not logged yet
        log.error("[Request ID: %s] Uncaught %s", rid, type(e).__name__, exc_info=e)
    return ErrorReply(f"[Request ID: {rid}] Server Error", None, False)
