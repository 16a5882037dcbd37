"""A transaction's writes: user documents (insert, patch, replace, delete, each checked
against the limits and the schema), system documents, and the catalog (tables and
indexes are documents too). Every write goes through ``_write``, which keeps the
overlay that reads see (``own_writes.py``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import orjson

from pyconvex.database.catalog import (
    BY_ID,
    CREATION_TIME_FIELD,
    FIRST_USER_TABLE_NUMBER,
    ID_FIELD,
    INDEX_TABLE,
    SCHEDULED_FUNCTIONS_TABLE,
    STORAGE_TABLE,
    TABLES_TABLE,
    Catalog,
    IndexInfo,
    IndexState,
    TableInfo,
    index_info,
)
from pyconvex.database.documents import (
    decode_document,
    index_key,
    index_keys,
    new_index_keys,
)
from pyconvex.database.insert_plan import InsertPlan, plan_of
from pyconvex.database.own_writes import Update
from pyconvex.database.transaction_reads import TransactionReads
from pyconvex.errors import (
    InvalidIdError,
    InvalidQueryError,
    InvalidValueError,
    LimitExceededError,
    NotFoundError,
    SchemaValidationError,
)
from pyconvex.schema import SchemaDefinition, ValidationFailure
from pyconvex.schema.failures import Invalid
from pyconvex.values import (
    Document,
    Id,
    check_document_limits,
    decode_id,
    encode_key,
    new_id,
    prefix_end,
    validate_field_name,
)
from pyconvex.values.ids import new_table_id
from pyconvex.values.json import plain_fields
from pyconvex.values.size import check_new_document_limits

# Larger than any real key: every encoded key starts with a type tag below 0xFF.
_MAX_KEY = b"\xff" * 16
_MIN_PAGE = 16
_MAX_PAGE = 1024


@functools.lru_cache(maxsize=4096)
def _check_top_level_name(name: str) -> None:
    """``validate_field_name(name, top_level=True)``, remembered for names found valid
    (an invalid one raises, and is checked again next time): every write checks each of
    its fields' names, and a deployment's documents use few."""
    validate_field_name(name, top_level=True)


_str_new = str.__new__

_known_names: set[str] = set()
"""Top-level field names found valid (bounded like ``_check_top_level_name``'s cache):
an insert whose names are all here checks them with one ``issuperset``."""


_SYSTEM_WRITERS = {
    STORAGE_TABLE: "ctx.storage.delete(storage_id)",
    SCHEDULED_FUNCTIONS_TABLE: "ctx.scheduler.cancel(job_id)",
}


class TransactionWrites(TransactionReads):
    """Reads, and the writes that buffer until commit."""

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
            _check_top_level_name(name)
        return value

    def _check_document(self, table: TableInfo, doc: Document) -> Document:
        self._pending_size = check_document_limits(doc, table=table.name)
        schema = self.catalog_schema()
        if schema is not None and schema.schema_validation and table.name in schema.tables:
            return self._check_schema(table, doc, schema)
        return doc

    def _check_schema(self, table: TableInfo, doc: Document, schema: SchemaDefinition) -> Document:
        check = schema.document_check(table.name)
        try:
            checked = check(doc, "", self._ids())
            assert isinstance(checked, dict)
            return checked
        except ValidationFailure as e:
            raise SchemaValidationError(
                f"Document for table '{table.name}' does not match the schema: {e.message}"
            ) from None

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
        if not self.writable:
            self._check_writable("insert")
        if type(value) is not dict or not _known_names.issuperset(value):
            value = self._validate_user_fields(table_name, value, "insert")
            if ID_FIELD in value or CREATION_TIME_FIELD in value:
                raise InvalidValueError(
                    f"db.insert into '{table_name}': system fields (_id, _creationTime) are "
                    "set by the database and cannot be given."
                )
            if type(value) is dict:
                if len(_known_names) >= 4096:
                    _known_names.clear()
                _known_names.update(value)
        table = self.table(table_name)  # _ensure_table's look-up, without its call
        if table is None:
            table = self._ensure_table(table_name)
        if type(value) is not dict:
            return self._insert(table, value)
        return self._insert_fields(table, value, plan_of(table, self.catalog.schema))

    def _insert_fields(self, table: TableInfo, value: dict[str, Any], plan: InsertPlan) -> str:
        """``_insert`` of a user's fields (a plain dict of valid names, no system
        fields): the same document, size, checks, keys and messages, with less work.
        The size is taken of the fields plus the system fields' known share; under an
        object schema only the given fields are checked, and the checked copy gets the
        system fields appended (where the document check puts them); the index keys
        come from the plan, ``_id`` and ``_creationTime`` encoded once."""
        doc_id = new_table_id(table.number)
        created = self.now_ms  # as _next_creation_time
        floor = self._last_creation_time + 0.001
        if created < floor:
            created = floor
        self._last_creation_time = created
        # _id: its name (3) + 1, the string + 2; _creationTime: 13 + 1, a float 9.
        self._pending_size = check_new_document_limits(
            value, 2, len(doc_id) + 29, table=table.name
        )
        check = plan.check
        ident: str
        if check is not None:
            try:
                doc = check(value, self._ids() if plan.uses_ids else None)
            except Invalid as e:  # as Validator.compile's check words it
                raise SchemaValidationError(
                    f"Document for table '{table.name}' does not match the schema: "
                    f"{e.message(e.full_path(''))}"
                ) from None
            # The caller's ``ctx.db.insert`` answers with this same Id (not a second one),
            # made as Id(doc_id, table.name) makes it, without its Python __new__.
            ident = _str_new(Id, doc_id)
            ident.table = table.name
            doc[ID_FIELD] = ident
            doc[CREATION_TIME_FIELD] = created
            plain = plan.plain
        else:
            ident = doc_id
            doc = {ID_FIELD: doc_id, CREATION_TIME_FIELD: created}
            doc.update(value)
            if plan.check_whole:
                assert plan.schema is not None
                doc = self._check_schema(table, doc, plan.schema)
                plain = False
            else:
                # Unchecked fields that are all their own Convex JSON (their names are
                # valid top-level names): the document encodes as orjson's dump of it,
                # without ``encode_document``'s walk and copy (~6,000 instructions an
                # insert; the test costs ~1,100).
                plain = plain_fields(value)
        keys = new_index_keys(plan.indexes, doc, doc_id, created)
        encoded = None
        # (Every string was encoded as UTF-8 by the size check: orjson refuses none.)
        if plain and type(created) is float and created > 0.0 and created - created == 0.0:
            encoded = orjson.dumps(doc)
        self._put_new(table, doc_id, doc, keys, encoded)
        limits = self.limits  # _count_write's checks inline; it raises their errors
        if limits is not None:
            written = self.bytes_written + self._pending_size
            if (len(self._updates) > limits.max_documents_written
                    or written > limits.max_bytes_written):
                self._count_write(doc)
            self.bytes_written = written
        return ident

    def _put_new(self, table: TableInfo, doc_id: str, doc: Document,
                 keys: dict[int, bytes], encoded: bytes | None) -> None:
        """A new document's update and its overlay entries, for an id no update has yet
        (the insert plan's and the fixed-shape system records' shortcut past ``_write``)."""
        self._updates[doc_id] = Update(table, None, None, doc, keys, encoded)
        overlay = self._overlay
        for index_id, key in keys.items():
            own = overlay.get(index_id)
            if own is None:
                own = overlay[index_id] = {}
            own[key] = doc_id

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
        if table.is_system:
            # System documents change only through their own APIs, which keep what they
            # describe (a stored blob, a scheduled job) in step with them.
            how = _SYSTEM_WRITERS.get(table.name)
            raise InvalidQueryError(
                f"db.{op}: {doc_id} is in system table '{table.name}', which user functions "
                f"cannot write{f': use {how}' if how else ''}.",
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
            update = Update(table, old, old_ts, old)
            self._updates[doc_id] = update
        prior, prior_keys = update.new, update.new_keys
        indexes = table.indexes.values()
        new_keys = index_keys(indexes, new) if new is not None else None
        for index in indexes:
            overlay = self._overlay.get(index.id)
            if overlay is None:
                overlay = self._overlay[index.id] = {}
            if prior is not None:
                key = prior_keys.get(index.id) if prior_keys is not None else None
                overlay[key if key is not None else index_key(index, prior)] = None
            if new_keys is not None:
                overlay[new_keys[index.id]] = doc_id
        update.new = new
        update.new_keys = new_keys
        update.encoded = None
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
        self,
        table_name: str,
        value: dict[str, Any],
        *,
        metered: bool = True,
        encode: Callable[[Document], bytes] | None = None,
    ) -> str:
        """Insert into a system table (used by the system-table models).

        ``metered=False`` writes bookkeeping the user did not ask for (the record of a
        mutation's outcome, kept for replays): it is not charged to the mutation's write
        limits, and its size is bounded by the caller (a recorded return value may be as
        large as any return value), not by the document size limit. ``encode``: the
        caller's encoder for a document of a fixed shape, which must give exactly what
        ``encode_document`` would, faster (one such record rides in every WebSocket
        mutation). Unmetered, it is a new document and nothing else: its keys come from
        the table's insert plan, as a user insert's do (the generic ``_write`` walk cost
        the record ~20K instructions more)."""
        self._check_writable("insert")
        if metered:
            return self._system_insert(table_name, value)
        table = self.catalog.tables_by_name[table_name]
        doc_id = new_id(table.number)
        created = self._next_creation_time()
        doc: Document = {ID_FIELD: doc_id, CREATION_TIME_FIELD: created}
        doc.update(value)
        keys = new_index_keys(plan_of(table, self.catalog.schema).indexes, doc, doc_id, created)
        self._put_new(table, doc_id, doc, keys, encode(doc) if encode is not None else None)
        return doc_id

    async def update_system(self, doc_id: str, new: Document | None) -> None:
        """Overwrite (or delete, with None) a system-table document."""
        self._check_writable("patch")
        if doc_id not in self._updates and await self.get(doc_id) is None:
            raise NotFoundError(
                f"system document {doc_id} not found", short_msg="DocumentNotFound"
            )
        self._write_existing_system(doc_id, new)
