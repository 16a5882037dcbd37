"""Read a Convex snapshot ZIP (ours, or one exported from Convex) into a deployment.

Every document keeps its ``_id`` and ``_creationTime``. Ids encode their table's
number, so a table the deployment does not have yet is created with the snapshot's
number (from ``_tables/documents.jsonl``). If the deployment already has that table
under another number, the table's ids are re-encoded with the local number (the same
16 random bytes) and every reference to them in the imported documents is rewritten,
so references stay valid; the summary says which tables that happened to.

The whole import is one transaction: it lands completely or not at all (a bad
document, a schema violation, a non-empty table without ``replace``). Per-transaction
limits do not apply to it; the documents are held in memory until the commit.

Uploaded files (``_storage/``) are restored with their storage ids when a file store is
given: their bytes go to the store first, checked against their size and SHA-256, and
their rows commit with the tables (``snapshot/storage.py``); a failed import deletes
them again.
"""

from __future__ import annotations

import asyncio
import io
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson

from pyconvex.database import STORAGE_TABLE, Database, TableInfo, Transaction
from pyconvex.errors import OccConflict, PyConvexError
from pyconvex.files import FileStore
from pyconvex.snapshot.format import from_export_json
from pyconvex.snapshot.storage import (
    RestoredFile,
    SnapshotImportError,
    delete_blobs,
    has_blobs,
    restore_blobs,
    storage_document,
    storage_rows,
)
from pyconvex.values import Value, decode_id, encode_id

Progress = Callable[[str, int, int], None]

DOCUMENTS = re.compile(r"^(?:(.*)/)?([^/]+)/documents\.jsonl$")
STORAGE_FILE = re.compile(r"^(?:.*/)?_storage/[^/]+$")


@dataclass
class ImportSummary:
    ts: int = 0
    tables: dict[str, int] = field(default_factory=dict)
    renumbered: list[str] = field(default_factory=list)
    """Tables whose ids were re-encoded (the deployment had them under another number)."""
    skipped: list[str] = field(default_factory=list)
    """Entries not imported, and why."""
    files: int = 0
    """Uploaded files restored (``_storage``)."""


def _lines(archive: zipfile.ZipFile, name: str) -> Iterator[tuple[int, Any]]:
    with archive.open(name) as raw:
        for lineno, line in enumerate(io.TextIOWrapper(raw, encoding="utf-8"), 1):
            if line.strip():
                try:
                    yield lineno, orjson.loads(line)
                except orjson.JSONDecodeError as e:
                    raise SnapshotImportError(f"{name}:{lineno}: not JSON ({e}).") from None


def _count_lines(archive: zipfile.ZipFile, name: str) -> int:
    """Documents in an entry, for progress (one decompression pass, no parsing)."""
    with archive.open(name) as raw:
        return sum(1 for line in raw if line.strip())


def _remap(value: Value, numbers: dict[int, int]) -> Value:
    if isinstance(value, str):
        if 31 <= len(value) <= 37:
            try:
                number, internal = decode_id(value)
            except PyConvexError:
                return value
            if number in numbers:
                return encode_id(numbers[number], internal)
        return value
    if isinstance(value, list):
        return [_remap(v, numbers) for v in value]
    if isinstance(value, dict):
        return {k: _remap(v, numbers) for k, v in value.items()}
    return value


async def import_snapshot(
    db: Database,
    src: Path | IO[bytes],
    *,
    replace: bool = False,
    progress: Progress | None = None,
    files: FileStore | None = None,
) -> ImportSummary:
    try:
        archive = zipfile.ZipFile(src)
    except (zipfile.BadZipFile, OSError) as e:
        raise SnapshotImportError(f"Not a snapshot ZIP: {e}.") from None
    with archive:
        entries: dict[str, str] = {}
        summary = ImportSummary()
        for name in archive.namelist():
            m = DOCUMENTS.match(name)
            if m is None:
                if files is None and STORAGE_FILE.match(name) and not name.endswith("documents.jsonl"):
                    summary.skipped.append(f"{name}: no file store to import files into")
                continue
            prefix, table = m.group(1), m.group(2)
            if prefix and not prefix.startswith("_components"):
                continue
            if prefix:
                summary.skipped.append(f"{name}: components are not supported")
                continue
            if table == STORAGE_TABLE:
                if files is None:
                    summary.skipped.append(f"{name}: no file store to import files into")
                continue
            if table.startswith("_") and table != "_tables":
                summary.skipped.append(f"{name}: system table")
                continue
            entries[table] = name
        numbers: dict[str, int] = {}
        if "_tables" in entries:
            for lineno, row in _lines(archive, entries.pop("_tables")):
                ok = isinstance(row, dict) and isinstance(row.get("name"), str)
                if not ok or not isinstance(row.get("id"), int):
                    raise SnapshotImportError(
                        f'_tables/documents.jsonl:{lineno}: expected {{"name": ..., "id": ...}}.'
                    )
                numbers[row["name"]] = row["id"]
        rows = storage_rows(archive) if files is not None else None
        if rows and not has_blobs(archive):
            summary.skipped.append(f"_storage: {len(rows)} files listed without their bytes "
                                   "(exported without file storage); not imported")
            rows = None
        if rows is not None and files is not None:
            txn = db.begin(writable=False, limits=None)
            await _check_empty(txn, [*entries, STORAGE_TABLE], replace)  # before any upload
        restored = await restore_blobs(archive, rows, files, progress) if rows and files else []
        try:
            for _attempt in range(8):
                txn = db.begin(limits=None)
                try:
                    await _fill(txn, archive, entries, numbers, replace, summary, progress,
                                None if rows is None else restored)
                    if progress is not None:
                        progress("", -1, sum(summary.tables.values()))  # committing
                    summary.ts = await db.commit(txn)
                    summary.files = len(restored)
                    return summary
                except OccConflict:
                    summary.tables.clear()
                    summary.renumbered.clear()
                    continue
            raise SnapshotImportError("The deployment kept changing during the import; retry.")
        except BaseException:
            if files is not None:
                await delete_blobs(files, [r.blob for r in restored])
            raise


async def _check_empty(txn: Transaction, tables: list[str], replace: bool) -> None:
    """Refuse early (before uploading files) what ``_fill`` would refuse later."""
    if replace:
        return
    for name in tables:
        table = txn.table(name)
        if table is None:
            continue
        async for _ in txn.scan(table.by_id, b"", None, "asc", 1):
            raise SnapshotImportError(_not_empty(name))


def _not_empty(name: str) -> str:
    return (f"Table '{name}' already has documents: import into an empty table, or "
            "pass replace (pyconvex import --replace) to delete them first.")


async def _fill(
    txn: Transaction,
    archive: zipfile.ZipFile,
    entries: dict[str, str],
    numbers: dict[str, int],
    replace: bool,
    summary: ImportSummary,
    progress: Progress | None,
    restored: list[RestoredFile] | None,
) -> None:
    # First the tables, so ids can be checked (and re-encoded) before any document.
    tables: dict[str, TableInfo] = {}
    renumber: dict[int, int] = {}
    for name in sorted(entries, key=lambda t: numbers.get(t, 0)):
        wanted = numbers.get(name)
        table = txn.table(name)
        if table is None:
            free = wanted is not None and wanted not in txn.catalog.tables_by_number
            try:
                table = txn.create_table(name, wanted if free else None)
            except PyConvexError as e:
                raise SnapshotImportError(f"Cannot create table '{name}': {e.message}") from None
        else:
            async for _, doc in txn.scan(table.by_id, b"", None, "asc", 256):
                if not replace:
                    raise SnapshotImportError(_not_empty(name))
                await txn.delete(str(doc["_id"]))
        if wanted is not None and wanted != table.number:
            renumber[wanted] = table.number
            summary.renumbered.append(name)
        tables[name] = table
    if restored is not None:
        await _fill_storage(txn, restored, replace, renumber)
    for name, entry in entries.items():
        table = tables[name]
        total = _count_lines(archive, entry) if progress is not None else 0
        done = 0
        for lineno, row in _lines(archive, entry):
            where = f"{entry}:{lineno}"
            if not isinstance(row, dict):
                raise SnapshotImportError(f"{where}: a document must be a JSON object.")
            try:
                value = from_export_json(row)
                if renumber:
                    value = _remap(value, renumber)
                assert isinstance(value, dict)
                doc = value
                if "_id" not in doc or "_creationTime" not in doc:
                    raise SnapshotImportError(f"{where}: missing _id or _creationTime.")
                if isinstance(doc["_creationTime"], int):
                    doc["_creationTime"] = float(doc["_creationTime"])
                txn.insert_document(table, doc)
            except SnapshotImportError:
                raise
            except PyConvexError as e:
                raise SnapshotImportError(f"{where}: {e.message}") from None
            except (TypeError, ValueError) as e:
                raise SnapshotImportError(f"{where}: {e}") from None
            done += 1
            if done % 1000 == 0:
                if progress is not None:
                    progress(name, done, total)
                await asyncio.sleep(0)  # let the server answer others meanwhile
        summary.tables[name] = done
        if progress is not None:
            progress(name, done, done)


async def _fill_storage(
    txn: Transaction, restored: list[RestoredFile], replace: bool, renumber: dict[int, int]
) -> None:
    """The ``_storage`` rows of the restored files, keeping their ids (re-encoded with
    this deployment's ``_storage`` number if the snapshot's differs, and every
    reference to them with it)."""
    storage = txn.catalog.tables_by_name[STORAGE_TABLE]
    async for _, doc in txn.scan(storage.by_id, b"", None, "asc", 256):
        if not replace:
            raise SnapshotImportError(_not_empty(STORAGE_TABLE))
        await txn.update_system(str(doc["_id"]), None)  # its blob goes to the orphan collector
    for item in restored:
        number, _ = decode_id(item.doc["_id"])
        if number != storage.number:
            renumber[number] = storage.number
    for item in restored:
        doc_id = _remap(item.doc["_id"], renumber)
        assert isinstance(doc_id, str)
        try:
            txn.insert_document(storage, storage_document(item, doc_id))
        except PyConvexError as e:
            raise SnapshotImportError(f"_storage/documents.jsonl: {item.doc['_id']}: {e.message}") from None
