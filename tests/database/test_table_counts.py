"""Table counts kept from the commit stream: exact at the newest commit and at recent
snapshots behind it, counted again by a scan when the changes after a snapshot are no
longer kept, and unaffected by commits that only replace documents."""

from __future__ import annotations

from pyconvex.database import Database
from pyconvex.database.table_counts import RECENT, known_count, table_counts

from .conftest import write


async def test_counts_follow_commits_and_answer_for_recent_snapshots(db: Database) -> None:
    await write(db, lambda txn: txn.insert("t", {"n": 0}))
    table = db.catalog.table("t")
    assert table is not None
    assert known_count(db, table) is None  # nobody asked yet: nothing kept
    counts = table_counts(db)
    assert await counts.count(table) == 1  # counted by a scan, then kept
    snapshots = [db.latest_ts]
    ids = []
    for n in range(1, 4):
        async def insert(txn, n=n):  # type: ignore[no-untyped-def]
            ids.append(await txn.insert("t", {"n": n}))
        snapshots.append(await write(db, insert))
    async def replace(txn):  # type: ignore[no-untyped-def]
        await txn.replace(ids[0], {"n": 10})
    snapshots.append(await write(db, replace))
    async def delete(txn):  # type: ignore[no-untyped-def]
        await txn.delete(ids[1])
    snapshots.append(await write(db, delete))
    assert counts.known(table) == 3
    assert [await counts.count(table, ts) for ts in snapshots] == [1, 2, 3, 4, 4, 3]


async def test_a_snapshot_older_than_the_kept_changes_is_counted_again(db: Database) -> None:
    await write(db, lambda txn: txn.insert("t", {"n": 0}))
    table = db.catalog.table("t")
    assert table is not None
    counts = table_counts(db)
    assert await counts.count(table) == 1
    before = db.latest_ts

    async def many(txn):  # type: ignore[no-untyped-def]
        for n in range(RECENT + 10):  # more changes than are kept, in one commit
            await txn.insert("t", {"n": n})

    await write(db, many)
    assert counts.known(table) == RECENT + 11
    assert await counts.count(table, before) == 1  # not from the kept changes: a scan
