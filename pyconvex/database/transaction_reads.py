"""A transaction's reads: one snapshot, overlaid with its own writes, and recorded
exactly (see ``transaction.py`` for the invariants).

:class:`TransactionReads` holds a transaction's whole state (the write side,
``transaction_writes.py``, and the commit, ``transaction.py``, build on it): catalog
lookups that record what they looked up, the read limits, ``get`` and ``scan``.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import AsyncGenerator
from typing import Any, Protocol

from pyconvex.database.catalog import (
    BY_ID,
    SYSTEM_TABLES,
    TABLES_TABLE,
    Catalog,
    IndexInfo,
    TableInfo,
    index_info,
)
from pyconvex.database.documents import decode_document
from pyconvex.database.limits import Limits
from pyconvex.database.own_writes import Overlay, Update, own_rows
from pyconvex.database.reads import Interval, ReadSet, key_successor
from pyconvex.database.search_indexes import SearchManager
from pyconvex.errors import (
    InvalidIdError,
    InvalidQueryError,
    LimitExceededError,
)
from pyconvex.persistence.base import Order, Persistence
from pyconvex.values import (
    Document,
    decode_id,
    encode_key,
    prefix_end,
)

# Larger than any real key: every encoded key starts with a type tag below 0xFF.
_MAX_KEY = b"\xff" * 16
_MIN_PAGE = 16
_MAX_PAGE = 1024


@functools.lru_cache(maxsize=4096)
def _name_span(name: str) -> Interval:
    """A table name's key range in ``_tables.by_name``, which every write reads (so a
    concurrent change of the table conflicts): encoded once per name, and one interval
    shared by every read set that records it (nothing widens it: only a scan moves the
    bounds of the intervals it added itself). Names that do not exist are read too (any
    string a function passes), hence the bound."""
    prefix = encode_key([name])
    return Interval(prefix, prefix_end(prefix))


_TABLE_NAMES = next(t for t in SYSTEM_TABLES if t.name == TABLES_TABLE).indexes["by_name"].id
"""The index id of ``_tables.by_name`` (system index ids are fixed forever)."""


class TransactionHost(Protocol):
    """What a transaction needs of its database (``Database`` is one)."""

    persistence: Persistence
    search: SearchManager


class _IdResolver:
    """Lets compiled ``v.id(table)`` validators check ids against the catalog."""

    __slots__ = ("_catalog",)

    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog

    def table_number(self, name: str) -> int | None:
        table = self._catalog.table(name)
        return table.number if table is not None else None


class TransactionReads:
    """The state of one transaction and its reads. Not shared between tasks."""

    # Counters and flags start as these class defaults (the first ``+=`` or assignment
    # makes the instance's own): a transaction is begun for every call, and most of
    # these are never changed by one.
    _catalog_changed = False
    _last_creation_time = 0.0
    _pending_size = 0
    docs_read = 0
    bytes_read = 0
    ranges_read = 0
    bytes_written = 0

    def __init__(
        self,
        db: TransactionHost,
        begin_ts: int,
        catalog: Catalog,
        *,
        now_ms: float,
        limits: Limits | None,
        writable: bool = True,
    ) -> None:
        self.db = db
        self.begin_ts = begin_ts
        self.catalog = catalog
        self.now_ms = now_ms
        self.limits = limits
        self.writable = writable
        self.reads = ReadSet()
        self._updates: dict[str, Update] = {}
        # Own writes per index: key -> doc id (None: the key was removed). Sorted only
        # when a scan needs it; most transactions never scan what they wrote.
        self._overlay: Overlay = {}
        # Snapshot bytes of documents fetched by id, to derive old index keys on write.
        self._snapshot: dict[str, tuple[bytes, int]] = {}

    @property
    def documents_written(self) -> int:
        """Documents this transaction inserted, replaced or deleted (for function logs)."""
        return len(self._updates)

    # ----------------------------------------------------------------- catalog
    def table(self, name: str) -> TableInfo | None:
        """Look a table up by name, recording the read so a concurrent change conflicts."""
        self.reads.add_interval(_TABLE_NAMES, _name_span(name))
        return self.catalog.tables_by_name.get(name)  # catalog.table(name), without its call

    def require_table(self, name: str) -> TableInfo:
        table = self.table(name)
        if table is None:
            raise InvalidQueryError(f"Table '{name}' does not exist.", short_msg="TableNotFound")
        return table

    def index(self, table_name: str, index_name: str) -> IndexInfo:
        table = self.table(table_name)
        if table is None:
            # Reading a table that was never written is an empty result, not an error,
            # for the implicit indexes (as in Convex).
            if index_name in (BY_ID, "by_creation_time"):
                return index_info(-1, table_name, -1, index_name, ())
            raise InvalidQueryError(
                f"Index {table_name}.{index_name} not found: table '{table_name}' does not "
                "exist.",
                short_msg="IndexNotFound",
            )
        info = table.indexes.get(index_name)
        if info is None or not info.queryable:
            names = sorted(n for n, i in table.indexes.items() if i.queryable)
            why = "is still backfilling" if info is not None and info.state == "backfilling" else (
                "is staged (not queryable)" if info is not None else "does not exist"
            )
            raise InvalidQueryError(
                f"Index {table_name}.{index_name} {why}. Indexes of '{table_name}': "
                f"{', '.join(names)}.",
                short_msg="IndexNotFound",
            )
        return info

    def _ids(self) -> _IdResolver:
        return _IdResolver(self.catalog)

    # ------------------------------------------------------------------- reads
    def _count_range(self) -> None:
        self.ranges_read += 1
        if self.limits is not None and self.ranges_read > self.limits.max_index_ranges:
            raise LimitExceededError(
                f"Too many index ranges read in one function execution (limit: "
                f"{self.limits.max_index_ranges}): db.get and db.query calls each read one.",
                short_msg="TooManyIndexRanges",
            )

    def _count_read(self, size: int) -> None:
        self.docs_read += 1
        self.bytes_read += size
        limits = self.limits
        if limits is None:
            return
        if self.docs_read > limits.max_documents_read:
            raise LimitExceededError(
                f"Too many documents read in one function execution (limit: "
                f"{limits.max_documents_read}). Use a selective index range, take(), or "
                "paginate().",
                short_msg="TooManyDocumentsRead",
            )
        if self.bytes_read > limits.max_bytes_read:
            raise LimitExceededError(
                f"Too many bytes read in one function execution (limit: "
                f"{limits.max_bytes_read} bytes). Use a selective index range or paginate().",
                short_msg="TooManyBytesRead",
            )

    def _table_of_id(self, doc_id: str) -> TableInfo | None:
        try:
            number, _ = decode_id(doc_id)
        except InvalidIdError:
            return None
        return self.catalog.tables_by_number.get(number)

    async def get(self, doc_id: str) -> Document | None:
        """The document with this id at the snapshot (own writes included), or None."""
        if not isinstance(doc_id, str):
            raise InvalidIdError(f"db.get expects an id string, got {doc_id!r}")
        try:
            number, _ = decode_id(doc_id)
        except InvalidIdError as e:
            raise InvalidIdError(f"db.get: {e}") from None
        self._count_range()
        update = self._updates.get(doc_id)
        if update is not None:
            return copy.deepcopy(update.new)
        table = self.catalog.tables_by_number.get(number)
        if table is None:
            return None
        self.reads.add_point(table.by_id.id, encode_key([doc_id]))
        stored = await self._load(doc_id)
        return stored[0] if stored is not None else None

    async def committed_ts(self, doc_id: str) -> int | None:
        """When the version of ``doc_id`` this snapshot sees was committed (None: no
        such document). Not a user read: it records nothing and counts nothing."""
        entry = await self.db.persistence.get_document(doc_id, self.begin_ts)
        return entry.ts if entry is not None and entry.value is not None else None

    async def _load(self, doc_id: str) -> tuple[Document, int] | None:
        seen = self._snapshot.get(doc_id)
        if seen is not None:  # scanned already: the snapshot's version cannot change
            self._count_read(len(seen[0]))
            return decode_document(seen[0]), seen[1]
        entry = await self.db.persistence.get_document(doc_id, self.begin_ts)
        if entry is None or entry.value is None:
            return None
        self._count_read(len(entry.value))
        self._snapshot[doc_id] = (entry.value, entry.ts)
        return decode_document(entry.value), entry.ts

    async def scan(
        self,
        index: IndexInfo,
        lo: bytes,
        hi: bytes | None,
        order: Order = "asc",
        page_hint: int = 64,
    ) -> AsyncGenerator[tuple[bytes, Document], None]:
        """Yield ``(key, document)`` for live keys in ``[lo, hi)`` in ``order``.

        The read interval grows with each row yielded, so a caller that stops early
        has read only what it consumed.
        """
        self._count_range()
        if index.id < 0:  # the implicit index of a table that does not exist yet
            self.table(index.table)
            return
        asc = order == "asc"
        interval = self.reads.add(index.id, lo, lo) if asc else self.reads.add(
            index.id, hi if hi is not None else _MAX_KEY, hi
        )
        overlay = self._overlay.get(index.id)
        own = own_rows(overlay, lo, hi, asc) if overlay else []
        own_pos = 0
        persistence = self.db.persistence
        # A writable transaction keeps the rows it scanned, so a patch, replace or
        # delete of one of them (read, then write: a counter, a rate limit's shard)
        # needs no second trip to storage for its old version.
        snapshot = self._snapshot if self.writable else None
        cur_lo, cur_hi = lo, hi
        page = max(_MIN_PAGE, min(page_hint, _MAX_PAGE))
        while True:
            rows = await persistence.index_scan(index.id, cur_lo, cur_hi, self.begin_ts, order, page)
            for row in rows:
                key = row.key
                # Own writes that sort before this row come first.
                while own_pos < len(own) and (own[own_pos][0] < key if asc else own[own_pos][0] > key):
                    okey, odoc = own[own_pos]
                    own_pos += 1
                    if odoc is not None:
                        self._widen(interval, okey, asc)
                        yield okey, self._own_doc(odoc)
                if overlay is not None and key in overlay:
                    if own_pos < len(own) and own[own_pos][0] == key:
                        own_pos += 1
                        odoc = overlay[key]
                        if odoc is not None:
                            self._widen(interval, key, asc)
                            yield key, self._own_doc(odoc)
                    continue
                self._count_read(len(row.value))
                self._widen(interval, key, asc)
                if snapshot is not None:
                    snapshot[row.doc_id] = (row.value, row.doc_ts)
                yield key, decode_document(row.value)
            if len(rows) < page:
                break
            last = rows[-1].key
            if asc:
                cur_lo = key_successor(last)
            else:
                cur_hi = last
            page = min(page * 2, _MAX_PAGE)
        while own_pos < len(own):
            okey, odoc = own[own_pos]
            own_pos += 1
            if odoc is not None:
                self._widen(interval, okey, asc)
                yield okey, self._own_doc(odoc)
        # Exhausted: the whole range was read.
        if asc:
            interval.hi = hi
        else:
            interval.lo = lo

    @staticmethod
    def _widen(interval: Any, key: bytes, asc: bool) -> None:
        if asc:
            interval.hi = key_successor(key)
        else:
            interval.lo = key

    def _own_doc(self, doc_id: str) -> Document:
        new = self._updates[doc_id].new
        assert new is not None
        return copy.deepcopy(new)
