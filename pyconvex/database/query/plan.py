"""The query builder users see as ``ctx.db.query(table)``, and its execution.

A query is a table, one index range (default: ``by_creation_time``, i.e. a full scan in
creation order), an order, and filters. Execution streams rows from
:meth:`Transaction.scan`, so ``take(n)`` reads (and records in the read set) only as
far as its n-th match.
"""

from __future__ import annotations

import struct
from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Any

from pyconvex.database.catalog import BY_CREATION_TIME
from pyconvex.database.query.filter import Evaluator, compile_filter
from pyconvex.database.query.index_range import build_range
from pyconvex.database.query.pagination import (
    END_CURSOR,
    PaginationOptions,
    cut_page,
    fingerprint,
    finish_page,
    page_bounds,
)
from pyconvex.database.reads import key_successor
from pyconvex.database.transaction import Transaction
from pyconvex.errors import InvalidQueryError
from pyconvex.values import Document, encode_key
from pyconvex.values.keys import prefix_end

_WHOLE_INDEX = (b"", prefix_end(b""))
"""An index range with no bounds: a query reading it reads the table without an index
range (counted in ``Transaction.docs_read_unindexed``)."""

class Terminals(ABC):
    """``first()`` and ``unique()`` from ``take()``: one definition for every query-like
    class (the engine's and row-level security's filtered one)."""

    _table: str

    @abstractmethod
    async def take(self, n: int) -> list[Document]: ...

    async def first(self) -> Document | None:
        docs = await self.take(1)
        return docs[0] if docs else None

    async def unique(self) -> Document | None:
        """The single match or None; raises if there is more than one."""
        docs = await self.take(2)
        if len(docs) > 1:
            raise InvalidQueryError(
                f"unique() query on '{self._table}' returned more than one result: "
                f"{docs[0]['_id']!s}, {docs[1]['_id']!s}, ...",
                short_msg="UniqueQueryHadMultipleResults",
            )
        return docs[0] if docs else None


class Query(Terminals):
    """Chain ``with_index``/``full_table_scan``, ``order``, ``filter``; end with a terminal.

    >>> await ctx.db.query("messages").with_index(
    ...     "by_channel", lambda q: q.eq("channelId", cid)).order("desc").take(20)
    """

    def __init__(self, txn: Transaction, table: str) -> None:
        self._txn = txn
        self._table = table
        self._index_name: str | None = None
        self._range_fn: Any = None
        self._order = "asc"
        self._order_set = False
        self._filters: list[Evaluator] = []
        self._used = False
        self._search: tuple[str, Callable[[Any], Any]] | None = None

    # --------------------------------------------------------------- building
    def with_index(self, name: str, range: Callable[[Any], Any] | None = None) -> Query:
        if self._index_name is not None:
            raise InvalidQueryError(
                f"query('{self._table}'): with_index/full_table_scan was already called.",
                short_msg="InvalidQuery",
            )
        self._index_name = name
        self._range_fn = range
        return self

    def with_search_index(self, name: str, search: Callable[[Any], Any]) -> Query:
        """Full-text search: ``lambda q: q.search("text", "hello").eq("channelId", c)``.

        Results come in relevance order (BM25; the last term also matches as a prefix),
        at most 1,024; ``filter``, ``take``, ``first``, ``collect`` and ``paginate``
        apply to them. The query re-runs when the table changes.
        """
        if self._index_name is not None or self._search is not None:
            raise InvalidQueryError(
                f"query('{self._table}'): with_search_index cannot follow with_index.",
                short_msg="InvalidQuery",
            )
        self._search = (name, search)
        return self

    async def _ranked(self) -> list[tuple[bytes, Document]]:
        """Search results keyed as Convex keys them: score descending, then newest
        first, then id. Scores are rounded to float32, as Convex keeps them, so that the
        two scoring paths (NumPy for the newest state, per-version for older snapshots)
        give one document the same key; a page's cursors stay put as others come and go."""
        name, build = self._search  # type: ignore[misc]
        found = await self._txn.db.search.text_search(self._txn, self._table, name, build)
        ranked: list[tuple[bytes, Document]] = []
        for doc_id, score in found:
            doc = await self._txn.get(doc_id)
            if doc is None:
                continue
            rounded = struct.unpack("<f", struct.pack("<f", score))[0]
            created = doc["_creationTime"]
            assert isinstance(created, (int, float))
            ranked.append((encode_key([-rounded, -float(created), str(doc["_id"])]), doc))
        ranked.sort(key=lambda item: item[0])
        return ranked

    async def _search_docs(self) -> AsyncGenerator[tuple[bytes, Document], None]:
        for key, doc in await self._ranked():
            if not self._filters or self._matches(doc):
                yield key, doc

    def full_table_scan(self) -> Query:
        return self.with_index(BY_CREATION_TIME)

    def order(self, order: str) -> Query:
        if order not in ("asc", "desc"):
            raise InvalidQueryError(
                f"order() takes 'asc' or 'desc', got {order!r}", short_msg="InvalidQuery"
            )
        if self._order_set:
            raise InvalidQueryError("order() was already called.", short_msg="InvalidQuery")
        self._order = order
        self._order_set = True
        return self

    def filter(self, predicate: Any) -> Query:
        self._filters.append(compile_filter(predicate))
        return self

    # -------------------------------------------------------------- execution
    def _range(self) -> tuple[Any, bytes, bytes]:
        index = self._txn.index(self._table, self._index_name or BY_CREATION_TIME)
        lo, hi = build_range(index, self._range_fn, self._txn.catalog.schema)
        return index, lo, hi

    def _matches(self, doc: Document) -> bool:
        return all(f(doc) for f in self._filters)

    async def _stream(self, page_hint: int = 64) -> AsyncGenerator[tuple[bytes, Document], None]:
        if self._used:
            raise InvalidQueryError(
                "A query can be run only once; build a new one with ctx.db.query().",
                short_msg="QueryReused",
            )
        self._used = True
        if self._search is not None:
            if self._order_set:
                raise InvalidQueryError("Search results are in relevance order: no order().",
                                        short_msg="InvalidQuery")
            async for item in self._search_docs():
                yield item
            return
        index, lo, hi = self._range()
        txn = self._txn
        scan = txn.scan(index, lo, hi, self._order, page_hint)  # type: ignore[arg-type]
        filters = self._filters
        before = txn.docs_read if (lo, hi) == _WHOLE_INDEX else -1
        try:
            async for key, doc in scan:
                if not filters or self._matches(doc):
                    yield key, doc
        finally:
            if before >= 0 and txn.docs_read > before:
                txn.note_unindexed(self._table, txn.docs_read - before)

    def __aiter__(self) -> AsyncIterator[Document]:
        return self._docs()

    async def _docs(self) -> AsyncIterator[Document]:
        async for _, doc in self._stream():
            yield doc

    async def collect(self) -> list[Document]:
        return [doc async for _, doc in self._stream(256)]

    async def take(self, n: int) -> list[Document]:
        if isinstance(n, bool) or not isinstance(n, (int, float)) or n != int(n) or n < 0:
            raise InvalidQueryError(
                f"take() expects a non-negative integer, got {n!r}", short_msg="InvalidQuery"
            )
        n = int(n)
        out: list[Document] = []
        if n == 0:
            return out
        stream = self._stream(n)
        async for _, doc in stream:
            out.append(doc)
            if len(out) >= n:
                break
        await stream.aclose()
        return out

    async def _paginate_search(self, options: PaginationOptions) -> dict[str, Any]:
        """Search pages: cursors are positions in the order of ``_ranked``."""
        if self._used:
            raise InvalidQueryError("A query can be run only once.", short_msg="QueryReused")
        self._used = True
        fp = fingerprint("search", self._table, self._search[0])  # type: ignore[index]
        bounds = page_bounds(options, fp)
        if bounds.at_end:
            return finish_page([], bounds.end_cursor or END_CURSOR)
        ranked = [
            (key, doc) for key, doc in await self._ranked()
            if (bounds.start is None or key > bounds.start) and (bounds.end is None or key <= bounds.end)
        ]

        async def rows() -> AsyncGenerator[tuple[bytes, Document], None]:
            for item in ranked:
                yield item

        return await cut_page(rows(), self._matches, options, bounds, fp, lambda: 0,
                              self._txn.limits, splittable=False)

    async def paginate(self, opts: Any) -> dict[str, Any]:
        """One page: ``{"page", "isDone", "continueCursor", "splitCursor", "pageStatus"}``.

        Within a query's run, the page ends where the journal says (see
        ``pagination.py``): a live page keeps its range as documents come and go.
        """
        options = PaginationOptions.parse(opts)
        if self._search is not None:
            return await self._paginate_search(options)
        if self._used:
            raise InvalidQueryError("A query can be run only once.", short_msg="QueryReused")
        self._used = True
        index, lo, hi = self._range()
        whole = (lo, hi) == _WHOLE_INDEX
        asc = self._order == "asc"
        fp = fingerprint(index.id, lo, hi, self._order)
        bounds = page_bounds(options, fp)
        if bounds.at_end:  # the end cursor: nothing left
            return finish_page([], bounds.end_cursor or END_CURSOR)
        if bounds.start is not None:
            if asc:
                lo = max(lo, key_successor(bounds.start))
            else:
                hi = min(hi, bounds.start)
        if bounds.end is not None:
            if asc:
                hi = min(hi, key_successor(bounds.end))
            else:
                lo = max(lo, bounds.end)
        txn = self._txn

        async def rows() -> AsyncGenerator[tuple[bytes, Document], None]:
            if lo >= hi:
                return
            hint = options.num_items if bounds.end_cursor is None else 256
            scan = txn.scan(index, lo, hi, self._order, hint)  # type: ignore[arg-type]
            before = txn.docs_read
            try:
                async for item in scan:
                    yield item
            finally:
                await scan.aclose()
                if whole and txn.docs_read > before:
                    txn.note_unindexed(self._table, txn.docs_read - before)

        return await cut_page(rows(), self._matches, options, bounds, fp,
                              lambda: txn.bytes_read, txn.limits)
