"""The Persistence contract (persistence/base.py), checked on every backend."""

from __future__ import annotations

import asyncio

import pytest

from pyconvex.persistence import DocumentLogEntry as D
from pyconvex.persistence import IndexEntry as I
from pyconvex.persistence.errors import StorageError


def doc(ts: int, doc_id: str, value: bytes | None, prev: int | None = None) -> D:
    return D(ts, doc_id, 10001, value, prev)


async def test_snapshot_reads_pick_the_newest_version_at_or_below(make_store):
    store = await make_store()
    await store.write([doc(10, "a", b"v10")], [I(1, b"ka", 10, "a")])
    await store.write([doc(20, "a", b"v20", 10)], [])
    assert await store.get_document("a", 5) is None
    assert (await store.get_document("a", 10)).value == b"v10"
    assert (await store.get_document("a", 15)).value == b"v10"
    assert (await store.get_document("a", 25)).value == b"v20"
    rows = await store.index_scan(1, b"", None, 15, "asc", 10)
    assert [(r.key, r.doc_id, r.doc_ts, r.value) for r in rows] == [(b"ka", "a", 10, b"v10")]
    rows = await store.index_scan(1, b"", None, 25, "asc", 10)
    assert rows[0].value == b"v20" and rows[0].doc_ts == 20
    assert await store.max_ts() == 20


async def test_tombstones_hide_documents_and_keys(make_store):
    store = await make_store()
    await store.write([doc(10, "a", b"x")], [I(1, b"k1", 10, "a")])
    await store.write([doc(20, "a", None, 10)], [I(1, b"k1", 20, None)])
    assert (await store.get_document("a", 20)).value is None  # the tombstone itself
    assert await store.index_scan(1, b"", None, 20, "asc", 10) == []
    assert len(await store.index_scan(1, b"", None, 19, "asc", 10)) == 1


async def test_range_scans_bounds_order_limit_and_continuation(make_store):
    store = await make_store()
    keys = [bytes([k]) for k in range(1, 11)]
    await store.write(
        [doc(1, f"d{k[0]}", b"v") for k in keys], [I(7, k, 1, f"d{k[0]}") for k in keys]
    )
    scan = lambda lo, hi, order="asc", limit=100: store.index_scan(7, lo, hi, 5, order, limit)  # noqa: E731
    assert [r.key for r in await scan(b"\x03", b"\x06")] == [b"\x03", b"\x04", b"\x05"]
    assert [r.key for r in await scan(b"\x03", b"\x06", "desc")] == [b"\x05", b"\x04", b"\x03"]
    assert [r.key for r in await scan(b"\x08", None)] == [b"\x08", b"\x09", b"\x0a"]
    first = await scan(b"", None, "asc", 4)
    assert [r.key for r in first] == keys[:4]
    rest = await scan(first[-1].key + b"\x00", None, "asc", 100)
    assert [r.key for r in rest] == keys[4:]
    assert await store.index_scan(8, b"", None, 5, "asc", 10) == []  # other index


async def test_one_batch_may_hold_several_timestamps(make_store):
    store = await make_store()
    await store.write([doc(1, "a", b"1"), doc(2, "a", b"2", 1), doc(3, "b", b"3")], [])
    assert (await store.get_document("a", 1)).value == b"1"
    assert (await store.get_document("a", 2)).value == b"2"
    assert await store.max_ts() == 3


async def test_failed_batch_leaves_nothing_visible(make_store):
    store = await make_store()
    await store.write([doc(1, "a", b"1")], [])
    with pytest.raises(StorageError):
        await store.write([doc(2, "b", b"2"), doc(1, "a", b"dup")], [I(1, b"k", 2, "b")])
    assert await store.get_document("b", 10) is None
    assert await store.index_scan(1, b"", None, 10, "asc", 10) == []
    await store.write([doc(3, "c", b"3")], [])  # the store still works
    assert (await store.get_document("c", 3)).value == b"3"


async def test_durable_across_reopen(make_store, tmp_path):
    store = await make_store()
    await store.write([doc(5, "a", b"x")], [I(1, b"k", 5, "a")])
    await store.set_global("instance", "one")
    await store.close()
    again = await make_store()
    assert (await again.get_document("a", 5)).value == b"x"
    assert await again.get_global("instance") == "one"
    assert await again.get_global("missing") is None
    assert await again.max_ts() == 5


async def test_load_documents_in_timestamp_order_with_bounds(make_store):
    store = await make_store()
    await store.write([doc(ts, f"d{ts % 7}", b"v", None) for ts in range(1, 2501)], [])
    got = [(e.ts, e.id) async for e in store.load_documents(0)]
    assert [ts for ts, _ in got] == list(range(1, 2501))
    bounded = [e.ts async for e in store.load_documents(100, 200)]
    assert bounded == list(range(100, 201))


async def test_reads_proceed_while_a_write_is_in_flight(make_store):
    store = await make_store()
    await store.write([doc(1, "a", b"1")], [])
    big = [doc(2 + i, f"b{i}", b"x" * 100) for i in range(5000)]
    writing = asyncio.ensure_future(store.write(big, []))
    assert (await store.get_document("a", 1)).value == b"1"
    await writing
    assert (await store.get_document("b4999", 10**6)).value is not None
