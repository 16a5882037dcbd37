"""The database layer: catalog, transactions, the committer, the query engine.

Layers above use only what is exported here.
"""

from pyconvex.database.catalog import (
    SCHEDULED_FUNCTIONS_TABLE,
    STORAGE_TABLE,
    USER_VISIBLE_SYSTEM_TABLES,
    Catalog,
    IndexInfo,
    TableInfo,
)
from pyconvex.database.commit_request import CommitRequest
from pyconvex.database.committer import AFTER_VALIDATE, AFTER_WRITE, Committed
from pyconvex.database.database import Clock, Database, wall_clock_ms
from pyconvex.database.limits import DEFAULT_LIMITS, Limits
from pyconvex.database.pause import Hold, PausePoints
from pyconvex.database.query import Query
from pyconvex.database.reads import ReadSet, WrittenKey
from pyconvex.database.schema_push import SchemaPushResult, push_schema
from pyconvex.database.transaction import Transaction

__all__ = [
    "AFTER_VALIDATE",
    "AFTER_WRITE",
    "DEFAULT_LIMITS",
    "SCHEDULED_FUNCTIONS_TABLE",
    "STORAGE_TABLE",
    "USER_VISIBLE_SYSTEM_TABLES",
    "Catalog",
    "Clock",
    "CommitRequest",
    "Committed",
    "Database",
    "Hold",
    "IndexInfo",
    "Limits",
    "PausePoints",
    "Query",
    "ReadSet",
    "SchemaPushResult",
    "TableInfo",
    "Transaction",
    "WrittenKey",
    "push_schema",
    "wall_clock_ms",
]
