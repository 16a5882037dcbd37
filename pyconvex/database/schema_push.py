"""Pushing a schema: validate existing data, create tables and indexes, backfill.

Steps, each its own transaction so readers are never blocked:

1. In one transaction: read every document of each table whose validator changed and
   check it against the new schema (refusing with the first bad document named);
   create missing tables; add new indexes in state ``backfilling`` (``staged`` ones
   stay ``staged``); drop removed ones; touch every affected table's ``_tables`` row
   (so mutations that began under the old catalog conflict and retry with the new one,
   which maintains the new indexes); store the schema in ``_schemas``. Because the
   validation reads are part of its read set, a concurrent write of a bad document makes
   this transaction conflict rather than slip through.
2. Backfill each new index from the committed snapshot: for every document version
   older than step 1's commit, write its index entry *at that version's timestamp*
   (newer versions were written by mutations that already maintain the index).
3. Mark the backfilled indexes ``enabled``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import orjson

from pyconvex.database.catalog import SCHEMAS_TABLE, IndexInfo
from pyconvex.database.documents import decode_document, index_key
from pyconvex.database.progress import ProgressLog, progress_board
from pyconvex.database.table_counts import known_count as table_counts_known
from pyconvex.errors import OccConflict, SchemaValidationError
from pyconvex.persistence.base import IndexEntry
from pyconvex.schema import SchemaDefinition, ValidationFailure, diff_schemas

if TYPE_CHECKING:
    from pyconvex.database.database import Database

log = logging.getLogger("pyconvex.database.schema")

BACKFILL_PAGE = 512
BACKFILL_PAGE_DONE = "backfill_page_done"
"""The pause point after each page of a backfill (tests hold it to see a backfill midway)."""
MAX_ATTEMPTS = 20


@dataclass
class SchemaPushResult:
    tables_created: list[str] = field(default_factory=list)
    indexes_added: list[str] = field(default_factory=list)
    indexes_removed: list[str] = field(default_factory=list)
    # Documents written into each new index ("table.index"), so a deploy can say what
    # its backfills did even when they ran too fast to be watched.
    backfilled: dict[str, int] = field(default_factory=dict)

    @property
    def documents_backfilled(self) -> int:
        return sum(self.backfilled.values())

    def describe(self) -> str:
        parts = []
        if self.tables_created:
            parts.append("created tables " + ", ".join(self.tables_created))
        if self.indexes_added:
            total = self.documents_backfilled
            parts.append("added indexes " + ", ".join(self.indexes_added)
                         + (f" (backfilled {total:,} documents)" if total else ""))
        if self.indexes_removed:
            parts.append("removed indexes " + ", ".join(self.indexes_removed))
        return "; ".join(parts) or "no changes"


async def push_schema(db: Database, schema: SchemaDefinition) -> SchemaPushResult:
    for _attempt in range(MAX_ATTEMPTS):
        try:
            result, new_indexes, commit_ts = await _apply(db, schema)
            break
        except OccConflict:
            continue
    else:
        raise OccConflict("schema push kept conflicting with concurrent writes")
    for info in new_indexes:
        name = f"{db.catalog.tables_by_number[info.table_number].name}.{info.name}"
        result.backfilled[name] = await _backfill(db, info, commit_ts)
    if new_indexes:
        await _enable(db, new_indexes)
    return result


def _desired_indexes(schema: SchemaDefinition, table: str) -> dict[str, tuple[tuple[str, ...], bool]]:
    definition = schema.tables[table]
    return {i.name: (tuple(i.fields), bool(i.staged)) for i in definition.indexes}


async def _apply(
    db: Database, schema: SchemaDefinition
) -> tuple[SchemaPushResult, list[IndexInfo], int]:
    result = SchemaPushResult()
    txn = db.begin(limits=None)
    old = txn.catalog.schema
    diff = diff_schemas(old, schema)
    txn.set_schema(schema)
    changed_validators = set(getattr(diff, "tables_with_changed_validator", ()) or ())
    if old is None:
        changed_validators = set(schema.tables)
    new_indexes: list[tuple[str, str]] = []
    for table_name in schema.tables:
        table = txn.table(table_name)
        if table is None:
            txn.create_table(table_name)
            result.tables_created.append(table_name)
            table = txn.table(table_name)
            assert table is not None
        desired = _desired_indexes(schema, table_name)
        existing = {
            n: i for n, i in table.indexes.items() if n not in ("by_id", "by_creation_time")
        }
        for name, info in existing.items():
            fields, _ = desired.get(name, ((), False))
            if name not in desired or fields != info.fields[:-1]:
                await txn.drop_index(table_name, name)
                result.indexes_removed.append(f"{table_name}.{name}")
        table = txn.table(table_name)
        assert table is not None
        for name, (fields, staged) in desired.items():
            if name in table.indexes:
                continue
            await txn.add_index(table_name, name, fields, "staged" if staged else "backfilling")
            new_indexes.append((table_name, name))
            result.indexes_added.append(f"{table_name}.{name}")
        if schema.schema_validation and table_name in changed_validators:
            await _validate_table(txn, schema, table_name)
    # Tables that left the schema keep their data but lose their declared indexes.
    if old is not None:
        for table_name in old.tables:
            if table_name in schema.tables:
                continue
            table = txn.table(table_name)
            if table is None:
                continue
            for name in [n for n in table.indexes if n not in ("by_id", "by_creation_time")]:
                await txn.drop_index(table_name, name)
                result.indexes_removed.append(f"{table_name}.{name}")
    unchanged = not (result.tables_created or result.indexes_added or result.indexes_removed)
    if unchanged and old is not None and old == schema:
        return result, [], txn.begin_ts  # nothing to write: no commit, no conflicts caused
    await _store_schema(txn, schema)
    ts = await db.commit(txn)
    catalog = db.catalog
    infos = [catalog.tables_by_name[t].indexes[n] for t, n in new_indexes]
    return result, infos, ts


async def _validate_table(txn, schema: SchemaDefinition, table_name: str) -> None:  # type: ignore[no-untyped-def]
    table = txn.table(table_name)
    if table is None:
        return
    check = schema.document_check(table_name)
    ids = txn._ids()
    async for _, doc in txn.scan(table.by_id, b"", None, "asc", 256):
        try:
            check(doc, "", ids)
        except ValidationFailure as e:
            raise SchemaValidationError(
                f"Schema validation failed: document {doc['_id']} in table '{table_name}' "
                f"does not match the new schema: {e.message}. Fix or delete the document, "
                "or relax the schema; the previous schema stays in force."
            ) from None


async def _store_schema(txn, schema: SchemaDefinition) -> None:  # type: ignore[no-untyped-def]
    table = txn.catalog.tables_by_name[SCHEMAS_TABLE]
    async for _, doc in txn.scan(table.indexes["by_state"], b"", None, "asc", 16):
        if doc.get("state") == "active":
            doc["state"] = "overwritten"
            await txn.update_system(doc["_id"], doc)
    # Stored as JSON text: a schema's JSON may hold Convex-JSON literals ({"$integer": ...})
    # whose "$" keys are not allowed as document field names.
    text = orjson.dumps(schema.to_json()).decode()
    txn.insert_system(SCHEMAS_TABLE, {"state": "active", "schema": text})


async def _backfill(db: Database, info: IndexInfo, created_ts: int) -> int:
    """Write index entries for document versions that predate the index (see module doc)."""
    table = db.catalog.tables_by_number[info.table_number]
    snapshot = db.latest_ts
    lo = b""
    written = 0
    progress = ProgressLog(
        log, f"backfilling index {table.name}.{info.name}", "documents",
        board=progress_board(db), kind="index", table=table.name, index=info.name,
        total=table_counts_known(db, table),
    )
    try:
        while True:
            rows = await db.persistence.index_scan(
                table.by_id.id, lo, None, snapshot, "asc", BACKFILL_PAGE
            )
            entries = [
                IndexEntry(info.id, index_key(info, decode_document(row.value)), row.doc_ts,
                           row.doc_id)
                for row in rows
                if row.doc_ts <= created_ts
            ]
            if entries:
                await db.write_index_entries(entries)
                written += len(entries)
            progress.advance(len(entries))
            await db.pauses.reached(BACKFILL_PAGE_DONE)
            if len(rows) < BACKFILL_PAGE:
                progress.done()
                return written
            lo = rows[-1].key + b"\x00"
    finally:
        progress.close()


async def _enable(db: Database, infos: list[IndexInfo]) -> None:
    for _attempt in range(MAX_ATTEMPTS):
        txn = db.begin(limits=None)
        try:
            for info in infos:
                if info.state == "backfilling":
                    await txn.set_index_state(info.table, info.name, "enabled")
            await db.commit(txn)
            return
        except OccConflict:
            continue
    raise OccConflict("could not enable backfilled indexes")
