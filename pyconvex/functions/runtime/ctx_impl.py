"""The ``ctx`` objects handed to handlers, one class per function kind.

Each exposes only what its kind may do (functions/ctx.py documents the interfaces):
queries read, mutations read and write, actions call other functions. Everything
reaches the database through a narrow set of :class:`Transaction` calls.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from pyconvex.database import USER_VISIBLE_SYSTEM_TABLES, Query, Transaction
from pyconvex.errors import BadRequestError, InvalidIdError, InvalidQueryError
from pyconvex.functions.registration import FunctionKind
from pyconvex.functions.registry import Registry
from pyconvex.functions.runtime.request_meta import META, Meta
from pyconvex.functions.runtime.runner_api import Runner
from pyconvex.functions.runtime.scheduling import ActionScheduler, MutationScheduler
from pyconvex.functions.runtime.services import StorageService
from pyconvex.functions.runtime.storage import ActionStorage, MutationStorage, QueryStorage
from pyconvex.values import Document, Id, convex_to_json, decode_id, json_to_convex


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

    @staticmethod
    def _table(name: str) -> str:
        if name not in USER_VISIBLE_SYSTEM_TABLES:
            raise InvalidQueryError(
                f"db.system.query('{name}'): only "
                f"{', '.join(sorted(USER_VISIBLE_SYSTEM_TABLES))} can be read.",
                short_msg="SystemTable",
            )
        return name

    async def get(self, table_or_id: str, doc_id: str | None = None, /) -> Document | None:
        """``get(id)`` or ``get("_storage", id)``."""
        if doc_id is None:
            doc_id = table_or_id
        else:
            doc_id = _check_table(self._txn, table_or_id, doc_id, "system.get", system=True)
        table = self._txn._table_of_id(doc_id) if isinstance(doc_id, str) else None
        if table is not None and table.name not in USER_VISIBLE_SYSTEM_TABLES:
            raise InvalidQueryError(
                f"db.system.get: {doc_id} is not in a readable system table",
                short_msg="SystemTable",
            )
        return await self._txn.get(doc_id)

    def query(self, table: str) -> Query:
        return Query(self._txn, self._table(table))


def _check_table(txn: Transaction, table: Any, doc_id: Any, op: str, system: bool = False) -> str:
    """The table-first forms (``db.get("messages", id)``): the id must be one of
    ``table``'s, as Convex checks it; a wrong table is an error naming both."""
    table = SystemReader._table(table) if system else _user_table(table, op)
    if not isinstance(doc_id, str):
        raise InvalidIdError(f"db.{op}({table!r}, ...): the id must be a string, got {doc_id!r}")
    actual = txn._table_of_id(doc_id)
    if actual is not None and actual.name != table:
        raise InvalidIdError(
            f"db.{op}: invalid argument id: expected to be an Id<\"{table}\">, got "
            f"Id<\"{actual.name}\"> instead.",
            short_msg="InvalidTable",
        )
    if actual is None and txn.table(table) is None:
        raise InvalidQueryError(f"db.{op}({table!r}, ...): there is no table {table!r}.",
                                short_msg="TableNotFound")
    return doc_id


def _split(op: str, txn: Transaction, first: Any, rest: tuple[Any, ...], arity: int) -> tuple[Any, ...]:
    """``(doc_id, *values)`` from the old form ``op(id, ...)`` or the table-first
    ``op(table, id, ...)``, told apart by the number of arguments."""
    if len(rest) == arity:
        return (_check_table(txn, first, rest[0], op), *rest[1:])
    if len(rest) == arity - 1:
        return (first, *rest)
    raise TypeError(
        f"db.{op} takes ({'id' if arity == 1 else 'id, value'}) or "
        f"(table, {'id' if arity == 1 else 'id, value'}), got {1 + len(rest)} arguments"
    )


class DatabaseReader:
    """``ctx.db`` in queries."""

    __slots__ = ("_system", "_txn")

    def __init__(self, txn: Transaction) -> None:
        self._txn = txn
        self._system: SystemReader | None = None

    @property
    def system(self) -> SystemReader:
        """``ctx.db.system``, made on first use: every query and mutation makes a
        ``ctx.db``, few read system tables (an object and its ``__init__`` per call saved)."""
        system = self._system
        if system is None:
            system = self._system = SystemReader(self._txn)
        return system

    async def get(self, table_or_id: str, doc_id: str | None = None, /) -> Document | None:
        """The document with this id, or None: ``get(id)`` or, as convex 1.48 prefers,
        ``get(table, id)`` (the id must belong to ``table``). Reading it makes the query
        depend on it."""
        if doc_id is not None:
            table_or_id = _check_table(self._txn, table_or_id, doc_id, "get")
        if isinstance(table_or_id, str):
            table = self._txn._table_of_id(table_or_id)
            if table is not None and table.is_system:
                raise InvalidQueryError(
                    f"db.get({table_or_id}): that is a system document; use ctx.db.system.get",
                    short_msg="SystemTable",
                )
        return await self._txn.get(table_or_id)

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
    """``ctx.db`` in mutations: reads see this mutation's own writes.

    ``patch``, ``replace`` and ``delete`` take the id first or, as convex 1.48 prefers,
    the table first (``patch("messages", id, {...})``), which checks the id's table."""

    __slots__ = ()

    async def insert(self, table: str, document: dict[str, Any]) -> Id:
        table = _user_table(table, "insert")
        doc_id = await self._txn.insert(table, document)
        # (An insert checked by the table's schema hands back the document's own Id.)
        return doc_id if type(doc_id) is Id and doc_id.table == table else Id(doc_id, table)

    async def patch(self, table_or_id: str, *rest: Any) -> None:
        doc_id, fields = _split("patch", self._txn, table_or_id, rest, 2)
        await self._txn.patch(doc_id, fields, REMOVE)

    async def replace(self, table_or_id: str, *rest: Any) -> None:
        doc_id, document = _split("replace", self._txn, table_or_id, rest, 2)
        await self._txn.replace(doc_id, document)

    async def delete(self, table_or_id: str, doc_id: str | None = None, /) -> None:
        if doc_id is not None:
            table_or_id = _check_table(self._txn, table_or_id, doc_id, "delete")
        await self._txn.delete(table_or_id)


class Auth:
    """``ctx.auth``: who is calling."""

    __slots__ = ("_identity",)

    def __init__(self, identity: dict[str, Any] | None) -> None:
        self._identity = identity

    async def get_user_identity(self) -> dict[str, Any] | None:
        return dict(self._identity) if self._identity is not None else None


MAX_CALL_DEPTH = 8
"""Convex's ``MAX_REACTOR_CALL_DEPTH``: nested ``run_query``/``run_mutation`` levels
below the function a client called."""


class _Calls(NamedTuple):
    """``ctx.run_query``/``ctx.run_mutation`` inside a query or mutation (convex 1.48):
    the callee runs in the caller's transaction, sees its writes, is called with the
    caller's identity, and has its arguments and return value validated as if called
    from a client (internal functions included). A nested mutation that raises leaves
    none of its writes; its caller may catch the error and go on.

    A named tuple made with ``tuple.__new__`` (``_new_tuple``): every query and mutation
    makes one, and a slotted class's ``__init__`` (a Python call setting six
    attributes) cost several times as much."""

    runner: Runner | None
    txn: Transaction
    identity: dict[str, Any] | None
    registry: Registry | None
    storage: StorageService | None
    depth: int

    async def call(self, kind: FunctionKind, ref: Any, args: dict[str, Any] | None) -> Any:
        runner = self.runner
        if runner is None:
            raise BadRequestError(
                f"ctx.run_{kind.value} is not available in this context (no function runner).",
                short_msg="InvalidFunctionCall",
            )
        fn = runner.resolve(ref, kind, internal_ok=True)
        if self.depth >= MAX_CALL_DEPTH:
            raise BadRequestError(
                "Cross component call depth limit exceeded. Do you have an infinite loop in "
                f"your app? (ctx.run_query/run_mutation nest at most {MAX_CALL_DEPTH} deep)",
                short_msg="MaximumCallDepthExceeded",
            )
        txn = self.txn
        # Values cross the call as they would cross the wire: the callee gets its own copy.
        checked = runner.check_args(fn, _copy(args if args is not None else {}), txn)
        if kind is FunctionKind.QUERY:
            ctx: QueryCtx | MutationCtx = QueryCtx(
                txn, self.identity, self.storage, runner=runner, depth=self.depth + 1
            )
            value = await fn.handler(ctx, **checked)
        else:
            point = txn.savepoint()
            ctx = MutationCtx(
                txn, self.identity, self.registry, self.storage, runner=runner,
                depth=self.depth + 1,
            )
            try:
                value = await fn.handler(ctx, **checked)
            except BaseException:
                txn.rollback_to(point)
                raise
        return _copy(runner.check_returns(fn, value, txn))


_new_tuple = tuple.__new__


def _copy(value: Any) -> Any:
    if value is None or isinstance(value, (str, float, int, bool)):
        return value
    return json_to_convex(convex_to_json(value))


class QueryCtx:
    __slots__ = ("_calls", "_now", "auth", "db", "storage")

    def __init__(
        self, txn: Transaction, identity: dict[str, Any] | None, storage: StorageService | None = None,
        *, runner: Runner | None = None, depth: int = 0,
    ) -> None:
        self.db = DatabaseReader(txn)
        self.auth = Auth(identity)
        self.storage = QueryStorage(txn, storage if storage is not None else StorageService())
        self._now = txn.now_ms
        self._calls = _new_tuple(_Calls, (
            runner, txn, identity, runner.registry if runner is not None else None, storage, depth
        ))

    def now(self) -> float:
        """The transaction's fixed time (ms since the epoch): deterministic on re-runs."""
        return self._now

    async def run_query(self, ref: Any, args: dict[str, Any] | None = None) -> Any:
        """Run a query (public or internal) inside this query's transaction: its reads
        become this query's reads, so the result stays reactive."""
        return await self._calls.call(FunctionKind.QUERY, ref, args)


class MutationCtx:
    """``ctx`` in mutations. ``auth``, ``storage`` and ``scheduler`` are made on first
    use (one of each per mutation that uses it): most mutations use ``db`` alone, and
    every mutation run makes a ``ctx``."""

    __slots__ = ("_auth", "_calls", "_now", "_scheduler", "_storage", "db")
    meta: Meta = META  # ctx.meta.get_request_metadata(): the client's address, ...

    def __init__(
        self, txn: Transaction, identity: dict[str, Any] | None, registry: Registry | None = None,
        storage: StorageService | None = None, *, runner: Runner | None = None,
        depth: int = 0,
    ) -> None:
        self.db = DatabaseWriter(txn)
        self._now = txn.now_ms
        self._calls = _new_tuple(_Calls, (runner, txn, identity, registry, storage, depth))
        self._auth: Auth | None = None
        self._storage: MutationStorage | None = None
        self._scheduler: MutationScheduler | None = None

    @property
    def auth(self) -> Auth:
        auth = self._auth
        if auth is None:
            auth = self._auth = Auth(self._calls.identity)
        return auth

    @property
    def storage(self) -> MutationStorage:
        storage = self._storage
        if storage is None:
            service = self._calls.storage
            storage = self._storage = MutationStorage(
                self._calls.txn, service if service is not None else StorageService()
            )
        return storage

    @property
    def scheduler(self) -> MutationScheduler:
        scheduler = self._scheduler
        if scheduler is None:
            registry = self._calls.registry
            scheduler = self._scheduler = MutationScheduler(
                self._calls.txn, registry if registry is not None else Registry()
            )
        return scheduler

    def now(self) -> float:
        return self._now

    async def run_query(self, ref: Any, args: dict[str, Any] | None = None) -> Any:
        """Run a query inside this mutation's transaction: it sees this mutation's
        writes so far."""
        return await self._calls.call(FunctionKind.QUERY, ref, args)

    async def run_mutation(self, ref: Any, args: dict[str, Any] | None = None) -> Any:
        """Run a mutation inside this mutation's transaction (one commit for both). If it
        raises, its writes are undone and the error reaches this mutation, which may
        catch it."""
        return await self._calls.call(FunctionKind.MUTATION, ref, args)


class ActionCtx:
    """``ctx`` in actions: no database handle; each ``run_*`` is its own transaction."""

    __slots__ = ("_identity", "_lines", "_runner", "auth", "scheduler", "storage")
    meta: Meta = META

    def __init__(
        self, runner: Runner, identity: dict[str, Any] | None, lines: list[str]
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
