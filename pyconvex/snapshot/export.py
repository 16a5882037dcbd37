"""Write a deployment's tables as a Convex snapshot ZIP, at one snapshot timestamp.

Layout (as Convex's export worker writes it): ``README.md``; ``_tables/documents.jsonl``
with one ``{"name", "id"}`` line per user table (its table number, which ids encode);
per table ``<table>/documents.jsonl`` (one document per line, export JSON) and
``<table>/generated_schema.jsonl`` holding the single line ``"uniform"``; with a file
store, the uploaded files as ``_storage/`` (see ``snapshot/storage.py``).
"""

from __future__ import annotations

import logging
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import orjson

from pyconvex.database import Database
from pyconvex.database.progress import ProgressLog
from pyconvex.files import FileStore
from pyconvex.snapshot.format import to_export_json
from pyconvex.snapshot.storage import count_files, export_files

Progress = Callable[[str, int, int], None]
"""``progress(table, done, total)``."""

README = """# Welcome to your Convex snapshot export!

This ZIP file contains a snapshot of the tables in your Convex deployment.

Documents for each table are listed as lines of JSON in
<table_name>/documents.jsonl files.

It was written by pyconvex; `pyconvex import` and `npx convex import` both read it.
"""
PAGE = 1000
log = logging.getLogger("pyconvex.snapshot")


@dataclass
class ExportSummary:
    ts: int
    tables: dict[str, int] = field(default_factory=dict)
    """Documents written per table."""
    files: int = 0
    file_bytes: int = 0
    files_left_out: int = 0
    """Files the deployment has that this export does not hold (no file store given)."""


async def _count(db: Database, ts: int, table: str) -> int:
    txn = db.begin(writable=False, ts=ts, limits=None)
    info = txn.catalog.tables_by_name[table]
    n = 0
    async for _ in txn.scan(info.by_id, b"", None, "asc", PAGE):
        n += 1
    return n


async def export_snapshot(
    db: Database, dest: Path | IO[bytes], *, progress: Progress | None = None,
    files: FileStore | None = None,
) -> ExportSummary:
    """Every user table at the latest timestamp, streamed into ``dest`` (a path or a
    writable binary file); with ``files``, every uploaded file too."""
    ts = db.latest_ts
    catalog = db.begin(writable=False, ts=ts, limits=None).catalog
    tables = sorted(catalog.user_tables(), key=lambda t: t.number)
    summary = ExportSummary(ts)
    with zipfile.ZipFile(dest, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("README.md", README)
        archive.writestr(
            "_tables/documents.jsonl",
            b"".join(orjson.dumps({"name": t.name, "id": t.number}) + b"\n" for t in tables),
        )
        for table in tables:
            total = await _count(db, ts, table.name) if progress is not None else 0
            txn = db.begin(writable=False, ts=ts, limits=None)
            written = 0
            told = ProgressLog(log, f"export: {table.name}", "documents")  # quiet unless slow
            with archive.open(f"{table.name}/documents.jsonl", "w", force_zip64=True) as out:
                async for _, doc in txn.scan(table.by_id, b"", None, "asc", PAGE):
                    out.write(orjson.dumps(to_export_json(doc)) + b"\n")
                    written += 1
                    if written % PAGE == 0:
                        told.advance(PAGE)
                        if progress is not None:
                            progress(table.name, written, total)
            told.count = written
            told.done()
            archive.writestr(f"{table.name}/generated_schema.jsonl", b'"uniform"\n')
            summary.tables[table.name] = written
            if progress is not None:
                progress(table.name, written, total or written)
        if files is not None:
            summary.files, summary.file_bytes = await export_files(db, ts, files, archive, progress)
        else:
            summary.files_left_out = await count_files(db, ts)
    return summary
