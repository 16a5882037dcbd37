"""The ``ctx`` objects handed to handlers, one class per function kind.

Each exposes only what its kind may do (functions/ctx.py documents the interfaces):
queries read, mutations read and write, actions call other functions. Everything
reaches the database through a narrow set of :class:`Transaction` calls.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pyconvex.database import USER_VISIBLE_SYSTEM_TABLES, Query, Transaction
from pyconvex.errors import InvalidIdError, InvalidQueryError
from pyconvex.functions.registry import Registry
from pyconvex.functions.runtime.scheduling import ActionScheduler, MutationScheduler
from pyconvex.functions.runtime.storage import (
    ActionStorage,
    MutationStorage,
    QueryStorage,
    StorageService,
)
from pyconvex.values import Document, Id, decode_id

if TYPE_CHECKING:
    from pyconvex.functions.runtime.executor import FunctionRunner


class _Remove:
    """The sentinel for ``ctx.db.patch(id, {"field": REMOVE})``: delete the field.

    ``None`` is a real value (null) in Convex, so deleting needs its own marker, like
    ``undefined`` in TypeScript.
    """

    _instance: _Remove | None = None

    def __new__(cls) -> _Remove:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "REMOVE"


REMOVE = _Remove()


def _user_table(name: Any, op: str) -> str:
    if not isinstance(name, str):
        raise InvalidQueryError(f"db.{op} expects a table name string, got {name!r}")
    if name.startswith("_"):
        raise InvalidQueryError(
            f"db.{op}('{name}'): system tables are read with ctx.db.system "
            f"({', '.join(sorted(USER_VISIBLE_SYSTEM_TABLES))}).",
            short_msg="SystemTable",
        )
    return name


class SystemReader:
    """``ctx.db.system``: read-only access to ``_storage`` and ``_scheduled_functions``."""

    __slots__ = ("_txn",)

    def __init__(self, txn: Transaction) -> None:
        self._txn = txn

    def _table(self, name: str) -> str:
        if name not in USER_VISIBLE_SYSTEM_TABLES:
            raise InvalidQueryError(
                f"db.system.query('{name}'): only "
                f"{', '.join(sorted(USER_VISIBLE_SYSTEM_TABLES))} can be read.",
                short_msg="SystemTable",
            )
        return name

    async def get(self, doc_id: str) -> Document | None:
        table = self._txn._table_of_id(doc_id) if isinstance(doc_id, str) else None
        if table is not None and table.name not in USER_VISIBLE_SYSTEM_TABLES:
            raise InvalidQueryError(
                f"db.system.get: {doc_id} is not in a readable system table",
                short_msg="SystemTable",
            )
        return await self._txn.get(doc_id)

    def query(self, table: str) -> Query:
        return Query(self._txn, self._table(table))


class DatabaseReader:
    """``ctx.db`` in queries."""

    __slots__ = ("_txn", "system")

    def __init__(self, txn: Transaction) -> None:
        self._txn = txn
        self.system = SystemReader(txn)

    async def get(self, doc_id: str) -> Document | None:
        """The document with this id, or None. Reading it makes the query depend on it."""
        if isinstance(doc_id, str):
            table = self._txn._table_of_id(doc_id)
            if table is not None and table.is_system:
                raise InvalidQueryError(
                    f"db.get({doc_id}): that is a system document; use ctx.db.system.get",
                    short_msg="SystemTable",
                )
        return await self._txn.get(doc_id)

    def query(self, table: str) -> Query:
        return Query(self._txn, _user_table(table, "query"))

    async def vector_search(
        self, table: str, index: str, *, vector: list[float], limit: int = 10, filter: Any = None
    ) -> list[dict[str, Any]]:
        """Beyond Convex: vector search inside a query, at its snapshot, and reactive
        (the query re-runs when the table changes). Same arguments as in actions."""
        return await self._txn.db.search.vector_search(
            self._txn, _user_table(table, "vector_search"), index, vector, limit, filter
        )

    def normalize_id(self, table: str, id_string: str) -> Id | None:
        """``id_string`` as an id of ``table`` if it is one, else None."""
        if not isinstance(id_string, str):
            return None
        try:
            number, _ = decode_id(id_string)
        except InvalidIdError:
            return None
        info = self._txn.table(table)
        if info is None or info.number != number:
            return None
        return Id(id_string, table)


class DatabaseWriter(DatabaseReader):
    """``ctx.db`` in mutations: reads see this mutation's own writes."""

    __slots__ = ()

    async def insert(self, table: str, document: dict[str, Any]) -> Id:
        table = _user_table(table, "insert")
        return Id(await self._txn.insert(table, document), table)

    async def patch(self, doc_id: str, fields: dict[str, Any]) -> None:
        await self._txn.patch(doc_id, fields, REMOVE)

    async def replace(self, doc_id: str, document: dict[str, Any]) -> None:
        await self._txn.replace(doc_id, document)

    async def delete(self, doc_id: str) -> None:
        await self._txn.delete(doc_id)


class Auth:
    """``ctx.auth``: who is calling."""

    __slots__ = ("_identity",)

    def __init__(self, identity: dict[str, Any] | None) -> None:
        self._identity = identity

    async def get_user_identity(self) -> dict[str, Any] | None:
        return dict(self._identity) if self._identity is not None else None


class QueryCtx:
    __slots__ = ("_now", "auth", "db", "storage")

    def __init__(
        self, txn: Transaction, identity: dict[str, Any] | None, storage: StorageService | None = None
    ) -> None:
        self.db = DatabaseReader(txn)
        self.auth = Auth(identity)
        self.storage = QueryStorage(txn, storage if storage is not None else StorageService())
        self._now = txn.now_ms

    def now(self) -> float:
        """The transaction's fixed time (ms since the epoch): deterministic on re-runs."""
        return self._now


class MutationCtx:
    __slots__ = ("_now", "auth", "db", "scheduler", "storage")

    def __init__(
        self, txn: Transaction, identity: dict[str, Any] | None, registry: Registry | None = None,
        storage: StorageService | None = None,
    ) -> None:
        self.db = DatabaseWriter(txn)
        self.auth = Auth(identity)
        self.storage = MutationStorage(txn, storage if storage is not None else StorageService())
        self.scheduler = MutationScheduler(txn, registry if registry is not None else Registry())
        self._now = txn.now_ms

    def now(self) -> float:
        return self._now


class ActionCtx:
    """``ctx`` in actions: no database handle; each ``run_*`` is its own transaction."""

    __slots__ = ("_identity", "_lines", "_runner", "auth", "scheduler", "storage")

    def __init__(
        self, runner: FunctionRunner, identity: dict[str, Any] | None, lines: list[str]
    ) -> None:
        self._runner = runner
        self._identity = identity
        self._lines = lines
        self.auth = Auth(identity)
        self.scheduler = ActionScheduler(runner)
        self.storage = ActionStorage(runner)

    def now(self) -> float:
        return self._runner.clock()

    async def vector_search(
        self, table: str, index: str, *, vector: list[float], limit: int = 10, filter: Any = None
    ) -> list[dict[str, Any]]:
        """``[{"_id", "_score"}]`` by cosine similarity, best first; ``filter`` is
        ``lambda q: q.eq(field, value)`` or ``q.or_(q.eq(...), ...)`` on filter fields,
        applied before the limit (1..256)."""
        txn = self._runner.db.begin(writable=False)
        return await self._runner.db.search.vector_search(
            txn, _user_table(table, "vector_search"), index, vector, limit, filter
        )

    async def run_query(self, ref: Any, args: dict[str, Any] | None = None) -> Any:
        result = await self._runner.run_query(ref, args or {}, self._identity, internal_ok=True)
        self._lines.extend(result.log_lines)
        return result.value

    async def run_mutation(self, ref: Any, args: dict[str, Any] | None = None) -> Any:
        result = await self._runner.run_mutation(
            ref, args or {}, self._identity, internal_ok=True
        )
        self._lines.extend(result.log_lines)
        return result.value

    async def run_action(self, ref: Any, args: dict[str, Any] | None = None) -> Any:
        result = await self._runner.run_action(ref, args or {}, self._identity, internal_ok=True)
        self._lines.extend(result.log_lines)
        return result.value
