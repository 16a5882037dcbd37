"""A transaction: reads one snapshot, buffers writes, records exactly what it read.

Invariants:

1. Every read sees the snapshot at ``begin_ts`` overlaid with this transaction's own
   writes, and nothing committed later.
2. Every read is recorded in ``reads`` as index-key intervals, widened only as far as a
   scan actually went (rows handed to the caller), so the committer can check for
   conflicts and the sync layer can tell which commits invalidate a query.
3. A write records, for every index of the table, the key the document had at the
   snapshot and the key it has now; both count as written for conflict detection even
   when they are equal (the document's contents changed under that key). Storage gets a
   new index entry only where a key appears or disappears.
4. Limits are Convex's: documents and bytes read, index ranges, documents and bytes
   written. Exceeding one raises :class:`LimitExceededError` naming the limit.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pyconvex.database.catalog import (
    BY_ID,
    CREATION_TIME_FIELD,
    FIRST_USER_TABLE_NUMBER,
    ID_FIELD,
    INDEX_TABLE,
    TABLES_TABLE,
    Catalog,
    IndexInfo,
    IndexState,
    TableInfo,
    index_info,
)
from pyconvex.database.documents import decode_document, encode_document, index_key
from pyconvex.database.limits import Limits
from pyconvex.database.reads import ReadSet, WrittenKey, key_successor
from pyconvex.errors import (
    InvalidIdError,
    InvalidQueryError,
    InvalidValueError,
    LimitExceededError,
    NotFoundError,
    SchemaValidationError,
)
from pyconvex.persistence.base import Order
from pyconvex.schema import SchemaDefinition, ValidationFailure
from pyconvex.values import (
    Document,
    check_document_limits,
    decode_id,
    encode_key,
    new_id,
    prefix_end,
    validate_field_name,
)

if TYPE_CHECKING:
    from pyconvex.database.database import Database

# Larger than any real key: every encoded key starts with a type tag below 0xFF.
_MAX_KEY = b"\xff" * 16
_MIN_PAGE = 16
_MAX_PAGE = 1024


@dataclass(slots=True)
class _Update:
    table: TableInfo
    old: Document | None
    """The document at the snapshot (None: it did not exist)."""
    old_ts: int | None
    new: Document | None
    """The document now (None: deleted)."""
    new_keys: dict[int, bytes] | None = None
    """``new``'s index keys by index id, computed once for the overlay and the commit."""


@dataclass(slots=True)
class CommitRequest:
    """What the committer needs: reads to validate, writes to stamp with a timestamp."""

    begin_ts: int
    reads: ReadSet
    documents: list[tuple[str, int, bytes | None, int | None]]
    """``(id, table_number, value or None for a delete, prev_ts)``."""
    indexes: list[tuple[int, bytes, str | None]]
    """``(index_id, key, doc_id or None for a removed key)``."""
    written: tuple[WrittenKey, ...]
    catalog: Catalog | None = None
    """Set when the transaction changed tables, indexes or the schema."""
    write_bytes: int = 0

    @property
    def is_empty(self) -> bool:
        return not self.documents and not self.indexes


@dataclass(slots=True, frozen=True)
class Savepoint:
    """A transaction's writes at one moment (see :meth:`Transaction.savepoint`)."""

    updates: dict[str, _Update]
    overlay: dict[int, dict[bytes, str | None]]
    catalog: Catalog
    catalog_changed: bool
    bytes_written: int


class _IdResolver:
    """Lets compiled ``v.id(table)`` validators check ids against the catalog."""

    __slots__ = ("_catalog",)

    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog

    def table_number(self, name: str) -> int | None:
        table = self._catalog.table(name)
        return table.number if table is not None else None


class Transaction:
    """One snapshot, one write set. Not shared between tasks."""

    def __init__(
        self,
        db: Database,
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
        self._updates: dict[str, _Update] = {}
        # Own writes per index: key -> doc id (None: the key was removed). Sorted only
        # when a scan needs it; most transactions never scan what they wrote.
        self._overlay: dict[int, dict[bytes, str | None]] = {}
        # Snapshot bytes of documents fetched by id, to derive old index keys on write.
        self._snapshot: dict[str, tuple[bytes, int]] = {}
        self._catalog_changed = False
        self._last_creation_time = 0.0
        self._pending_size = 0
        self.docs_read = 0
        self.bytes_read = 0
        self.ranges_read = 0
        self.bytes_written = 0

    @property
    def documents_written(self) -> int:
        """Documents this transaction inserted, replaced or deleted (for function logs)."""
        return len(self._updates)

    # ----------------------------------------------------------------- catalog
    def table(self, name: str) -> TableInfo | None:
        """Look a table up by name, recording the read so a concurrent change conflicts."""
        tables = self.catalog.tables_by_name[TABLES_TABLE]
        prefix = encode_key([name])
        self.reads.add(tables.indexes["by_name"].id, prefix, prefix_end(prefix))
        return self.catalog.table(name)

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
        own: list[tuple[bytes, str | None]] = []
        if overlay:
            own = sorted(
                (k, d) for k, d in overlay.items() if lo <= k and (hi is None or k < hi)
            )
            if not asc:
                own.reverse()
        own_pos = 0
        persistence = self.db.persistence
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

    # ------------------------------------------------------------------ writes
    def _check_writable(self, op: str) -> None:
        if not self.writable:
            raise InvalidQueryError(
                f"db.{op} is not allowed here: queries are read-only. Use a mutation.",
                short_msg="ReadOnly",
            )

    def _next_creation_time(self) -> float:
        ct = max(self.now_ms, self._last_creation_time + 0.001)
        self._last_creation_time = ct
        return ct

    def _validate_user_fields(self, table: str, value: Any, op: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise InvalidValueError(
                f"db.{op} into '{table}' expects a dict, got {type(value).__name__}"
            )
        for name in value:
            if name in (ID_FIELD, CREATION_TIME_FIELD):
                continue
            if not isinstance(name, str):
                raise InvalidValueError(f"db.{op}: field names must be strings, got {name!r}")
            validate_field_name(name, top_level=True)
        return value

    def _check_document(self, table: TableInfo, doc: Document) -> Document:
        self._pending_size = check_document_limits(doc, table=table.name)
        schema = self.catalog_schema()
        if schema is not None and schema.schema_validation and table.name in schema.tables:
            check = schema.document_check(table.name)
            try:
                checked = check(doc, "", self._ids())
                assert isinstance(checked, dict)
                return checked
            except ValidationFailure as e:
                raise SchemaValidationError(
                    f"Document for table '{table.name}' does not match the schema: {e.message}"
                ) from None
        return doc

    def catalog_schema(self) -> SchemaDefinition | None:
        return self.catalog.schema

    def set_schema(self, schema: SchemaDefinition | None) -> None:
        """Make ``schema`` the one in force from this transaction's commit on."""
        self._set_catalog(self.catalog.with_schema(schema))

    def _ensure_table(self, name: str) -> TableInfo:
        table = self.table(name)
        if table is not None:
            return table
        if name.startswith("_"):
            raise InvalidQueryError(
                f"Table '{name}' is a system table and cannot be written.",
                short_msg="SystemTable",
            )
        if not name.isidentifier():
            raise InvalidValueError(
                f"Invalid table name {name!r}: use letters, digits and underscores, "
                "not starting with a digit or underscore."
            )
        return self.create_table(name)

    async def insert(self, table_name: str, value: dict[str, Any]) -> str:
        self._check_writable("insert")
        value = self._validate_user_fields(table_name, value, "insert")
        if ID_FIELD in value or CREATION_TIME_FIELD in value:
            raise InvalidValueError(
                f"db.insert into '{table_name}': system fields (_id, _creationTime) are "
                "set by the database and cannot be given."
            )
        table = self._ensure_table(table_name)
        return self._insert(table, value)

    def _insert(self, table: TableInfo, value: dict[str, Any]) -> str:
        doc_id = new_id(table.number)
        doc: Document = {ID_FIELD: doc_id, CREATION_TIME_FIELD: self._next_creation_time()}
        doc.update(value)
        doc = self._check_document(table, doc)
        self._write(table, doc_id, doc, old=None, old_ts=None)
        return doc_id

    def insert_document(self, table: TableInfo, doc: Document) -> str:
        """Insert a whole document, ``_id`` and ``_creationTime`` included (imports only;
        never reachable from user functions). The id must belong to ``table``."""
        self._check_writable("insert")
        doc_id, created = doc.get(ID_FIELD), doc.get(CREATION_TIME_FIELD)
        if not isinstance(doc_id, str) or decode_id(doc_id)[0] != table.number:
            raise InvalidIdError(f"Document id {doc_id!r} does not belong to table '{table.name}'.")
        if not isinstance(created, float):
            raise InvalidValueError(f"Document {doc_id}: _creationTime must be a float, got {created!r}.")
        update = self._updates.get(doc_id)
        if update is not None and update.new is not None:
            raise InvalidValueError(f"Document {doc_id} appears twice.")
        for name in doc:
            if name not in (ID_FIELD, CREATION_TIME_FIELD):
                validate_field_name(name, top_level=True)
        doc = self._check_document(table, doc)
        if update is not None:  # deleted earlier in this transaction (an import's replace)
            self._write(table, doc_id, doc)
        else:  # the caller guarantees the table held no such document
            self._write(table, doc_id, doc, old=None, old_ts=None)
        return doc_id

    async def _current(self, doc_id: str, op: str) -> tuple[TableInfo, Document]:
        """The document as this transaction sees it, for patch/replace/delete."""
        if not isinstance(doc_id, str):
            raise InvalidIdError(f"db.{op} expects an id string, got {doc_id!r}")
        try:
            decode_id(doc_id)
        except InvalidIdError as e:
            raise InvalidIdError(f"db.{op}: {e}") from None
        table = self._table_of_id(doc_id)
        doc = await self.get(doc_id)
        if table is None or doc is None:
            raise NotFoundError(
                f"db.{op}: document {doc_id} does not exist (it was deleted or never "
                "created).",
                short_msg="DocumentNotFound",
            )
        if table.is_system and table.name not in self.db.writable_system_tables:
            raise InvalidQueryError(
                f"db.{op}: {doc_id} is in system table '{table.name}', which cannot be "
                "written.",
                short_msg="SystemTable",
            )
        return table, doc

    async def patch(self, doc_id: str, fields: dict[str, Any], remove: object) -> None:
        """Shallow merge; a value identical to ``remove`` deletes the field."""
        self._check_writable("patch")
        table, doc = await self._current(doc_id, "patch")
        fields = self._validate_user_fields(table.name, fields, "patch")
        for name, value in fields.items():
            if name in (ID_FIELD, CREATION_TIME_FIELD):
                if value is remove or value != doc[name]:
                    raise InvalidValueError(
                        f"db.patch: system field {name} cannot be changed."
                    )
                continue
            if value is remove:
                doc.pop(name, None)
            else:
                doc[name] = value
        doc = self._check_document(table, doc)
        self._write_existing(table, doc_id, doc)

    async def replace(self, doc_id: str, value: dict[str, Any]) -> None:
        self._check_writable("replace")
        table, doc = await self._current(doc_id, "replace")
        value = self._validate_user_fields(table.name, value, "replace")
        for name in (ID_FIELD, CREATION_TIME_FIELD):
            if name in value and value[name] != doc[name]:
                raise InvalidValueError(f"db.replace: system field {name} cannot be changed.")
        new: Document = {ID_FIELD: doc[ID_FIELD], CREATION_TIME_FIELD: doc[CREATION_TIME_FIELD]}
        new.update((k, v) for k, v in value.items() if k not in (ID_FIELD, CREATION_TIME_FIELD))
        new = self._check_document(table, new)
        self._write_existing(table, doc_id, new)

    async def delete(self, doc_id: str) -> None:
        self._check_writable("delete")
        table, _ = await self._current(doc_id, "delete")
        self._write_existing(table, doc_id, None)

    def _write_existing(self, table: TableInfo, doc_id: str, new: Document | None) -> None:
        if doc_id in self._updates:
            self._write(table, doc_id, new)
            return
        # The caller read the document through get(), which kept its snapshot bytes.
        value, ts = self._snapshot[doc_id]
        self._write(table, doc_id, new, old=decode_document(value), old_ts=ts)

    def _write(
        self,
        table: TableInfo,
        doc_id: str,
        new: Document | None,
        *,
        old: Document | None = None,
        old_ts: int | None = None,
    ) -> None:
        update = self._updates.get(doc_id)
        if update is None:
            update = _Update(table, old, old_ts, old)
            self._updates[doc_id] = update
        prior, prior_keys = update.new, update.new_keys
        new_keys: dict[int, bytes] | None = {} if new is not None else None
        for index in table.indexes.values():
            overlay = self._overlay.get(index.id)
            if overlay is None:
                overlay = self._overlay[index.id] = {}
            if prior is not None:
                key = prior_keys.get(index.id) if prior_keys is not None else None
                overlay[key if key is not None else index_key(index, prior)] = None
            if new is not None and new_keys is not None:
                key = new_keys[index.id] = index_key(index, new)
                overlay[key] = doc_id
        update.new = new
        update.new_keys = new_keys
        self._count_write(new)

    def _count_write(self, new: Document | None) -> None:
        limits = self.limits
        if limits is None:
            return
        if len(self._updates) > limits.max_documents_written:
            raise LimitExceededError(
                f"Too many documents written in one mutation (limit: "
                f"{limits.max_documents_written}).",
                short_msg="TooManyWrites",
            )
        if new is not None:
            self.bytes_written += self._pending_size
            if self.bytes_written > limits.max_bytes_written:
                raise LimitExceededError(
                    f"Too many bytes written in one mutation (limit: "
                    f"{limits.max_bytes_written} bytes).",
                    short_msg="TooManyBytesWritten",
                )

    # ---------------------------------------------------------------- catalog writes
    def _set_catalog(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self._catalog_changed = True

    def _system_insert(self, table_name: str, value: dict[str, Any]) -> str:
        table = self.catalog.tables_by_name[table_name]
        return self._insert(table, value)

    def _claim_tail(self, table_name: str, index_name: str, last: int) -> None:
        """Read "everything above ``last``" so two allocations of one number conflict."""
        index = self.catalog.tables_by_name[table_name].indexes[index_name]
        self.reads.add(index.id, prefix_end(encode_key([last])), None)

    def create_table(self, name: str, number: int | None = None) -> TableInfo:
        """A new user table; ``number`` only for imports that keep a snapshot's ids."""
        catalog = self.catalog
        if number is None:
            number = catalog.next_table_number
        elif number < FIRST_USER_TABLE_NUMBER or number in catalog.tables_by_number:
            raise InvalidValueError(f"Table number {number} for '{name}' is not free.")
        self._claim_tail(TABLES_TABLE, "by_number", number - 1)
        doc_id = self._system_insert(TABLES_TABLE, {"name": name, "number": number})
        table = TableInfo(name, number, {}, doc_id)
        self._set_catalog(catalog.with_table(table))
        for index_name in (BY_ID, "by_creation_time"):
            table = self._add_index(table, index_name, (), "enabled")
        return table

    def _add_index(
        self, table: TableInfo, name: str, fields: tuple[str, ...], state: IndexState
    ) -> TableInfo:
        index_id = self.catalog.next_index_id
        self._claim_tail(INDEX_TABLE, "by_index_id", index_id - 1)
        doc_id = self._system_insert(
            INDEX_TABLE,
            {
                "tableNumber": table.number,
                "name": name,
                "fields": list(fields),
                "state": state,
                "indexId": index_id,
            },
        )
        info = index_info(index_id, table.name, table.number, name, fields, state, doc_id)
        table = table.with_index(info)
        self._set_catalog(self.catalog.with_table(table))
        return table

    async def add_index(
        self, table_name: str, name: str, fields: tuple[str, ...], state: IndexState
    ) -> IndexInfo:
        table = self._ensure_table(table_name)
        await self._touch_table(table)
        table = self._add_index(table, name, fields, state)
        return table.indexes[name]

    async def set_index_state(self, table_name: str, name: str, state: IndexState) -> None:
        table = self.require_table(table_name)
        info = table.indexes[name]
        assert info.doc_id is not None
        await self._touch_table(table)
        doc = await self.get(info.doc_id)
        assert doc is not None
        doc["state"] = state
        self._write_existing_system(info.doc_id, doc)
        new = index_info(
            info.id, info.table, info.table_number, name, info.fields[:-1], state, info.doc_id
        )
        self._set_catalog(self.catalog.with_table(self.catalog.tables_by_name[table_name].with_index(new)))

    async def drop_index(self, table_name: str, name: str) -> None:
        table = self.require_table(table_name)
        info = table.indexes[name]
        assert info.doc_id is not None
        await self._touch_table(table)
        await self.get(info.doc_id)
        self._write_existing_system(info.doc_id, None)
        self._set_catalog(self.catalog.with_table(table.without_index(name)))

    async def _touch_table(self, table: TableInfo) -> None:
        """Rewrite the ``_tables`` row so every transaction that used this table conflicts.

        A mutation that began before an index appeared would not maintain it; touching
        the row it read by name forces it to retry with the new catalog.
        """
        if table.doc_id is None:
            return
        doc = await self.get(table.doc_id)
        if doc is None:
            return
        version = doc.get("version", 0)
        doc["version"] = (int(version) if isinstance(version, (int, float)) else 0) + 1
        self._write_existing_system(table.doc_id, doc)

    def _write_existing_system(self, doc_id: str, new: Document | None) -> None:
        table = self._table_of_id(doc_id)
        assert table is not None
        self._write_existing(table, doc_id, new)

    def insert_system(
        self, table_name: str, value: dict[str, Any], *, metered: bool = True
    ) -> str:
        """Insert into a system table (used by the system-table models).

        ``metered=False`` writes bookkeeping the user did not ask for (the record of a
        mutation's outcome, kept for replays): it is not charged to the mutation's write
        limits, and its size is bounded by the caller (a recorded return value may be as
        large as any return value), not by the document size limit."""
        self._check_writable("insert")
        if metered:
            return self._system_insert(table_name, value)
        table = self.catalog.tables_by_name[table_name]
        doc_id = new_id(table.number)
        doc: Document = {ID_FIELD: doc_id, CREATION_TIME_FIELD: self._next_creation_time()}
        doc.update(value)
        limits, self.limits = self.limits, None
        try:
            self._write(table, doc_id, doc, old=None, old_ts=None)
        finally:
            self.limits = limits
        return doc_id

    async def update_system(self, doc_id: str, new: Document | None) -> None:
        """Overwrite (or delete, with None) a system-table document."""
        self._check_writable("patch")
        if doc_id not in self._updates and await self.get(doc_id) is None:
            raise NotFoundError(
                f"system document {doc_id} not found", short_msg="DocumentNotFound"
            )
        self._write_existing_system(doc_id, new)

    # --------------------------------------------------------- subtransactions
    def savepoint(self) -> Savepoint:
        """The write state now, for :meth:`rollback_to`: a nested ``ctx.run_mutation``
        that raises leaves none of its writes, as in Convex, while its caller may catch
        the error and go on. Reads are kept: what the failed call read still decided
        what the caller does next, so it must still be validated at commit."""
        return Savepoint(
            {doc_id: copy.copy(update) for doc_id, update in self._updates.items()},
            {index_id: dict(keys) for index_id, keys in self._overlay.items()},
            self.catalog,
            self._catalog_changed,
            self.bytes_written,
        )

    def rollback_to(self, point: Savepoint) -> None:
        """Forget every write made since ``point`` was taken."""
        self._updates = {doc_id: copy.copy(update) for doc_id, update in point.updates.items()}
        self._overlay = {index_id: dict(keys) for index_id, keys in point.overlay.items()}
        self.catalog = point.catalog
        self._catalog_changed = point.catalog_changed
        self.bytes_written = point.bytes_written

    # ------------------------------------------------------------------ commit
    @property
    def has_writes(self) -> bool:
        return bool(self._updates)

    def commit_request(self) -> CommitRequest:
        documents: list[tuple[str, int, bytes | None, int | None]] = []
        indexes: list[tuple[int, bytes, str | None]] = []
        written: list[WrittenKey] = []
        for doc_id, update in self._updates.items():
            old, new = update.old, update.new
            if old is None and new is None:
                continue
            table = update.table
            if table.number not in self.catalog.tables_by_number:
                continue
            table = self.catalog.tables_by_number[table.number]
            documents.append(
                (doc_id, table.number, encode_document(new) if new is not None else None, update.old_ts)
            )
            known = update.new_keys
            if old is None and known is not None and update.table is table:
                # An insert into a table unchanged since the write (the common case): its
                # keys, all computed then, are all new, so each is written and put down.
                for index_id, inserted_key in known.items():
                    written.append((index_id, inserted_key))
                    indexes.append((index_id, inserted_key, doc_id))
                continue
            for index in table.indexes.values():
                old_key = index_key(index, old) if old is not None else None
                new_key = known.get(index.id) if known is not None else None
                if new_key is None and new is not None:
                    new_key = index_key(index, new)
                if old_key is not None:
                    written.append((index.id, old_key))
                if new_key is not None and new_key != old_key:
                    written.append((index.id, new_key))
                if old_key != new_key:
                    if old_key is not None:
                        indexes.append((index.id, old_key, None))
                    if new_key is not None:
                        indexes.append((index.id, new_key, doc_id))
                elif new_key is not None and index.state != "enabled":
                    # A backfill skips versions newer than the index, so while it runs
                    # every write must put its entry down, changed key or not.
                    indexes.append((index.id, new_key, doc_id))
        return CommitRequest(
            begin_ts=self.begin_ts,
            reads=self.reads,
            documents=documents,
            indexes=indexes,
            written=tuple(written),
            catalog=self.catalog if self._catalog_changed else None,
            write_bytes=self.bytes_written,
        )
