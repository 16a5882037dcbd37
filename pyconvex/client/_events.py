"""What the client state machine reports to its I/O shell: function outcomes and events.

A :class:`FunctionResult` keeps the server's answer as data (value or error message,
log lines, and whether ``errorData`` was present) and turns it into the return value or a
*fresh* exception on each :meth:`~FunctionResult.unwrap`, because one query result may be
delivered to many subscribers and one exception object must not be raised twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pyconvex.client._errors import ConvexError, ConvexExecutionError


@dataclass(frozen=True, slots=True)
class FunctionResult:
    """One function outcome as the server reported it. On failure ``value`` is the error
    message; ``has_error_data`` says whether ``errorData`` was on the wire."""

    success: bool
    value: Any = None
    log_lines: tuple[str, ...] = ()
    error_data: Any = None
    has_error_data: bool = False

    def unwrap(self) -> Any:
        """The value, or a fresh ConvexError / ConvexExecutionError for a failure."""
        if self.success:
            return self.value
        if self.has_error_data:
            raise ConvexError(self.value, self.error_data)
        raise ConvexExecutionError(self.value)


@dataclass(frozen=True, slots=True)
class QueryResult:
    query_id: int
    result: FunctionResult


@dataclass(frozen=True, slots=True)
class RequestDone:
    request_id: int
    result: FunctionResult


@dataclass(frozen=True, slots=True)
class RequestLost:
    """A request the connection failed (an action in flight when the socket closed)."""

    request_id: int
    reason: str


@dataclass(frozen=True, slots=True)
class AuthChange:
    """The server confirmed the token (``True``) or rejected it (``False``, with why)."""

    authenticated: bool
    error: str | None = None


@dataclass(frozen=True, slots=True)
class ServerFatal:
    error: str


ClientEvent = QueryResult | RequestDone | RequestLost | AuthChange | ServerFatal
