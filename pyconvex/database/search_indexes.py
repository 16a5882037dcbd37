"""The deployment's search and vector indexes, fed from the document log.

They follow the log, not the commit path: before a search at timestamp ``T`` the
indexes apply every logged version up to ``T`` (``ensure``). That covers this
process's commits and other processes' (PostgreSQL) alike, rebuilds everything from
the log after a restart, and backfills an index the schema just added (it is built
from the whole log the first time it is used).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from pyconvex.database.documents import decode_document
from pyconvex.database.progress import ProgressLog, progress_board
from pyconvex.database.system_work import system_work
from pyconvex.errors import InvalidQueryError
from pyconvex.search import MAX_FILTERS, MAX_RESULTS, MAX_TERMS, TextIndex, VectorIndex, tokenize
from pyconvex.search.text import filter_key

Key = tuple[str, str]  # (table, index name)
log = logging.getLogger("pyconvex.database.search")


class SearchManager:
    def __init__(self, db: Any) -> None:
        self.db = db
        self.indexed_ts = 0
        self.text: dict[Key, TextIndex] = {}
        self.vector: dict[Key, VectorIndex] = {}
        self._specs: dict[Key, tuple[Any, ...]] = {}
        self._built: set[Key] = set()
        self._lock = asyncio.Lock()

    def _wanted(self) -> dict[Key, tuple[Any, ...]]:
        schema = self.db.catalog.schema
        out: dict[Key, tuple[Any, ...]] = {}
        if schema is None:
            return out
        for table, definition in schema.tables.items():
            for s in definition.search_indexes:
                out[(table, s.name)] = ("text", s.search_field, tuple(s.filter_fields))
            for v in definition.vector_indexes:
                out[(table, v.name)] = ("vector", v.vector_field, v.dimensions, tuple(v.filter_fields))
        return out

    async def ensure(self, ts: int) -> None:
        async with self._lock:
            wanted = self._wanted()
            if wanted != self._specs:
                self._rebuild_definitions(wanted)
                new = [k for k in wanted if k not in self._built]
                if new and self.indexed_ts:
                    with system_work():  # not the searching function's time
                        await self._apply(0, self.indexed_ts, only=set(new))
                self._built = set(wanted)
            if ts > self.indexed_ts:
                with system_work():
                    await self._apply(self.indexed_ts + 1, ts)
                self.indexed_ts = ts

    def _rebuild_definitions(self, wanted: dict[Key, tuple[Any, ...]]) -> None:
        for key in list(self.text):
            if self._specs.get(key) != wanted.get(key):
                del self.text[key]
        for key in list(self.vector):
            if self._specs.get(key) != wanted.get(key):
                del self.vector[key]
        self._built = {k for k in self._built if self._specs.get(k) == wanted.get(k)}
        for key, spec in wanted.items():
            if key in self.text or key in self.vector:
                continue
            if spec[0] == "text":
                self.text[key] = TextIndex(spec[1], spec[2])
            else:
                self.vector[key] = VectorIndex(spec[1], spec[2], spec[3])
        self._specs = dict(wanted)

    async def _apply(self, lo: int, hi: int, only: set[Key] | None = None) -> None:
        by_number: dict[int, list[TextIndex | VectorIndex]] = {}
        catalog = self.db.catalog
        indexes: list[tuple[Key, TextIndex | VectorIndex]] = [*self.text.items(), *self.vector.items()]
        for key, index in indexes:
            if only is not None and key not in only:
                continue
            table = catalog.table(key[0])
            if table is not None:
                by_number.setdefault(table.number, []).append(index)
        if not by_number:
            return
        names = ", ".join(sorted(f"{t}.{n}" for t, n in (only or [*self.text, *self.vector])))
        progress = ProgressLog(log, f"building search indexes {names} from the document log"
                               if lo <= 1 else f"updating search indexes {names}", "document versions",
                               board=progress_board(self.db), kind="search", index=names)
        try:
            async for entry in self.db.persistence.load_documents(lo, hi):
                targets = by_number.get(entry.table_number)
                if not targets:
                    continue
                doc = decode_document(entry.value) if entry.value is not None else None
                for index in targets:
                    index.apply(entry.ts, entry.id, doc)
                progress.advance(1)
            progress.done()
        finally:
            progress.close()

    # ------------------------------------------------------------------ text
    async def text_search(
        self, txn: Any, table: str, name: str, build: Callable[[Any], Any]
    ) -> list[tuple[str, float]]:
        index = await self._index(txn, table, name, self.text, "search")
        spec = SearchSpec(table, name, index.search_field, index.filter_fields)
        built = build(spec)
        if not isinstance(built, SearchSpec) or spec.text is None:
            raise InvalidQueryError(
                f"with_search_index('{name}'): the builder must call q.search('{index.search_field}', "
                "text) (then .eq(...) filters) and return it.",
                short_msg="InvalidSearchQuery",
            )
        overlay = _overlay(txn, table)
        found: list[tuple[str, float]]
        if txn.begin_ts < self.indexed_ts:  # a past snapshot: per-version, exact
            found = index.search(txn.begin_ts, spec.text, spec.filters, overlay)
            return found
        found = index.search_newest(spec.text, spec.filters)  # the newest state: NumPy
        if overlay:  # the transaction's own writes replace their documents' entries
            found = [hit for hit in found if hit[0] not in overlay]
            found += index.search(txn.begin_ts, spec.text, spec.filters, overlay, only_overlay=True)
            found.sort(key=lambda hit: (-hit[1], hit[0]))
        return found[:MAX_RESULTS]

    # ---------------------------------------------------------------- vector
    async def vector_search(
        self, txn: Any, table: str, name: str, vector: Any, limit: Any, filter: Any
    ) -> list[dict[str, Any]]:
        index = await self._index(txn, table, name, self.vector, "vector")
        if not isinstance(vector, (list, tuple)) or not all(
            isinstance(x, (int, float)) and not isinstance(x, bool) for x in vector
        ):
            raise InvalidQueryError("vector_search: vector must be a list of numbers.",
                                    short_msg="InvalidVectorQuery")
        if len(vector) != index.dimensions:
            raise InvalidQueryError(
                f"vector_search: the vector has {len(vector)} dimensions; index '{name}' on "
                f"'{table}' has {index.dimensions}.",
                short_msg="InvalidVectorQuery",
            )
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 256:
            raise InvalidQueryError(f"vector_search: limit must be an integer 1..256, got {limit!r}.",
                                    short_msg="InvalidVectorQuery")
        accept = _vector_filter(filter, index.filter_fields, name)
        overlay = _overlay(txn, table)
        newest = txn.begin_ts >= self.indexed_ts
        found = index.search(txn.begin_ts, list(vector), limit, accept, overlay, newest)
        return [{"_id": doc_id, "_score": score} for doc_id, score in found]

    async def _index(self, txn: Any, table: str, name: str, pool: dict[Key, Any], kind: str) -> Any:
        await self.ensure(txn.begin_ts)
        index = pool.get((table, name))
        if index is None:
            raise InvalidQueryError(
                f"There is no {kind} index '{name}' on table '{table}' in the schema.",
                short_msg="IndexNotFound",
            )
        info = txn.table(table)
        if info is not None:  # a search reads the whole table (conservatively): reactive
            txn.reads.add(info.by_id.id, b"", None)
        return index


def _overlay(txn: Any, table: str) -> dict[str, dict[str, Any] | None]:
    """The transaction's own writes to ``table``: they override the snapshot."""
    return {doc_id: u.new for doc_id, u in txn._updates.items() if u.table.name == table}


class SearchSpec:
    """``q`` in ``with_search_index(name, lambda q: q.search(field, text).eq(f, v))``."""

    def __init__(self, table: str, name: str, field: str, filter_fields: tuple[str, ...]) -> None:
        self._where = f"with_search_index('{name}') on '{table}'"
        self._field = field
        self._filter_fields = filter_fields
        self.text: str | None = None
        self.filters: list[tuple[str, Any]] = []

    def search(self, field: str, text: str) -> SearchSpec:
        if field != self._field:
            raise InvalidQueryError(f"{self._where}: search field is '{self._field}', not '{field}'.",
                                    short_msg="InvalidSearchQuery")
        if not isinstance(text, str):
            raise InvalidQueryError(f"{self._where}: search text must be a string.",
                                    short_msg="InvalidSearchQuery")
        if len(tokenize(text)) > MAX_TERMS:
            raise InvalidQueryError(f"{self._where}: at most {MAX_TERMS} search terms.",
                                    short_msg="InvalidSearchQuery")
        self.text = text
        return self

    def eq(self, field: str, value: Any) -> SearchSpec:
        if field not in self._filter_fields:
            allowed = ", ".join(self._filter_fields) or "none"
            raise InvalidQueryError(
                f"{self._where}: '{field}' is not a filter field ({allowed}).",
                short_msg="InvalidSearchQuery",
            )
        if len(self.filters) >= MAX_FILTERS:
            raise InvalidQueryError(f"{self._where}: at most {MAX_FILTERS} filters.",
                                    short_msg="InvalidSearchQuery")
        self.filters.append((field, value))
        return self


class _VectorFilter:
    def __init__(self, fields: tuple[str, ...], name: str) -> None:
        self._fields = fields
        self._name = name

    def eq(self, field: str, value: Any) -> Callable[[dict[str, bytes]], bool]:
        if field not in self._fields:
            raise InvalidQueryError(
                f"vector_search on '{self._name}': '{field}' is not a filter field "
                f"({', '.join(self._fields) or 'none'}).",
                short_msg="InvalidVectorQuery",
            )
        key = filter_key(value)
        return lambda filters: filters.get(field) == key

    def or_(self, *clauses: Callable[[dict[str, bytes]], bool]) -> Callable[[dict[str, bytes]], bool]:
        return lambda filters: any(c(filters) for c in clauses)


def _vector_filter(filter: Any, fields: tuple[str, ...], name: str) -> Callable[[dict[str, bytes]], bool]:
    if filter is None:
        return lambda filters: True
    predicate = filter(_VectorFilter(fields, name))
    if not callable(predicate):
        raise InvalidQueryError("vector_search: filter must return q.eq(...) or q.or_(...).",
                                short_msg="InvalidVectorQuery")
    return predicate  # type: ignore[no-any-return]
