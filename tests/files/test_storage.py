"""ctx.storage on the real engine; the local store's durability rules; tokens."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest

from pyconvex.files import LocalFileStore
from pyconvex.files.tokens import BadTokenError, sign, verify
from pyconvex.testing import ConvexTest

APP = Path(__file__).resolve().parents[1] / "fixtures" / "filesapp" / "convex"


async def test_store_get_metadata_url_and_delete() -> None:
    async with ConvexTest(APP) as t:
        sid = await t.action("files:store_text", {"text": "hello ✓"})
        assert await t.action("files:read", {"storageId": sid}) == "hello ✓".encode()
        meta = await t.query("files:meta", {"storageId": sid})
        assert meta["size"] == len("hello ✓".encode())
        assert meta["sha256"] == base64.b64encode(hashlib.sha256("hello ✓".encode()).digest()).decode()
        assert meta["contentType"] == "text/plain; charset=utf-8"
        url = await t.query("files:url", {"storageId": sid})
        assert url.endswith(f"/api/storage/{sid}")
        signed = await t.query("files:url", {"storageId": sid, "expiresIn": 60})
        assert "/api/storage/signed/" in signed and sid not in signed
        upload = await t.mutation("files:generate_upload_url", {})
        assert "/api/storage/upload?token=" in upload
        await t.mutation("files:remove", {"storageId": sid})
        assert await t.query("files:url", {"storageId": sid}) is None
        assert await t.action("files:read", {"storageId": sid}) is None
        # the bytes stay until the collector runs (the row's deletion committed first)
        assert await t.deployment.collect_orphans(older_than_s=0) == 1


async def test_orphans_and_interrupted_uploads_are_collected_not_live_files(tmp_path: Path) -> None:
    async with ConvexTest(APP) as t:
        live = await t.action("files:store_text", {"text": "keep me"})
        store = t.deployment.runner.storage.store
        assert isinstance(store, LocalFileStore)

        async def chunks():  # type: ignore[no-untyped-def]
            yield b"orphan"

        await store.put(chunks())  # a blob whose row never committed
        (store.tmp / "interrupted").write_bytes(b"half an upload")  # a crash mid-upload
        assert await t.deployment.collect_orphans(older_than_s=0) == 1
        assert not (store.tmp / "interrupted").exists()
        assert await t.action("files:read", {"storageId": live}) == b"keep me"


@pytest.mark.one_backend  # opens no database
async def test_local_store_is_durable_and_streams_ranges(tmp_path: Path) -> None:
    store = LocalFileStore(tmp_path / "files")
    data = bytes(range(256)) * 4096  # 1 MiB

    async def chunks():  # type: ignore[no-untyped-def]
        for i in range(0, len(data), 65536):
            yield data[i:i + 65536]

    blob = await store.put(chunks())
    assert blob.size == len(data) and blob.sha256 == hashlib.sha256(data).digest()
    assert not list(store.tmp.iterdir())  # renamed into place
    assert await store.read(blob.key) == data
    part = b"".join([c async for c in store.stream(blob.key, 1000, 5000)])
    assert part == data[1000:5000]
    with pytest.raises(Exception, match="larger than 10 bytes"):
        await store.put(chunks(), max_bytes=10)
    assert not list(store.tmp.iterdir())  # the refused upload left nothing


@pytest.mark.one_backend  # opens no database
def test_tokens_expire_and_cannot_be_forged() -> None:
    key = b"k" * 32
    token = sign(key, "upload", "-", expires_ms=2_000)
    assert verify(key, "upload", token, now_ms=1_000)[0] == "-"
    with pytest.raises(BadTokenError, match="expired"):
        verify(key, "upload", token, now_ms=3_000)
    with pytest.raises(BadTokenError, match="signature"):
        verify(key, "get", token, now_ms=1_000)  # another purpose
    with pytest.raises(BadTokenError, match="signature"):
        verify(b"x" * 32, "upload", token, now_ms=1_000)
    expires, subject, nonce, mac = token.split(".")
    with pytest.raises(BadTokenError, match="signature"):
        verify(key, "upload", f"{int(expires) + 10**9}.{subject}.{nonce}.{mac}", now_ms=1_000)
