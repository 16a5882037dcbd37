"""Implementations of the function runtime (ctx objects, execution, logs, guards)."""

from pyconvex.functions.runtime.ctx_impl import (
    REMOVE,
    ActionCtx,
    Auth,
    DatabaseReader,
    DatabaseWriter,
    MutationCtx,
    QueryCtx,
)
from pyconvex.functions.runtime.executor import ActionBackend, FunctionRunner
from pyconvex.functions.runtime.failures import Failure, failure_of, log_lines_of, new_request_id
from pyconvex.functions.runtime.journal import ExecutionListener, ExecutionRecord
from pyconvex.functions.runtime.limits import DEFAULT_FUNCTION_LIMITS, FunctionLimits
from pyconvex.functions.runtime.runner_api import FunctionResult

__all__ = [
    "DEFAULT_FUNCTION_LIMITS",
    "REMOVE",
    "ActionBackend",
    "ActionCtx",
    "Auth",
    "DatabaseReader",
    "DatabaseWriter",
    "ExecutionListener",
    "ExecutionRecord",
    "Failure",
    "FunctionLimits",
    "FunctionResult",
    "FunctionRunner",
    "MutationCtx",
    "QueryCtx",
    "failure_of",
    "log_lines_of",
    "new_request_id",
]
