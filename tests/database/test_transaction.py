"""Transactions: own writes, snapshot isolation, exact read sets, conflicts, limits."""

from __future__ import annotations

import pytest

from pyconvex.database import Database, Limits, push_schema
from pyconvex.errors import InvalidQueryError, LimitExceededError, NotFoundError, OccConflict
from pyconvex.schema import define_schema, define_table, v

from .conftest import write


async def test_reads_see_own_writes_in_gets_and_scans(db: Database):
    txn = db.begin()
    a = await txn.insert("t", {"x": 1})
    b = await txn.insert("t", {"x": 2})
    assert (await txn.get(a))["x"] == 1
    index = txn.index("t", "by_creation_time")
    assert [d["x"] async for _, d in txn.scan(index, b"", None)] == [1, 2]
    await txn.patch(a, {"x": 10}, object())
    await txn.delete(b)
    assert [d["x"] async for _, d in txn.scan(index, b"", None)] == [10]
    await db.commit(txn)
    reader = db.begin(writable=False)
    assert [d["x"] async for _, d in reader.scan(reader.index("t", "by_creation_time"), b"", None)] == [10]


async def test_merge_of_own_writes_with_snapshot_keeps_index_order(db: Database):
    await push_schema(db, define_schema({"t": define_table({"x": v.number()}).index("by_x", ["x"])}))

    async def seed(txn):
        for x in (1, 3, 5, 7):
            await txn.insert("t", {"x": float(x)})

    await write(db, seed)
    txn = db.begin()
    await txn.insert("t", {"x": 4.0})
    await txn.insert("t", {"x": 0.0})
    docs = [d async for _, d in txn.scan(txn.index("t", "by_x"), b"", None)]
    assert [d["x"] for d in docs] == [0, 1, 3, 4, 5, 7]
    desc = [d["x"] async for _, d in txn.scan(txn.index("t", "by_x"), b"", None, "desc")]
    assert desc == [7, 5, 4, 3, 1, 0]
    # Moving a document's key within the transaction hides its old position.
    await txn.patch(docs[1]["_id"], {"x": 100.0}, object())
    assert [d["x"] async for _, d in txn.scan(txn.index("t", "by_x"), b"", None)] == [0, 3, 4, 5, 7, 100]


async def test_read_set_covers_only_what_was_consumed(db: Database):
    await push_schema(db, define_schema({"t": define_table({"x": v.number()}).index("by_x", ["x"])}))

    async def seed(txn):
        for x in range(10):
            await txn.insert("t", {"x": float(x)})

    await write(db, seed)
    reader = db.begin(writable=False)
    index = reader.index("t", "by_x")
    got = []
    async for _, doc in reader.scan(index, b"", None):
        got.append(doc["x"])
        if len(got) == 3:
            break
    # A writer touching x=8 does not conflict; one touching x=1 does.
    far = db.begin()
    await far.insert("t", {"x": 8.5})
    ts = await db.commit(far)
    assert db.write_log.first_conflict(reader.begin_ts, reader.reads) is None
    near = db.begin()
    await near.insert("t", {"x": 1.5})
    ts = await db.commit(near)
    assert db.write_log.first_conflict(reader.begin_ts, reader.reads)[0] == ts


async def test_write_write_conflict_is_detected(db: Database):
    async def seed(txn):
        txn.doc = await txn.insert("t", {"n": 0})

    txn0 = db.begin()
    doc = await txn0.insert("t", {"n": 0})
    await db.commit(txn0)
    t1, t2 = db.begin(), db.begin()
    for t in (t1, t2):
        d = await t.get(doc)
        await t.patch(doc, {"n": d["n"] + 1}, object())
    await db.commit(t1)
    with pytest.raises(OccConflict):
        await db.commit(t2)


async def test_insert_into_new_table_races_conflict_not_corrupt(db: Database):
    t1, t2 = db.begin(), db.begin()
    await t1.insert("fresh", {"a": 1})
    await t2.insert("fresh", {"a": 2})
    await db.commit(t1)
    with pytest.raises(OccConflict):
        await db.commit(t2)
    t3 = db.begin()
    await t3.insert("fresh", {"a": 3})
    await db.commit(t3)
    reader = db.begin(writable=False)
    rows = [d["a"] async for _, d in reader.scan(reader.index("fresh", "by_creation_time"), b"", None)]
    assert rows == [1, 3]


async def test_errors_name_the_cause(db: Database):
    txn = db.begin()
    with pytest.raises(InvalidQueryError, match=r"Index t\.nope"):
        await txn.insert("t", {"a": 1})
        txn.index("t", "nope")
    with pytest.raises(NotFoundError, match="does not exist"):
        await txn.delete("j57000820c20a1g7104gm2rc1m70ynr8")
    reader = db.begin(writable=False)
    with pytest.raises(InvalidQueryError, match="read-only"):
        await reader.insert("t", {"a": 1})


async def test_document_read_limit(db: Database):
    async def seed(txn):
        for i in range(30):
            await txn.insert("t", {"i": i})

    await write(db, seed)
    txn = db.begin(limits=Limits(max_documents_read=20))
    with pytest.raises(LimitExceededError, match=r"Too many documents read.*limit: 20") as info:
        _ = [d async for _, d in txn.scan(txn.index("t", "by_creation_time"), b"", None)]
    assert info.value.short_msg == "TooManyDocumentsRead"


async def test_write_limits(db: Database):
    txn = db.begin(limits=Limits(max_documents_written=5))
    with pytest.raises(LimitExceededError, match="Too many documents written") as info:
        for i in range(6):
            await txn.insert("t", {"i": i})
    assert info.value.short_msg == "TooManyWrites"
    txn = db.begin(limits=Limits(max_bytes_written=1000))
    with pytest.raises(LimitExceededError, match="Too many bytes written"):
        for _ in range(20):
            await txn.insert("t", {"s": "x" * 100})


async def test_index_range_limit(db: Database):
    txn = db.begin(limits=Limits(max_index_ranges=3))
    doc = await txn.insert("t", {"i": 1})
    with pytest.raises(LimitExceededError, match="index ranges"):
        for _ in range(4):
            await txn.get(doc)
