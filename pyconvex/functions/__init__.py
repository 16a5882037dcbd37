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
    REMOVE,
    ExecutionListener,
    ExecutionRecord,
    FunctionResult,
    FunctionRunner,
)

__all__ = [
    "REMOVE",
    "CronJob",
    "Crons",
    "ExecutionListener",
    "ExecutionRecord",
    "FunctionKind",
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
    "function_path",
    "http_action",
    "internal",
    "internal_action",
    "internal_mutation",
    "internal_query",
    "load_functions",
    "mutation",
    "next_run",
    "query",
    "unload",
]
