"""Copy a deployment's whole log to another backend (``pyconvex migrate-storage``).

Every document version and every entry of every live index is copied as is (same
timestamps, same ids), so the target reads exactly like the source at every timestamp
it holds. The target must be empty. Afterwards both are counted and checksummed
(SHA-256 over the documents log in ``(ts, id)`` order and over each index's entries in
``(key, ts)`` order) and must agree.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

from pyconvex.database.database import Database
from pyconvex.errors import BadRequestError
from pyconvex.persistence import DocumentLogEntry, IndexEntry, Persistence

BATCH = 2000
Progress = Callable[[str, int, int], None]


class MigrationError(BadRequestError):
    short_msg = "MigrationFailed"


@dataclass
class Digest:
    documents: int = 0
    index_entries: int = 0
    sha256: dict[str, str] = field(default_factory=dict)


async def _index_ids(source: Persistence) -> list[int]:
    db = Database(source)
    db.latest_ts = await source.max_ts()
    catalog = await db._load_catalog(db.latest_ts)
    return sorted({i.id for t in catalog.tables_by_name.values() for i in t.indexes.values()})


async def digest(store: Persistence, index_ids: list[int]) -> Digest:
    out = Digest()
    h = hashlib.sha256()
    async for d in store.load_documents(0):
        out.documents += 1
        h.update(repr((d.ts, d.id, d.table_number, d.prev_ts)).encode())
        h.update(d.value or b"\x00tombstone")
    out.sha256["documents"] = h.hexdigest()
    for index_id in index_ids:
        h = hashlib.sha256()
        async for e in store.load_index_entries(index_id):
            out.index_entries += 1
            h.update(repr((e.ts, e.doc_id, len(e.key))).encode())
            h.update(e.key)
        out.sha256[f"index {index_id}"] = h.hexdigest()
    return out


async def migrate(source: Persistence, target: Persistence, *, progress: Progress | None = None) -> Digest:
    """Copy ``source`` into the empty ``target``; verify; return the (shared) digest."""
    if await target.max_ts() != 0:
        raise MigrationError("The target database is not empty; migrate into a new database or schema.")
    index_ids = await _index_ids(source)
    total = 0
    async for _ in source.load_documents(0):
        total += 1
    done = 0
    batch: list[DocumentLogEntry] = []
    async for entry in source.load_documents(0):
        batch.append(entry)
        if len(batch) >= BATCH:
            await target.write(batch, [])
            done += len(batch)
            batch = []
            if progress is not None:
                progress("documents", done, total)
    if batch:
        await target.write(batch, [])
        done += len(batch)
    if progress is not None:
        progress("documents", done, total)
    for n, index_id in enumerate(index_ids, 1):
        entries: list[IndexEntry] = []
        async for index_entry in source.load_index_entries(index_id):
            entries.append(index_entry)
            if len(entries) >= BATCH:
                await target.write([], entries)
                entries = []
        if entries:
            await target.write([], entries)
        if progress is not None:
            progress("indexes", n, len(index_ids))
    for key in ("instance",):
        value = await source.get_global(key)
        if value is not None:
            await target.set_global(key, value)
    want, got = await digest(source, index_ids), await digest(target, index_ids)
    if want != got:
        raise MigrationError(
            f"Verification failed: source has {want.documents} document versions and "
            f"{want.index_entries} index entries, the target {got.documents} and {got.index_entries}"
            + ("" if want.sha256 == got.sha256 else "; checksums differ")
        )
    if await target.max_ts() != await source.max_ts():
        raise MigrationError("Verification failed: the newest timestamps differ.")
    return want
