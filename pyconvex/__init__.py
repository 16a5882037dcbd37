"""pyconvex: Convex, the reactive database and backend platform, in Python.

The user surface: schema definitions, function decorators, references, errors.

>>> from pyconvex import define_schema, define_table, v, query, mutation, api

Names are loaded on first use, so ``import pyconvex.values`` stays light and the
layers below never import the ones above through this package.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    "REMOVE": "pyconvex.functions",
    "ConvexError": "pyconvex.errors",
    "Crons": "pyconvex.functions",
    "HttpRouter": "pyconvex.functions",
    "http_action": "pyconvex.functions",
    "cors": "pyconvex.functions",
    "Id": "pyconvex.values",
    "action": "pyconvex.functions",
    "api": "pyconvex.functions",
    "define_schema": "pyconvex.schema",
    "define_table": "pyconvex.schema",
    "internal": "pyconvex.functions",
    "internal_action": "pyconvex.functions",
    "internal_mutation": "pyconvex.functions",
    "internal_query": "pyconvex.functions",
    "mutation": "pyconvex.functions",
    "pagination_opts_validator": "pyconvex.schema",
    "query": "pyconvex.functions",
    "v": "pyconvex.schema",
    "RateLimiter": "pyconvex.ratelimit",
    "Triggers": "pyconvex.helpers",
    "custom_action": "pyconvex.helpers",
    "custom_ctx": "pyconvex.helpers",
    "custom_mutation": "pyconvex.helpers",
    "custom_query": "pyconvex.helpers",
    "wrap_database_reader": "pyconvex.helpers",
    "wrap_database_writer": "pyconvex.helpers",
}

# A literal list, so type checkers see the re-exports.
__all__ = [
    "REMOVE",
    "ConvexError",
    "Crons",
    "HttpRouter",
    "Id",
    "RateLimiter",
    "Triggers",
    "__version__",
    "action",
    "api",
    "cors",
    "custom_action",
    "custom_ctx",
    "custom_mutation",
    "custom_query",
    "define_schema",
    "define_table",
    "http_action",
    "internal",
    "internal_action",
    "internal_mutation",
    "internal_query",
    "mutation",
    "pagination_opts_validator",
    "query",
    "v",
    "wrap_database_reader",
    "wrap_database_writer",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'pyconvex' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:
    from pyconvex.errors import ConvexError
    from pyconvex.functions import (
        REMOVE,
        Crons,
        HttpRouter,
        action,
        api,
        cors,
        http_action,
        internal,
        internal_action,
        internal_mutation,
        internal_query,
        mutation,
        query,
    )
    from pyconvex.helpers import (
        Triggers,
        custom_action,
        custom_ctx,
        custom_mutation,
        custom_query,
        wrap_database_reader,
        wrap_database_writer,
    )
    from pyconvex.ratelimit import RateLimiter
    from pyconvex.schema import (
        define_schema,
        define_table,
        pagination_opts_validator,
        v,
    )
    from pyconvex.values import Id
