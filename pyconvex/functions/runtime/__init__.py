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
from pyconvex.functions.runtime.executor import (
    ExecutionListener,
    ExecutionRecord,
    FunctionResult,
    FunctionRunner,
)

__all__ = [
    "REMOVE",
    "ActionCtx",
    "Auth",
    "DatabaseReader",
    "DatabaseWriter",
    "ExecutionListener",
    "ExecutionRecord",
    "FunctionResult",
    "FunctionRunner",
    "MutationCtx",
    "QueryCtx",
]
