"""Uploaded files in snapshots: exported in Convex's ``_storage`` layout, restored with
their storage ids and checksums, nothing left behind by a failed import."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest

from pyconvex.database import STORAGE_TABLE
from pyconvex.deployment import Deployment
from pyconvex.functions.runtime.storage import insert_storage_row
from pyconvex.snapshot import SnapshotImportError, export_snapshot, import_snapshot
from pyconvex.values import Document

FILES = {"notes.txt": (b"hello files\n", "text/plain"), "photo.bin": (os.urandom(300_000), None),
         "empty": (b"", "application/json")}


async def _open(tmp: Path, make_db_url, name: str) -> Deployment:  # type: ignore[no-untyped-def]
    return await Deployment.open(make_db_url(name), None, files=tmp / f"{name}-files")


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def _seed(d: Deployment) -> dict[str, bytes]:
    """Three files and an ``uploads`` table pointing at them; storage id -> bytes."""
    out = {}
    for name, (data, content_type) in FILES.items():
        blob = await d.runner.storage.require().put(_chunks(data))
        sid = await insert_storage_row(d.runner, blob, content_type)
        out[str(sid)] = data

        async def body(ctx, txn, sid=sid, name=name):  # type: ignore[no-untyped-def]
            await ctx.db.insert("uploads", {"file": sid, "name": name})
        await d.runner.run_in_transaction(body, "seed")
    return out


async def _rows(d: Deployment, table: str) -> list[Document]:
    txn = d.db.begin(writable=False, limits=None)
    info = txn.catalog.table(table)
    return [] if info is None else [doc async for _, doc in txn.scan(info.by_id, b"", None)]


def _blob_count(folder: Path) -> int:
    return sum(1 for p in (folder / "blobs").rglob("*") if p.is_file())


async def test_files_round_trip_with_their_ids_and_bytes(tmp_path: Path, make_db_url) -> None:  # type: ignore[no-untyped-def]
    source = await _open(tmp_path, make_db_url, "source")
    try:
        contents = await _seed(source)
        source_rows = await _rows(source, STORAGE_TABLE)
        uploads = await _rows(source, "uploads")
        path = tmp_path / "snapshot.zip"
        summary = await export_snapshot(source.db, path, files=source.runner.storage.store)
        assert summary.files == 3 and summary.file_bytes == sum(len(b) for b in contents.values())
    finally:
        await source.close()
    with zipfile.ZipFile(path) as archive:
        lines = [orjson.loads(x) for x in archive.read("_storage/documents.jsonl").splitlines()]
        assert {x["_id"] for x in lines} == set(contents)
        assert {"_id", "_creationTime", "sha256", "size", "internalId"} <= set(lines[0])
        names = set(archive.namelist())
        for sid, data in contents.items():
            entry = next(n for n in names if n.startswith(f"_storage/{sid}"))
            assert archive.read(entry) == data
        text_id = next(sid for sid, data in contents.items() if data == FILES["notes.txt"][0])
        assert f"_storage/{text_id}.txt" in names  # an extension from the content type
    target = await _open(tmp_path, make_db_url, "target")
    try:
        result = await import_snapshot(target.db, path, files=target.runner.storage.store)
        assert result.files == 3 and result.tables == {"uploads": 3}
        restored = {str(r["_id"]): r for r in await _rows(target, STORAGE_TABLE)}
        assert set(restored) == set(contents)
        for row in source_rows:
            again = restored[str(row["_id"])]
            assert again["_creationTime"] == row["_creationTime"]
            assert again["sha256"] == row["sha256"] and again["size"] == row["size"]
            assert again.get("contentType") == row.get("contentType")
            data = await target.runner.storage.require().read(str(again["internalId"]))
            assert data == contents[str(row["_id"])]
            assert base64.b64decode(str(again["sha256"])) == hashlib.sha256(data or b"").digest()
        assert await _rows(target, "uploads") == uploads  # every reference resolves
    finally:
        await target.close()


async def _rewrite(src: Path, change) -> io.BytesIO:  # type: ignore[no-untyped-def]
    out = io.BytesIO()
    with zipfile.ZipFile(src) as archive, zipfile.ZipFile(out, "w") as dest:
        for info in archive.infolist():
            data = change(info.filename, archive.read(info))
            if data is not None:
                dest.writestr(info, data)
    out.seek(0)
    return out


async def test_a_damaged_or_missing_file_imports_nothing_and_leaves_no_blob(tmp_path: Path, make_db_url) -> None:  # type: ignore[no-untyped-def]
    source = await _open(tmp_path, make_db_url, "source")
    try:
        contents = await _seed(source)
        path = tmp_path / "snapshot.zip"
        await export_snapshot(source.db, path, files=source.runner.storage.store)
    finally:
        await source.close()
    photo = next(sid for sid, data in contents.items() if len(data) == 300_000)

    def damage(name: str, data: bytes) -> bytes:
        return data[:-1] + bytes([data[-1] ^ 1]) if name.startswith(f"_storage/{photo}") else data

    def drop(name: str, data: bytes) -> bytes | None:
        return None if name.startswith(f"_storage/{photo}") else data

    target = await _open(tmp_path, make_db_url, "target")
    try:
        store = target.runner.storage.store
        with pytest.raises(SnapshotImportError, match="SHA-256"):
            await import_snapshot(target.db, await _rewrite(path, damage), files=store)
        with pytest.raises(SnapshotImportError, match=f"lists file {photo}"):
            await import_snapshot(target.db, await _rewrite(path, drop), files=store)
        assert await _rows(target, STORAGE_TABLE) == [] and await _rows(target, "uploads") == []
        assert _blob_count(tmp_path / "target-files") == 0  # the blobs written so far are gone
        await import_snapshot(target.db, path, files=store)
        assert _blob_count(tmp_path / "target-files") == 3
        # a second import without replace is refused before any file is written
        with pytest.raises(SnapshotImportError, match="already has documents"):
            await import_snapshot(target.db, path, files=store)
        assert _blob_count(tmp_path / "target-files") == 3
        again = await import_snapshot(target.db, path, files=store, replace=True)
        assert again.files == 3 and len(await _rows(target, STORAGE_TABLE)) == 3
    finally:
        await target.close()


async def test_an_export_without_files_says_so(tmp_path: Path, make_db_url) -> None:  # type: ignore[no-untyped-def]
    source = await _open(tmp_path, make_db_url, "source")
    try:
        await _seed(source)
        summary = await export_snapshot(source.db, tmp_path / "nofiles.zip")
        assert summary.files == 0 and summary.files_left_out == 3
    finally:
        await source.close()
    with zipfile.ZipFile(tmp_path / "nofiles.zip") as archive:
        assert not any(n.startswith("_storage/") for n in archive.namelist())


async def test_a_slow_export_says_what_it_writes(tmp_path: Path, make_db_url, monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
                                                 caplog: pytest.LogCaptureFixture) -> None:
    from pyconvex.database import progress

    monkeypatch.setattr(progress, "QUIET_S", 0.0)  # as if every table took long
    source = await _open(tmp_path, make_db_url, "source")
    try:
        await _seed(source)
        with caplog.at_level("INFO", logger="pyconvex.snapshot"):
            await export_snapshot(source.db, tmp_path / "s.zip", files=source.runner.storage.store)
    finally:
        await source.close()
    lines = [r.getMessage() for r in caplog.records if r.name == "pyconvex.snapshot"]
    assert any(line.startswith("export: uploads: done, 3 documents in ") for line in lines), lines
