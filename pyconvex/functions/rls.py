"""Row-level security: ``wrap_database_reader`` / ``wrap_database_writer``.

A wrapped ``ctx.db`` applies per-table rules to every document it hands out or
changes (convex-helpers' ``rowLevelSecurity`` semantics):

- ``read(ctx, doc)``: is ``doc`` visible? Applied on every read path: ``get``, every
  query terminal (``collect``, ``take``, ``first``, ``unique``, ``async for``,
  ``paginate``), with or without an index, with filters, full-text search queries,
  and ``vector_search``. An invisible document is skipped as if it did not exist.
- ``insert(ctx, doc)``: may ``doc`` (without system fields) be inserted?
- ``modify(ctx, doc)``: may the existing ``doc`` be patched, replaced or deleted?
  The document must also be readable.

Rules may be ``async`` and may read other documents through ``ctx.db`` (the
unwrapped one: rules do not apply to the rules' own reads). Everything a rule reads,
and every document a query scanned and a rule rejected, is in the read set, so live
queries re-run exactly when a rule's answer may change. In a query the rules' ``get``
remembers documents for the execution (fixed snapshot, no writes); in a mutation it
reads every time, so rules see the mutation's own writes.

A table without a rule for an operation follows ``default_policy`` (``"allow"``, as
in convex-helpers, or ``"deny"``). A refused write raises :class:`ForbiddenError`;
like any error in a mutation, it makes the whole mutation write nothing.

Pagination stays gap-free and correctly sized: a page is filled from successive
underlying pages (each asking only for the items still missing, so it never
overshoots), and its ``continueCursor`` is where the scan stopped.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, Literal, TypedDict

from pyconvex.database.query.pagination import current_journal
from pyconvex.database.query.plan import Terminals
from pyconvex.errors import ForbiddenError, InvalidQueryError
from pyconvex.functions.custom import CustomCtx
from pyconvex.functions.wrapped_db import DatabaseWrapper, MemoReader, split_target
from pyconvex.values import Document, Id

__all__ = [
    "DefaultPolicy",
    "RlsQuery",
    "RlsReader",
    "RlsWriter",
    "Rule",
    "Rules",
    "TableRules",
    "wrap_database_reader",
    "wrap_database_writer",
]

Rule = Callable[[Any, Document], Awaitable[bool] | bool]
"""``rule(ctx, doc) -> bool`` (or an awaitable of it)."""

DefaultPolicy = Literal["allow", "deny"]


class TableRules(TypedDict, total=False):
    read: Rule
    insert: Rule
    modify: Rule


Rules = Mapping[str, TableRules]

_OPERATIONS = ("read", "insert", "modify")
_VECTOR_LIMIT_MAX = 256


def _check_rules(rules: Any, default_policy: Any) -> None:
    if default_policy not in ("allow", "deny"):
        raise ValueError(f"default_policy must be 'allow' or 'deny', got {default_policy!r}")
    if not isinstance(rules, Mapping):
        raise TypeError(
            "rules must be a dict {table: {'read': fn, 'insert': fn, 'modify': fn}}, "
            f"got {type(rules).__name__}"
        )
    for table, table_rules in rules.items():
        if not isinstance(table, str) or not isinstance(table_rules, Mapping):
            raise TypeError(f"rules[{table!r}] must be a dict of 'read'/'insert'/'modify' rules")
        for op, rule in table_rules.items():
            if op not in _OPERATIONS:
                raise TypeError(
                    f"rules[{table!r}] has an unknown operation {op!r}; the operations are "
                    "'read', 'insert' and 'modify'"
                )
            if not callable(rule):
                raise TypeError(f"rules[{table!r}][{op!r}] must be a function (ctx, doc) -> bool")


def _rule_ctx(ctx: Any) -> Any:
    """The ctx rules receive. In a query (a read-only ``ctx.db``) its ``get`` remembers
    documents for the execution, so a rule that looks up the same channel for each of
    a thousand messages reads it once; where the database can write, it is ``ctx``."""
    db = getattr(ctx, "db", None)
    if db is None or callable(getattr(db, "insert", None)) or not callable(getattr(db, "get", None)):
        return ctx
    try:
        return CustomCtx(ctx, {"db": MemoReader(db)})
    except TypeError:  # not a ctx.db a wrapper can hold: leave the rules' ctx alone
        return ctx


class RlsReader(DatabaseWrapper):
    """``ctx.db`` (read-only) with row-level security; see the module docstring."""

    def __init__(
        self, ctx: Any, db: Any, rules: Rules, default_policy: DefaultPolicy = "allow"
    ) -> None:
        super().__init__(db)
        _check_rules(rules, default_policy)
        self.ctx = _rule_ctx(ctx)
        self.rules = rules
        self.default_policy: DefaultPolicy = default_policy

    async def allowed(self, op: str, table: str | None, doc: Any) -> bool:
        """Whether ``op`` on ``doc`` of ``table`` passes its rule (or the default policy)."""
        table_rules: Mapping[str, Any] = self.rules.get(table, {}) if table is not None else {}
        rule: Rule | None = table_rules.get(op)
        if rule is None:
            return self.default_policy == "allow"
        answer = rule(self.ctx, doc)
        if inspect.isawaitable(answer):
            answer = await answer
        return bool(answer)

    def table_of(self, doc_id: Any) -> str | None:
        return self._table_among(doc_id, self.rules)

    async def get(self, *args: Any) -> Document | None:
        """The document, or None when it does not exist *or* its read rule refuses it."""
        table, doc_id = split_target("get", args, 1)
        doc: Document | None = await self.inner.get(*args)
        if doc is None:
            return None
        if not await self.allowed("read", table or self.table_of(doc_id), doc):
            return None
        return doc

    def query(self, table: str) -> RlsQuery:
        return RlsQuery(self, table)

    async def vector_search(
        self, table: str, index: str, *, vector: list[float], limit: int = 10, filter: Any = None
    ) -> list[dict[str, Any]]:
        """``ctx.db.vector_search`` keeping only readable documents, still up to ``limit``
        of them: when the rule removes some, the search is repeated with a larger limit
        (up to 256)."""
        asked = limit
        while True:
            found: list[dict[str, Any]] = await self.inner.vector_search(
                table, index, vector=vector, limit=asked, filter=filter
            )
            kept = []
            for hit in found:
                doc = await self.inner.get(hit["_id"])
                if doc is not None and await self.allowed("read", table, doc):
                    kept.append(hit)
                    if len(kept) == limit:
                        return kept
            if len(found) < asked or asked >= _VECTOR_LIMIT_MAX:
                return kept
            asked = min(_VECTOR_LIMIT_MAX, asked * 2)


class RlsWriter(RlsReader):
    """``ctx.db`` (read + write) with row-level security; see the module docstring."""

    async def insert(self, table: str, document: dict[str, Any]) -> Id:
        if not await self.allowed("insert", table, document):
            raise ForbiddenError(
                f"db.insert('{table}'): refused by row-level security (the table's "
                f"insert rule{'' if 'insert' in self.rules.get(table, {}) else ' default policy'})",
                short_msg="InsertNotAllowed",
            )
        new_id: Id = await self.inner.insert(table, document)
        return new_id

    async def _check_modify(self, op: str, table: str | None, doc_id: Any) -> None:
        get_args = (table, doc_id) if table is not None else (doc_id,)
        doc = await self.inner.get(*get_args)
        if doc is None:
            return  # the write itself reports the missing document, as without rules
        table = table or self.table_of(doc_id)
        if not await self.allowed("read", table, doc):
            raise ForbiddenError(
                f"db.{op}({doc_id}): refused by row-level security: the document is not "
                "readable",
                short_msg="ReadNotAllowed",
            )
        if not await self.allowed("modify", table, doc):
            raise ForbiddenError(
                f"db.{op}({doc_id}): refused by row-level security (the modify rule of "
                f"'{table}')" if table is not None and "modify" in self.rules.get(table, {})
                else f"db.{op}({doc_id}): refused by row-level security (default policy)",
                short_msg="ModifyNotAllowed",
            )

    async def patch(self, *args: Any) -> None:
        table, doc_id = split_target("patch", args, 2)
        await self._check_modify("patch", table, doc_id)
        await self.inner.patch(*args)

    async def replace(self, *args: Any) -> None:
        table, doc_id = split_target("replace", args, 2)
        await self._check_modify("replace", table, doc_id)
        await self.inner.replace(*args)

    async def delete(self, *args: Any) -> None:
        table, doc_id = split_target("delete", args, 1)
        await self._check_modify("delete", table, doc_id)
        await self.inner.delete(*args)


class RlsQuery(Terminals):
    """``ctx.db.query(table)`` under row-level security: the same builder and terminals,
    yielding only documents the table's read rule admits.

    The builder steps are recorded, so pagination can run the underlying query again
    from a cursor (an engine query runs once).
    """

    def __init__(self, reader: RlsReader, table: str) -> None:
        self._reader = reader
        self._table = table
        self._steps: list[tuple[str, tuple[Any, ...]]] = []
        self._query: Any = reader.inner.query(table)  # unknown tables fail here, as usual

    # ------------------------------------------------------------------ building
    def _step(self, name: str, *args: Any) -> RlsQuery:
        self._query = getattr(self._query, name)(*args)
        self._steps.append((name, args))
        return self

    def with_index(self, name: str, range: Callable[[Any], Any] | None = None) -> RlsQuery:
        return self._step("with_index", name, range)

    def with_search_index(self, name: str, search: Callable[[Any], Any]) -> RlsQuery:
        return self._step("with_search_index", name, search)

    def full_table_scan(self) -> RlsQuery:
        return self._step("full_table_scan")

    def order(self, order: str) -> RlsQuery:
        return self._step("order", order)

    def filter(self, predicate: Callable[[Any], Any]) -> RlsQuery:
        return self._step("filter", predicate)

    # ----------------------------------------------------------------- execution
    def _take_query(self) -> Any:
        """The underlying query for one run: the built one first, then fresh replays."""
        query = self._query
        if query is None:
            query = self._reader.inner.query(self._table)
            for name, args in self._steps:
                query = getattr(query, name)(*args)
        self._query = None
        return query

    async def _visible(self, doc: Document) -> bool:
        return await self._reader.allowed("read", self._table, doc)

    def __aiter__(self) -> AsyncIterator[Document]:
        return self._docs()

    async def _docs(self) -> AsyncIterator[Document]:
        async for doc in self._take_query():
            if await self._visible(doc):
                yield doc

    async def collect(self) -> list[Document]:
        docs = await self._take_query().collect()
        return [doc for doc in docs if await self._visible(doc)]

    async def take(self, n: int) -> list[Document]:
        if isinstance(n, bool) or not isinstance(n, (int, float)) or n != int(n) or n < 0:
            raise InvalidQueryError(
                f"take() expects a non-negative integer, got {n!r}", short_msg="InvalidQuery"
            )
        out: list[Document] = []
        if n == 0:
            return out
        docs = self._docs()
        try:
            async for doc in docs:
                out.append(doc)
                if len(out) >= n:
                    break
        finally:
            await docs.aclose()  # type: ignore[attr-defined]
        return out

    async def paginate(self, opts: Any) -> dict[str, Any]:
        """A page of up to ``numItems`` visible documents, gap-free across pages.

        A live page (one the query journal or ``endCursor`` pins) is one underlying
        page, filtered: it grows and shrinks with the data between its fixed ends. A
        new page is filled from successive underlying pages, each asking only for the
        items still missing, so it never overshoots; only its final end is recorded
        in the journal, as the end of the one paginated query the function ran.
        """
        journal = current_journal.get()
        pinned = isinstance(opts, dict) and (
            opts.get("endCursor") is not None
            or opts.get("maximumRowsRead") is not None
            or opts.get("maximumBytesRead") is not None
            or (journal is not None and journal.previous_end() is not None)
        )
        if not isinstance(opts, dict) or pinned:
            result = dict(await self._take_query().paginate(opts))
            result["page"] = [d for d in result["page"] if await self._visible(d)]
            return result
        wanted: Any = opts.get("numItems")
        page: list[Document] = []
        ends: list[tuple[int, str]] = []
        statuses: list[Any] = []
        cursor = opts.get("cursor")
        token = current_journal.set(None)  # the chunks are not the page: record it once
        try:
            while True:
                need = wanted - len(page) if isinstance(wanted, (int, float)) else wanted
                result = dict(await self._take_query().paginate(
                    {**opts, "numItems": need, "cursor": cursor}))
                page.extend([d for d in result["page"] if await self._visible(d)])
                cursor = result["continueCursor"]
                ends.append((len(page), cursor))
                statuses.append(result.get("pageStatus"))
                if result["isDone"] or len(page) >= wanted:
                    break
        finally:
            current_journal.reset(token)
        if journal is not None:
            journal.record(cursor)
        result["page"] = page
        if len(ends) > 1:
            # Several underlying pages: the boundary nearest the middle splits this one.
            half = len(page) / 2
            result["splitCursor"] = next(c for n, c in ends if n >= half)
            result["pageStatus"] = next((st for st in statuses if st), None)
        return result


def wrap_database_reader(
    ctx: Any, db: Any, rules: Rules, *, default_policy: DefaultPolicy = "allow"
) -> RlsReader:
    """``db`` with row-level security for reading (queries).

    >>> rules = {"messages": {"read": lambda ctx, doc: is_member(ctx, doc["channelId"])}}
    >>> rls_query = custom_query(query, custom_ctx(
    ...     lambda ctx: {"db": wrap_database_reader(ctx, ctx.db, rules)}))

    ``ctx`` is what rules receive (typically the original ctx, whose ``db`` is
    unwrapped, so rules read without rules).
    """
    return RlsReader(ctx, db, rules, default_policy)


def wrap_database_writer(
    ctx: Any, db: Any, rules: Rules, *, default_policy: DefaultPolicy = "allow"
) -> RlsWriter:
    """``db`` with row-level security for reading and writing (mutations): reads are
    filtered as in :func:`wrap_database_reader`; ``insert`` checks the insert rule,
    ``patch``/``replace``/``delete`` the read and modify rules of the existing document."""
    if not callable(getattr(db, "insert", None)):
        raise TypeError(
            "wrap_database_writer needs a writable ctx.db (a mutation's); in queries use "
            "wrap_database_reader"
        )
    return RlsWriter(ctx, db, rules, default_policy)
