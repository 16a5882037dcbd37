"""Built-in system functions (``_system/...``), which every registry finds (``lookup``)
beside the loaded code: internal, so only an admin may run them (the dashboard, with the
admin key)."""

from __future__ import annotations

from pyconvex.functions.registration import RegisteredFunction, internal_query
from pyconvex.functions.system.frontend import (
    indexes,
    list_cron_jobs,
    paginated_table_documents,
    table_size,
)
from pyconvex.schema import v

PREFIX = "_system/"


def _build() -> dict[str, RegisteredFunction]:
    functions = {
        "_system/frontend/paginatedTableDocuments:default": internal_query(args={
            "table": v.string(), "paginationOpts": v.any(),  # paginate() checks it
            "filters": v.optional(v.union(v.string(), v.null())),
            "at": v.optional(v.union(v.number(), v.null())),
        })(paginated_table_documents),
        "_system/frontend/tableSize:default": internal_query(args={"tableName": v.string()})(
            table_size),
        "_system/frontend/indexes:default": internal_query(args={
            "tableName": v.string(), "tableNamespace": v.optional(v.union(v.string(), v.null())),
        })(indexes),
        "_system/frontend/listCronJobs:default": internal_query(args={})(list_cron_jobs),
    }
    for path, fn in functions.items():
        fn.path = path
    return functions


SYSTEM_FUNCTIONS = _build()
"""By canonical path (``module:function``)."""
