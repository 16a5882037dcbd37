"""The SQLite writer child's checkpointer: the WAL is copied into the database file
while the store is open, and SQLite then starts the log over instead of growing it."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from contextlib import closing
from pathlib import Path

from pyconvex.persistence import DocumentLogEntry as D
from pyconvex.persistence import sqlite_checkpointer
from pyconvex.persistence.sqlite import SqlitePersistence


async def test_the_wal_is_checkpointed_while_open_and_starts_over_instead_of_growing(
    tmp_path: Path,
):
    """The writer process's checkpointer copies the log into the database file while the
    store is open, and the log is then reused from its start: after rounds of writes
    that each cross the checkpoint threshold, the WAL file stays the size of one round."""
    path = tmp_path / "db.sqlite3"
    wal = path.with_name(path.name + "-wal")
    store = await SqlitePersistence.open(path)
    try:
        empty_file = path.stat().st_size
        ts = 0
        wal_sizes = []
        for _ in range(4):
            rows = 0
            before = path.stat().st_size
            while rows <= sqlite_checkpointer.CHECKPOINT_EVERY_ROWS:
                docs = [D(ts + i + 1, f"d{ts + i + 1}", 1, b"x" * 300) for i in range(200)]
                ts += 200
                await store.write(docs, [])
                rows += len(docs)
            # The checkpointer's round grows the file; it may have done so already (it
            # starts at the threshold, before this round's last writes), so wait only
            # until the file is bigger than when the round began.
            deadline = time.monotonic() + 10
            while path.stat().st_size == before and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            await store.write([D(ts + 1, f"d{ts + 1}", 1, b"x")], [])  # the writer's tail
            ts += 1
            wal_sizes.append(wal.stat().st_size)
        assert path.stat().st_size > empty_file + 4 * sqlite_checkpointer.CHECKPOINT_EVERY_ROWS * 300
        assert wal_sizes[-1] <= 1.5 * wal_sizes[0], wal_sizes
        assert (await store.get_document("d1", ts)).value == b"x" * 300
    finally:
        await store.close()



async def test_many_small_transactions_reuse_the_wal_instead_of_growing_it(
    tmp_path: Path,
):
    """A log fills with pages, not rows: each transaction writes at least a page per
    b-tree it changes. Many one-document transactions (a hot document's increments) are
    checkpointed by their count, and the log starts over instead of growing: 2,000 such
    transactions write at least 4,000 frames, which without a restart would all be in
    the file; the checkpointer keeps it near one round's frames."""
    path = tmp_path / "db.sqlite3"
    wal = path.with_name(path.name + "-wal")
    store = await SqlitePersistence.open(path)
    try:
        transactions = 2_000
        assert transactions < sqlite_checkpointer.CHECKPOINT_EVERY_ROWS  # rows never trigger
        for ts in range(1, transactions + 1):
            await store.write([D(ts, f"d{ts}", 1, b"x" * 100)], [])  # one transaction each
        with closing(sqlite3.connect(path)) as conn:
            page = int(conn.execute("PRAGMA page_size").fetchone()[0])
        frames = (wal.stat().st_size - 32) / (page + 24)
        assert frames < transactions, (frames, transactions)
        assert (await store.get_document("d1", transactions)).value == b"x" * 100
    finally:
        await store.close()
