"""Tables and indexes: which exist, their numbers and ids, as of one timestamp.

The source of truth is two system tables in the same log as user data: ``_tables``
(``{name, number}``) and ``_index`` (``{tableNumber, name, fields, state, indexId}``), so
creating a table or an index is an ordinary, transactional write. :class:`Catalog` is
the immutable in-memory mirror that a transaction captures when it begins; a
transaction that changes it works on its own copy, published by the committer with
the commit.

System tables have fixed numbers and index ids (they must exist before any log can be
read); user tables are numbered from 10001 like Convex, user index ids from 100000.
Every table has ``by_id`` (key: ``_id``) and ``by_creation_time`` (key:
``_creationTime, _id``), except ``_session_requests``, which only the sync layer reads
(no ``by_creation_time``); every other index's key is its fields, then
``_creationTime``, then ``_id``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from pyconvex.schema import SchemaDefinition

IndexState = Literal["enabled", "backfilling", "staged"]

FIRST_USER_TABLE_NUMBER = 10001
FIRST_USER_INDEX_ID = 100_000

BY_ID = "by_id"
BY_CREATION_TIME = "by_creation_time"
ID_FIELD = "_id"
CREATION_TIME_FIELD = "_creationTime"


@dataclass(frozen=True, slots=True)
class IndexInfo:
    id: int
    table: str
    table_number: int
    name: str
    fields: tuple[str, ...]
    """Fields a range may name, in order (user fields, then ``_creationTime``)."""
    key_fields: tuple[str, ...]
    """Fields whose values make the key: ``fields`` then ``_id`` (``by_id``: ``_id``)."""
    state: IndexState = "enabled"
    doc_id: str | None = None
    """The ``_index`` document describing it (None for system tables' fixed indexes)."""

    @property
    def queryable(self) -> bool:
        return self.state == "enabled"


def index_info(
    index_id: int,
    table: str,
    table_number: int,
    name: str,
    user_fields: tuple[str, ...],
    state: IndexState = "enabled",
    doc_id: str | None = None,
) -> IndexInfo:
    if name == BY_ID:
        fields: tuple[str, ...] = (ID_FIELD,)
        key_fields: tuple[str, ...] = (ID_FIELD,)
    else:
        fields = (*user_fields, CREATION_TIME_FIELD)
        key_fields = (*fields, ID_FIELD)
    return IndexInfo(index_id, table, table_number, name, fields, key_fields, state, doc_id)


@dataclass(frozen=True, slots=True)
class TableInfo:
    name: str
    number: int
    indexes: Mapping[str, IndexInfo]
    doc_id: str | None = None
    """The ``_tables`` document (None for system tables)."""

    @property
    def is_system(self) -> bool:
        return self.name.startswith("_")

    @property
    def by_id(self) -> IndexInfo:
        return self.indexes[BY_ID]

    def with_index(self, info: IndexInfo) -> TableInfo:
        indexes = dict(self.indexes)
        indexes[info.name] = info
        return replace(self, indexes=MappingProxyType(indexes))

    def without_index(self, name: str) -> TableInfo:
        indexes = dict(self.indexes)
        indexes.pop(name, None)
        return replace(self, indexes=MappingProxyType(indexes))


def _system_table(
    name: str, number: int, extra: dict[str, tuple[str, ...]], *, by_creation_time: bool = True
) -> TableInfo:
    """Index ids are ``number * 8 + position`` in (by_id, by_creation_time, extra...):
    fixed forever (they are in the log), also for a table without ``by_creation_time``."""
    specs: dict[str, tuple[str, ...]] = {BY_ID: (), BY_CREATION_TIME: (), **extra}
    indexes = {
        index_name: index_info(number * 8 + k, name, number, index_name, fields)
        for k, (index_name, fields) in enumerate(specs.items())
        if by_creation_time or index_name != BY_CREATION_TIME
    }
    return TableInfo(name, number, MappingProxyType(indexes))


TABLES_TABLE = "_tables"
INDEX_TABLE = "_index"
SCHEMAS_TABLE = "_schemas"
SCHEDULED_FUNCTIONS_TABLE = "_scheduled_functions"
STORAGE_TABLE = "_storage"
ENVIRONMENT_VARIABLES_TABLE = "_environment_variables"
CRON_JOBS_TABLE = "_cron_jobs"
MODULES_TABLE = "_modules"
DEPLOYMENT_STATE_TABLE = "_deployment_state"
SESSION_REQUESTS_TABLE = "_session_requests"

SYSTEM_TABLES: tuple[TableInfo, ...] = (
    _system_table(TABLES_TABLE, 1, {"by_name": ("name",), "by_number": ("number",)}),
    _system_table(
        INDEX_TABLE, 2, {"by_table": ("tableNumber", "name"), "by_index_id": ("indexId",)}
    ),
    _system_table(SCHEMAS_TABLE, 3, {"by_state": ("state",)}),
    _system_table(
        SCHEDULED_FUNCTIONS_TABLE,
        4,
        {"by_next_ts": ("nextTs",), "by_state": ("state.kind",)},
    ),
    _system_table(STORAGE_TABLE, 5, {"by_sha256": ("sha256",), "by_internal_id": ("internalId",)}),
    _system_table(ENVIRONMENT_VARIABLES_TABLE, 6, {"by_name": ("name",)}),
    _system_table(CRON_JOBS_TABLE, 7, {"by_name": ("name",)}),
    _system_table(MODULES_TABLE, 8, {"by_path": ("path",)}),
    _system_table(DEPLOYMENT_STATE_TABLE, 9, {"by_key": ("key",)}),
    # No by_creation_time: one index entry less in every WebSocket mutation's commit (a
    # quarter of what the record cost the SQLite writer). Retention walks by_id instead,
    # whose ids increase with time (values/ids.py).
    _system_table(
        SESSION_REQUESTS_TABLE,
        10,
        {"by_session_id_and_request_id": ("sessionId", "requestId")},
        by_creation_time=False,
    ),
)

USER_VISIBLE_SYSTEM_TABLES = frozenset({STORAGE_TABLE, SCHEDULED_FUNCTIONS_TABLE})
"""System tables that ``ctx.db.system`` may read."""


@dataclass(frozen=True, slots=True)
class Catalog:
    tables_by_name: Mapping[str, TableInfo]
    tables_by_number: Mapping[int, TableInfo]
    next_table_number: int = FIRST_USER_TABLE_NUMBER
    next_index_id: int = FIRST_USER_INDEX_ID
    schema: SchemaDefinition | None = None
    """The schema in force with this catalog (published together by a schema push)."""

    @staticmethod
    def bootstrap() -> Catalog:
        """The catalog of an empty deployment: only the fixed system tables."""
        return Catalog.build(SYSTEM_TABLES)

    @staticmethod
    def build(
        tables: tuple[TableInfo, ...] | list[TableInfo],
        next_table_number: int = FIRST_USER_TABLE_NUMBER,
        next_index_id: int = FIRST_USER_INDEX_ID,
        schema: SchemaDefinition | None = None,
    ) -> Catalog:
        by_name = {t.name: t for t in tables}
        by_number = {t.number: t for t in tables}
        return Catalog(
            MappingProxyType(by_name),
            MappingProxyType(by_number),
            next_table_number,
            next_index_id,
            schema,
        )

    def table(self, name: str) -> TableInfo | None:
        return self.tables_by_name.get(name)

    def user_tables(self) -> list[TableInfo]:
        return [t for t in self.tables_by_name.values() if not t.is_system]

    def with_table(self, table: TableInfo) -> Catalog:
        tables = [t for t in self.tables_by_name.values() if t.name != table.name]
        tables.append(table)
        max_index = max((i.id for i in table.indexes.values()), default=0)
        return Catalog.build(
            tables,
            max(self.next_table_number, table.number + 1),
            max(self.next_index_id, max_index + 1),
            self.schema,
        )

    def with_schema(self, schema: SchemaDefinition | None) -> Catalog:
        return replace(self, schema=schema)
