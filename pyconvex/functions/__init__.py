"""Backend functions: registration, loading, references, and the runtime."""

from pyconvex.functions.api import FunctionReference, api, function_path, internal
from pyconvex.functions.crons import CronJob, Crons, next_run
from pyconvex.functions.http import HttpAction, HttpRouter, cors, http_action
from pyconvex.functions.loader import FunctionsLoadError, load_functions, unload
from pyconvex.functions.registration import (
    FunctionKind,
    RegisteredFunction,
    Visibility,
    action,
    internal_action,
    internal_mutation,
    internal_query,
    mutation,
    query,
)
from pyconvex.functions.registry import Registry, canonicalize_path, display_path
from pyconvex.functions.runtime import (
    DEFAULT_FUNCTION_LIMITS,
    REMOVE,
    ActionBackend,
    ExecutionListener,
    ExecutionRecord,
    Failure,
    FunctionLimits,
    FunctionResult,
    FunctionRunner,
    failure_of,
    log_lines_of,
    new_request_id,
)

__all__ = [
    "DEFAULT_FUNCTION_LIMITS",
    "REMOVE",
    "ActionBackend",
    "CronJob",
    "Crons",
    "ExecutionListener",
    "ExecutionRecord",
    "Failure",
    "FunctionKind",
    "FunctionLimits",
    "FunctionReference",
    "FunctionResult",
    "FunctionRunner",
    "FunctionsLoadError",
    "HttpAction",
    "HttpRouter",
    "RegisteredFunction",
    "Registry",
    "Visibility",
    "action",
    "api",
    "canonicalize_path",
    "cors",
    "display_path",
    "failure_of",
    "function_path",
    "http_action",
    "internal",
    "internal_action",
    "internal_mutation",
    "internal_query",
    "load_functions",
    "log_lines_of",
    "mutation",
    "new_request_id",
    "next_run",
    "query",
    "unload",
]
