"""The S3 file store against an S3 peer on loopback: moto's server mode (a separate
process speaking S3's HTTP protocol, request signing included), not an in-process stub.
The same checks as the local folder's: put/read/ranges/delete, orphan collection,
uploads and ranged downloads through a real ``pyconvex serve``, and export/import of a
deployment's files."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import boto3
import httpx
import pytest

from pyconvex.deployment import Deployment
from pyconvex.files import open_file_store
from pyconvex.files.s3 import S3FileStore
from pyconvex.snapshot import export_snapshot, import_snapshot
from tests.conftest import start_server, stop_server
from tests.s3peer import BUCKET, moto_s3

pytestmark = pytest.mark.one_backend  # the store under test is S3; SQLite holds the rows

APP = Path(__file__).resolve().parents[1] / "fixtures" / "filesapp" / "convex"


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """A moto S3 server process on a free port, with a bucket; its environment."""
    with moto_s3() as env:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        yield env


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    for i in range(0, len(data), 100_000):
        yield data[i:i + 100_000]


def _objects(prefix: str) -> list[str]:
    listed = boto3.client("s3").list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    return [item["Key"] for item in listed.get("Contents", [])]


async def test_put_read_ranges_delete_and_orphans(s3: dict[str, str]) -> None:
    store = open_file_store(f"s3://{BUCKET}/unit")
    assert isinstance(store, S3FileStore)
    data = os.urandom(300_000)
    blob = await store.put(_chunks(data))
    assert blob.size == len(data) and _objects("unit/") == [f"unit/{blob.key}"]
    assert await store.size_bytes() == len(data)
    assert await store.read(blob.key) == data
    assert b"".join([c async for c in store.stream(blob.key, 1000, 2000)]) == data[1000:2000]
    assert b"".join([c async for c in store.stream(blob.key)]) == data
    assert await store.read("0" * 32) is None
    assert await store.orphan_candidates(older_than_s=3600) == []  # too young
    assert await store.orphan_candidates(older_than_s=-1) == [blob.key]
    await store.delete(blob.key)
    assert _objects("unit/") == [] and await store.read(blob.key) is None


async def test_deployment_collects_orphans_on_s3_but_keeps_live_files(s3: dict[str, str], tmp_path: Path) -> None:
    d = await Deployment.open(f"sqlite:///{tmp_path / 'db.sqlite3'}", APP, files=f"s3://{BUCKET}/dep")
    try:
        store = d.runner.storage.require()
        orphan = await store.put(_chunks(b"never committed"))
        live = await d.runner.run_action("files:store_text", {"text": "live"})
        assert len(_objects("dep/")) == 2
        assert await d.collect_orphans(older_than_s=-1) == 1
        assert _objects("dep/") != [] and f"dep/{orphan.key}" not in _objects("dep/")
        assert (await d.runner.run_action("files:read", {"storageId": live.value})).value == b"live"
    finally:
        await d.close()


def test_upload_url_ranged_download_and_delete_through_the_server(s3: dict[str, str], tmp_path: Path) -> None:
    proc, url = start_server(tmp_path / "db.sqlite3", APP, extra=["--files", f"s3://{BUCKET}/srv"], env=s3)
    try:
        data = os.urandom(1_000_000)
        upload = httpx.post(f"{url}/api/mutation", json={"path": "files:generate_upload_url", "args": {}}).json()["value"]
        sid = httpx.post(upload, content=data, headers={"Content-Type": "application/x-test"}).json()["storageId"]
        assert len(_objects("srv/")) == 1
        # /metrics counts the bucket's prefix (listed at most every 5 minutes; this is the first).
        scraped = httpx.get(f"{url}/metrics", headers={"Authorization": "Convex test-admin-key"}).text
        assert "pyconvex_file_storage_bytes 1e+06" in scraped.splitlines(), scraped
        file_url = httpx.post(f"{url}/api/query", json={"path": "files:url", "args": {"storageId": sid}}).json()["value"]
        whole = httpx.get(file_url)
        assert whole.status_code == 200 and whole.content == data
        assert whole.headers["content-type"].startswith("application/x-test")
        part = httpx.get(file_url, headers={"Range": "bytes=10-19"})
        assert part.status_code == 206 and part.content == data[10:20]
        removed = httpx.post(f"{url}/api/mutation", json={"path": "files:remove", "args": {"storageId": sid}})
        assert removed.json()["status"] == "success"
        assert httpx.get(file_url).status_code == 404
    finally:
        stop_server(proc)


async def test_export_and_import_with_files_on_s3(s3: dict[str, str], tmp_path: Path) -> None:
    source = await Deployment.open(f"sqlite:///{tmp_path / 'a.sqlite3'}", APP, files=f"s3://{BUCKET}/a")
    try:
        sid = (await source.runner.run_action("files:store_text", {"text": "from s3"})).value
        path = tmp_path / "snap.zip"
        summary = await export_snapshot(source.db, path, files=source.runner.storage.store)
        assert summary.files == 1
    finally:
        await source.close()
    target = await Deployment.open(f"sqlite:///{tmp_path / 'b.sqlite3'}", APP, files=f"s3://{BUCKET}/b")
    try:
        result = await import_snapshot(target.db, path, files=target.runner.storage.store)
        assert result.files == 1 and len(_objects("b/")) == 1
        assert (await target.runner.run_action("files:read", {"storageId": sid})).value == b"from s3"
    finally:
        await target.close()
