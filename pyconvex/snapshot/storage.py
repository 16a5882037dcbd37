"""Uploaded files in a snapshot ZIP, in Convex's layout.

``_storage/documents.jsonl`` holds one line per file: ``_id`` (the storage id user
documents refer to), ``_creationTime``, ``sha256`` (base64), ``size``, ``contentType``
and ``internalId``; each file's bytes are the entry ``_storage/<id><ext>``, the
extension guessed from the content type only so the file opens at a glance (it is
ignored on the way back).

On import each file is written to the deployment's store first (and made durable),
its size and SHA-256 checked against its line; only then does the transaction that
inserts the ``_storage`` rows (with the store's new keys) commit together with the
tables. If anything fails, the blobs written so far are deleted, so a failed import
leaves no file behind, and a successful one leaves no row without its file.
"""

from __future__ import annotations

import base64
import mimetypes
import zipfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import orjson

from pyconvex.database import STORAGE_TABLE, Database
from pyconvex.errors import BadRequestError, PyConvexError
from pyconvex.files import BlobInfo, FileStore
from pyconvex.values import decode_id

PREFIX = f"{STORAGE_TABLE}/"
DOCUMENTS = f"{PREFIX}documents.jsonl"
CHUNK = 256 * 1024
PAGE = 1000

Progress = Callable[[str, int, int], None]


class SnapshotImportError(BadRequestError):
    """A snapshot that cannot be imported (named entry and line); nothing was imported."""

    short_msg = "SnapshotImportFailed"


def _extension(content_type: Any) -> str:
    if not isinstance(content_type, str):
        return ""
    return mimetypes.guess_extension(content_type.split(";")[0].strip()) or ""


async def export_files(
    db: Database, ts: int, store: FileStore, archive: zipfile.ZipFile,
    progress: Progress | None = None,
) -> tuple[int, int]:
    """Write ``_storage`` (rows, then bytes) at ``ts``; ``(files, bytes)`` written."""
    table = db.begin(writable=False, ts=ts, limits=None).catalog.tables_by_name[STORAGE_TABLE]
    rows: list[dict[str, Any]] = []
    txn = db.begin(writable=False, ts=ts, limits=None)
    async for _, doc in txn.scan(table.by_id, b"", None, "asc", PAGE):
        line = {"_id": doc["_id"], "_creationTime": doc["_creationTime"], "sha256": doc["sha256"],
                "size": int(doc["size"]) if isinstance(doc["size"], (int, float)) else doc["size"],
                "internalId": doc["internalId"]}
        if doc.get("contentType") is not None:
            line["contentType"] = doc["contentType"]
        rows.append(line)
    archive.writestr(DOCUMENTS, b"".join(orjson.dumps(r) + b"\n" for r in rows))
    total_bytes = 0
    for n, row in enumerate(rows, 1):
        key = str(row["internalId"])
        name = f"{PREFIX}{row['_id']}{_extension(row.get('contentType'))}"
        try:
            with archive.open(name, "w", force_zip64=True) as out:
                async for chunk in store.stream(key):
                    out.write(chunk)
                    total_bytes += len(chunk)
        except Exception as e:
            raise PyConvexError(
                f"File {row['_id']} could not be read from file storage (blob {key}: "
                f"{type(e).__name__}: {e}); the export stopped rather than leave it out."
            ) from None
        if progress is not None:
            progress(STORAGE_TABLE, n, len(rows))
    return len(rows), total_bytes


async def count_files(db: Database, ts: int) -> int:
    txn = db.begin(writable=False, ts=ts, limits=None)
    table = txn.catalog.tables_by_name[STORAGE_TABLE]
    n = 0
    async for _ in txn.scan(table.by_id, b"", None, "asc", PAGE):
        n += 1
    return n


@dataclass
class RestoredFile:
    doc: dict[str, Any]
    """The ``_storage`` row as the snapshot has it (its ``_id`` may still need re-encoding)."""
    blob: BlobInfo


def storage_rows(archive: zipfile.ZipFile) -> list[dict[str, Any]] | None:
    """The snapshot's ``_storage`` lines, or None if it has no files section."""
    try:
        info = archive.getinfo(DOCUMENTS)
    except KeyError:
        return None
    rows = []
    with archive.open(info) as raw:
        for lineno, line in enumerate(raw.read().splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = orjson.loads(line)
            except orjson.JSONDecodeError as e:
                raise SnapshotImportError(f"{DOCUMENTS}:{lineno}: not JSON ({e}).") from None
            if not isinstance(row, dict) or not isinstance(row.get("_id"), str):
                raise SnapshotImportError(f'{DOCUMENTS}:{lineno}: expected {{"_id": ..., ...}}.')
            try:
                decode_id(row["_id"])
            except PyConvexError:
                raise SnapshotImportError(f"{DOCUMENTS}:{lineno}: {row['_id']!r} is not an id.") from None
            rows.append(row)
    return rows


def has_blobs(archive: zipfile.ZipFile) -> bool:
    """Whether the snapshot holds any file's bytes (an export made without file
    storage lists none)."""
    return bool(_blob_entries(archive))


def _blob_entries(archive: zipfile.ZipFile) -> dict[str, str]:
    """Storage id -> ZIP entry (extension ignored)."""
    out: dict[str, str] = {}
    for name in archive.namelist():
        if name.startswith(PREFIX) and name != DOCUMENTS and not name.endswith("/"):
            out[name[len(PREFIX):].split(".", 1)[0]] = name
    return out


async def restore_blobs(
    archive: zipfile.ZipFile, rows: list[dict[str, Any]], store: FileStore,
    progress: Progress | None = None,
) -> list[RestoredFile]:
    """Write every file of ``rows`` to ``store``, checked; on any failure delete what
    was written and raise."""
    entries = _blob_entries(archive)
    restored: list[RestoredFile] = []
    try:
        for n, row in enumerate(rows, 1):
            sid = row["_id"]
            entry = entries.get(sid)
            if entry is None:
                raise SnapshotImportError(
                    f"{DOCUMENTS} lists file {sid}, but the snapshot has no {PREFIX}{sid} entry."
                )
            blob = await store.put(_chunks(archive, entry))
            restored.append(RestoredFile(row, blob))
            _check(row, blob, entry)
            if progress is not None:
                progress(STORAGE_TABLE, n, len(rows))
    except BaseException:
        await delete_blobs(store, [r.blob for r in restored])
        raise
    return restored


def _check(row: dict[str, Any], blob: BlobInfo, entry: str) -> None:
    size = row.get("size")
    if isinstance(size, (int, float)) and int(size) != blob.size:
        raise SnapshotImportError(f"{entry}: {blob.size} bytes, but {DOCUMENTS} says {int(size)}.")
    sha = row.get("sha256")
    if isinstance(sha, str) and sha:
        try:
            expected = base64.b64decode(sha, validate=True)
        except ValueError:
            raise SnapshotImportError(f"{DOCUMENTS}: {row['_id']}: bad sha256 {sha!r}.") from None
        if expected != blob.sha256:
            raise SnapshotImportError(
                f"{entry}: its SHA-256 does not match {DOCUMENTS} (the file is damaged)."
            )


def storage_document(restored: RestoredFile, doc_id: str) -> dict[str, Any]:
    """The ``_storage`` row to insert: the snapshot's metadata, this store's key."""
    row = restored.doc
    created = row.get("_creationTime")
    doc: dict[str, Any] = {
        "_id": doc_id,
        "_creationTime": float(created) if isinstance(created, (int, float)) else 0.0,
        "sha256": base64.b64encode(restored.blob.sha256).decode(),
        "size": float(restored.blob.size),
        "internalId": restored.blob.key,
    }
    if isinstance(row.get("contentType"), str):
        doc["contentType"] = row["contentType"]
    return doc


async def delete_blobs(store: FileStore, blobs: list[BlobInfo]) -> None:
    for blob in blobs:
        try:
            await store.delete(blob.key)
        except Exception:  # the orphan collector will find it
            pass


async def _chunks(archive: zipfile.ZipFile, entry: str) -> AsyncIterator[bytes]:
    with archive.open(entry) as raw:
        while data := raw.read(CHUNK):
            yield data
