"""Snapshot ZIPs: our export round-trips exactly; a Convex-made export imports."""

from __future__ import annotations

import io
import math
import zipfile
from pathlib import Path

import orjson
import pytest

from pyconvex.deployment import Deployment
from pyconvex.snapshot import SnapshotImportError, export_snapshot, import_snapshot
from pyconvex.values import convex_to_json, decode_id

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
CONVEX_EXPORT = FIXTURES / "snapshots" / "convex_export"
APP = FIXTURES / "app" / "convex"


URLS: dict[str, str] = {}


@pytest.fixture(autouse=True)
def _urls(make_db_url) -> None:  # type: ignore[no-untyped-def]
    URLS.clear()
    URLS["make"] = make_db_url  # type: ignore[assignment]


async def _open(tmp: Path, name: str, functions: Path | None = None) -> Deployment:
    if name not in URLS:
        URLS[name] = URLS["make"](name)  # type: ignore[operator]
    return await Deployment.open(URLS[name], functions, files=tmp / f"{name}-files")


async def _dump(d: Deployment) -> dict[str, list[bytes]]:
    """Every document of every user table, Convex-JSON encoded (NaN-safe equality)."""
    txn = d.db.begin(writable=False, limits=None)
    out: dict[str, list[bytes]] = {}
    for table in txn.catalog.user_tables():
        out[table.name] = [orjson.dumps(convex_to_json(doc), option=orjson.OPT_SORT_KEYS)
                           async for _, doc in txn.scan(table.by_id, b"", None)]
    return out


async def _write(d: Deployment, table: str, docs: list[dict[str, object]]) -> None:
    async def body(ctx, txn):  # type: ignore[no-untyped-def]
        for doc in docs:
            await ctx.db.insert(table, doc)
    await d.runner.run_in_transaction(body, "seed")


def _zip_from(folder: Path) -> bytes:
    """The fixture folder as a ZIP, laid out exactly as Convex's export worker writes it."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(folder).as_posix())
    return buffer.getvalue()


async def test_export_then_import_reproduces_every_document(tmp_path: Path) -> None:
    source = await _open(tmp_path, "source")
    try:
        await _write(source, "things", [
            {"i": 2**62, "neg": -(2**63), "f": 1.0, "nz": -0.0, "nan": math.nan,
             "inf": -math.inf, "b": b"\x00\xff", "s": "ü✓", "n": None, "t": True,
             "arr": [1, 1.5, [b"x"]], "obj": {"deep": {"x": 1}}},
            {"i": 0},
        ])
        await _write(source, "others", [{"ref": "plain string"}])
        path = tmp_path / "snapshot.zip"
        seen: list[tuple[str, int, int]] = []
        summary = await export_snapshot(source.db, path, progress=lambda *a: seen.append(a))
        assert summary.tables == {"things": 2, "others": 1}
        assert {t for t, *_ in seen} == {"things", "others"}
        expected = await _dump(source)
    finally:
        await source.close()
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        assert {"README.md", "_tables/documents.jsonl", "things/documents.jsonl",
                "things/generated_schema.jsonl"} <= names
        line = archive.read("things/documents.jsonl")
        assert b'"i":4611686018427387904' in line and b'"f":1.0' in line and b'"nz":-0.0' in line
        assert b'"b":{"$bytes":"AP8="}' in line
    target = await _open(tmp_path, "target")
    try:
        result = await import_snapshot(target.db, path)
        assert result.tables == {"things": 2, "others": 1} and result.renumbered == []
        assert await _dump(target) == expected  # _id and _creationTime included
    finally:
        await target.close()


async def test_a_convex_made_snapshot_imports(tmp_path: Path) -> None:
    d = await _open(tmp_path, "fromconvex")
    try:
        summary = await import_snapshot(d.db, io.BytesIO(_zip_from(CONVEX_EXPORT)))
        assert summary.tables == {"channels": 2, "notes": 3}
        assert any("_storage" in s for s in summary.skipped)
        txn = d.db.begin(writable=False)
        general = await txn.get("j577mmcchxb6rt3ycashm33ederx20yd")
        assert general == {"_id": "j577mmcchxb6rt3ycashm33ederx20yd",
                           "_creationTime": 1732492800123.4568, "name": "general"}
        note = await txn.get("j977fwp3wer53h6xwdeev6c63k58pk8v")
        assert note is not None
        assert note["count"] == 42 and isinstance(note["count"], int)
        assert note["ratio"] == 1.0 and isinstance(note["ratio"], float)
        assert math.copysign(1, note["negzero"]) == -1  # type: ignore[arg-type]
        assert note["blob"] == b"hello"
        assert math.isnan(note["nan"])  # type: ignore[arg-type]
        assert note["nested"] == {"big": 9007199254740993, "list": [1, 2.5, None, True]}
        assert await txn.get(str(note["channel"])) == general  # references still resolve
        assert decode_id("j577mmcchxb6rt3ycashm33ederx20yd")[0] == txn.catalog.table("channels").number  # type: ignore[union-attr]
    finally:
        await d.close()


async def test_non_empty_tables_need_replace_and_a_bad_document_imports_nothing(tmp_path: Path) -> None:
    zipped = _zip_from(CONVEX_EXPORT)
    d = await _open(tmp_path, "replace")
    try:
        await import_snapshot(d.db, io.BytesIO(zipped))
        with pytest.raises(SnapshotImportError, match="Table 'channels' already has documents"):
            await import_snapshot(d.db, io.BytesIO(zipped))
        await _write(d, "channels", [{"name": "local only"}])
        again = await import_snapshot(d.db, io.BytesIO(zipped), replace=True)
        assert again.tables == {"channels": 2, "notes": 3}
        assert len((await _dump(d))["channels"]) == 2
        # a broken line in the second table: nothing of the import lands
        broken = io.BytesIO()
        with zipfile.ZipFile(io.BytesIO(zipped)) as src, zipfile.ZipFile(broken, "w") as out:
            for info in src.infolist():
                data = src.read(info)
                if info.filename == "notes/documents.jsonl":
                    data += b'{"_id": "not-an-id", "_creationTime": 1.0}\n'
                out.writestr(info, data)
        before = await _dump(d)
        with pytest.raises(SnapshotImportError, match=r"notes/documents.jsonl:4: .*not-an-id"):
            await import_snapshot(d.db, io.BytesIO(broken.getvalue()), replace=True)
        assert await _dump(d) == before
    finally:
        await d.close()


async def test_schema_violations_name_the_document(tmp_path: Path) -> None:
    d = await _open(tmp_path, "schema", APP)  # channels: {name: string}
    try:
        bad = io.BytesIO()
        with zipfile.ZipFile(bad, "w") as out:
            out.writestr("_tables/documents.jsonl", b'{"name":"channels","id":10001}\n')
            out.writestr("channels/documents.jsonl",
                         b'{"_id":"j577mmcchxb6rt3ycashm33ederx20yd","_creationTime":1.0,"name":5}\n')
        with pytest.raises(SnapshotImportError, match=r"channels/documents.jsonl:1: .*name"):
            await import_snapshot(d.db, io.BytesIO(bad.getvalue()))
    finally:
        await d.close()


async def test_existing_table_under_another_number_gets_its_ids_reencoded(tmp_path: Path) -> None:
    d = await _open(tmp_path, "renumber")
    try:
        await _write(d, "notes", [{"x": 1}])  # "notes" now has the first free number, 10001
        await _write(d, "placeholder", [{"x": 1}])
        summary = await import_snapshot(d.db, io.BytesIO(_zip_from(CONVEX_EXPORT)), replace=True)
        assert "notes" in summary.renumbered or "channels" in summary.renumbered
        txn = d.db.begin(writable=False)
        async for _, note in txn.scan(txn.catalog.table("notes").by_id, b"", None):  # type: ignore[union-attr]
            if "channel" in note:
                assert await txn.get(str(note["channel"])) is not None  # references rewritten
    finally:
        await d.close()


async def test_a_large_table_streams(tmp_path: Path) -> None:
    d = await _open(tmp_path, "large")
    try:
        for start in range(0, 20_000, 5_000):
            await _write(d, "rows", [{"n": i} for i in range(start, start + 5_000)])
        buffer = io.BytesIO()
        assert (await export_snapshot(d.db, buffer)).tables == {"rows": 20_000}
    finally:
        await d.close()
    fresh = await _open(tmp_path, "large2")
    try:
        assert (await import_snapshot(fresh.db, io.BytesIO(buffer.getvalue()))).tables == {"rows": 20_000}
    finally:
        await fresh.close()
