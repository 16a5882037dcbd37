"""Retention: old versions go, nothing a live reader needs does, and time travel is
refused (not wrong) below the floor."""

from __future__ import annotations

import pytest

from pyconvex.database import Database, Query
from pyconvex.database.database import RetentionError
from tests.database.conftest import write


async def _ids(db: Database, ts: int | None = None) -> list[object]:
    txn = db.begin(writable=False, ts=ts)
    return [d["n"] for d in await Query(txn, "t").collect()]


async def test_old_versions_are_collected_and_live_reads_are_unchanged(db: Database) -> None:
    holder: dict[str, str] = {}

    async def create(txn):  # type: ignore[no-untyped-def]
        holder["a"] = await txn.insert("t", {"n": 1.0})
        holder["b"] = await txn.insert("t", {"n": 2.0})

    t1 = await write(db, create)
    for value in (10.0, 11.0, 12.0):
        t_patch = await write(db, lambda txn, v=value: txn.patch(holder["a"], {"n": v}, object()))
    t_del = await write(db, lambda txn: txn.delete(holder["b"]))
    assert await _ids(db, t1) == [1.0, 2.0]  # time travel inside the window
    assert await _ids(db, t_patch) == [12.0, 2.0]
    before = await _ids(db)
    removed = await db.collect_old_versions(keep_ns=0)
    assert removed > 0
    assert await _ids(db) == before == [12.0]
    txn = db.begin(writable=False)
    assert await txn.get(holder["a"]) is not None and await txn.get(holder["b"]) is None
    # the superseded versions and the deleted document are gone from storage
    assert await db.persistence.get_document(holder["a"], t1) is None
    assert await db.persistence.get_document(holder["b"], t_del) is None
    with pytest.raises(RetentionError, match="older than the retention window"):
        db.begin(writable=False, ts=t1)
    assert await db.collect_old_versions(keep_ns=0) == 0  # nothing more to do
    await write(db, lambda txn: txn.patch(holder["a"], {"n": 13.0}, object()))  # still writable
    assert await _ids(db) == [13.0]


async def test_a_running_transaction_keeps_what_it_reads(db: Database) -> None:
    holder: dict[str, str] = {}

    async def create(txn):  # type: ignore[no-untyped-def]
        holder["a"] = await txn.insert("t", {"n": 1.0})

    await write(db, create)
    reader = db.begin(writable=False)  # a long query, still running
    await write(db, lambda txn: txn.patch(holder["a"], {"n": 2.0}, object()))
    await write(db, lambda txn: txn.patch(holder["a"], {"n": 3.0}, object()))
    await db.collect_old_versions(keep_ns=0)
    doc = await reader.get(holder["a"])
    assert doc is not None and doc["n"] == 1.0  # its snapshot survived the collection
    del reader, doc
    await db.collect_old_versions(keep_ns=0)
    assert await _ids(db) == [3.0]


async def test_the_floor_survives_a_restart(db_url: str) -> None:
    from pyconvex.persistence import open_persistence

    db = await Database.open(await open_persistence(db_url))
    t1 = await write(db, lambda txn: txn.insert("t", {"n": 1.0}))
    await write(db, lambda txn: txn.insert("t", {"n": 2.0}))
    await db.collect_old_versions(keep_ns=0)
    await db.close()
    db = await Database.open(await open_persistence(db_url))
    try:
        with pytest.raises(RetentionError):
            db.begin(writable=False, ts=t1)
    finally:
        await db.close()
