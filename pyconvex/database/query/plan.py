"""The query builder users see as ``ctx.db.query(table)``, and its execution.

A query is a table, one index range (default: ``by_creation_time``, i.e. a full scan in
creation order), an order, and filters. Execution streams rows from
:meth:`Transaction.scan`, so ``take(n)`` reads (and records in the read set) only as
far as its n-th match.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Any

from pyconvex.database.catalog import BY_CREATION_TIME
from pyconvex.database.query.filter import Evaluator, compile_filter
from pyconvex.database.query.index_range import build_range
from pyconvex.database.query.pagination import (
    PaginationOptions,
    decode_cursor,
    encode_cursor,
)
from pyconvex.database.reads import key_successor
from pyconvex.database.transaction import Transaction
from pyconvex.errors import InvalidQueryError
from pyconvex.values import Document


class Query:
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

    async def _search_docs(self) -> AsyncGenerator[tuple[bytes, Document], None]:
        name, build = self._search  # type: ignore[misc]
        found = await self._txn.db.search.text_search(self._txn, self._table, name, build)
        for position, (doc_id, _score) in enumerate(found):
            doc = await self._txn.get(doc_id)
            if doc is not None and (not self._filters or self._matches(doc)):
                yield position.to_bytes(4, "big"), doc

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
        scan = self._txn.scan(index, lo, hi, self._order, page_hint)  # type: ignore[arg-type]
        filters = self._filters
        async for key, doc in scan:
            if not filters or self._matches(doc):
                yield key, doc

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

    async def first(self) -> Document | None:
        docs = await self.take(1)
        return docs[0] if docs else None

    async def unique(self) -> Document | None:
        docs = await self.take(2)
        if len(docs) > 1:
            raise InvalidQueryError(
                f"unique() query on '{self._table}' returned more than one result: "
                f"{docs[0]['_id']!s}, {docs[1]['_id']!s}, ...",
                short_msg="UniqueQueryHadMultipleResults",
            )
        return docs[0] if docs else None

    async def _paginate_search(self, options: PaginationOptions) -> dict[str, Any]:
        """Search pages: the cursor is a position in the (at most 1,024) ranked results."""
        start = 0
        if options.cursor is not None:
            after = decode_cursor(options.cursor)
            if after is None:
                return _page([], True, options.cursor)
            start = int.from_bytes(after, "big") + 1
        results = [(p, d) for p, d in await _positions(self) if p >= start]
        page = results[: options.num_items]
        if len(results) > options.num_items:
            return _page([d for _, d in page], False, encode_cursor(page[-1][0].to_bytes(4, "big")))
        return _page([d for _, d in page], True, encode_cursor(None))

    async def paginate(self, opts: Any) -> dict[str, Any]:
        """One page: ``{"page", "isDone", "continueCursor", "splitCursor", "pageStatus"}``."""
        options = PaginationOptions.parse(opts)
        if self._search is not None:
            return await self._paginate_search(options)
        if self._used:
            raise InvalidQueryError("A query can be run only once.", short_msg="QueryReused")
        self._used = True
        index, lo, hi = self._range()
        asc = self._order == "asc"
        if options.cursor is not None:
            after = decode_cursor(options.cursor)
            if after is None:  # the end cursor: nothing left
                return _page([], True, options.cursor)
            if asc:
                lo = max(lo, key_successor(after))
            else:
                hi = min(hi, after)
        end_key: bytes | None = None
        bounded = options.end_cursor is not None
        if options.end_cursor is not None:
            end_key = decode_cursor(options.end_cursor)
            if end_key is not None:
                if asc:
                    hi = min(hi, key_successor(end_key))
                else:
                    lo = max(lo, end_key)
        page: list[Document] = []
        last_key: bytes | None = None
        rows = 0
        max_rows = options.maximum_rows_read
        stopped_early = False
        if lo < hi:
            scan = self._txn.scan(index, lo, hi, self._order, options.num_items)  # type: ignore[arg-type]
            async for key, doc in scan:
                rows += 1
                last_key = key
                if self._matches(doc):
                    page.append(doc)
                if not bounded and len(page) >= options.num_items:
                    stopped_early = True
                    break
                if max_rows is not None and rows >= max_rows:
                    stopped_early = True
                    break
            await scan.aclose()
        if bounded:
            assert options.end_cursor is not None
            return _page(page, end_key is None, options.end_cursor)
        if stopped_early:
            return _page(page, False, encode_cursor(last_key))
        return _page(page, True, encode_cursor(None))


async def _positions(query: Query) -> list[tuple[int, Document]]:
    return [(int.from_bytes(key, "big"), doc) async for key, doc in query._stream()]


def _page(page: list[Document], is_done: bool, cursor: str) -> dict[str, Any]:
    return {
        "page": page,
        "isDone": is_done,
        "continueCursor": cursor,
        "splitCursor": None,
        "pageStatus": None,
    }
