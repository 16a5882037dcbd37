"""The committer's queue, where commits wait while a group is being formed: it refuses
commits past its bound with a retryable error, a commit cancelled while waiting in it
never happens, and a group held between validation and write (``AFTER_VALIDATE``) is
invisible to readers while the commits queued behind it are validated against it.

The committer task (and so the queue and ``AFTER_VALIDATE``) is the path of a single
process; SQLite is that backend here, so these tests run on SQLite alone."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from pyconvex.database import Database, committer
from pyconvex.database.committer import AFTER_VALIDATE
from pyconvex.database.transaction import Transaction
from pyconvex.errors import OccConflict, OverloadedError
from pyconvex.persistence.sqlite import SqlitePersistence

pytestmark = pytest.mark.one_backend


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(await SqlitePersistence.open(tmp_path / "db.sqlite3"))
    yield database
    await database.close()


async def _insert(db: Database, table: str, n: int) -> Transaction:
    txn = db.begin()
    await txn.insert(table, {"n": n})
    return txn


async def _rows(db: Database, table: str) -> list[Any]:
    reader = db.begin(writable=False)
    if table not in reader.catalog.tables_by_name:
        return []
    index = reader.index(table, "by_creation_time")
    return [doc["n"] async for _, doc in reader.scan(index, b"", None)]


async def _held_at_validate(db: Database, txn: Transaction) -> tuple[asyncio.Future[int], Any]:
    """Commit ``txn`` and hold its group between validation and the write."""
    hold = db.pauses.hold(AFTER_VALIDATE)
    commit = asyncio.ensure_future(db.commit(txn))
    await hold.wait_arrived()
    return commit, hold


async def test_a_group_held_after_validation_is_not_visible_and_later_commits_wait(db: Database):
    await db.commit(await _insert(db, "t", 0))
    first, hold = await _held_at_validate(db, await _insert(db, "t", 1))
    try:
        latest = db.latest_ts
        assert await _rows(db, "t") == [0]  # validated, stamped, not yet written
        queued = asyncio.ensure_future(db.commit(await _insert(db, "t", 2)))
        await asyncio.sleep(0.1)
        assert not first.done() and not queued.done() and db.latest_ts == latest
    finally:
        hold.release()
    first_ts, queued_ts = await first, await queued
    assert first_ts < queued_ts == db.latest_ts
    assert await _rows(db, "t") == [0, 1, 2]


async def test_a_commit_queued_behind_a_held_group_is_validated_against_it(db: Database):
    """A transaction that read a document the held group writes loses (OCC), although
    that group was not yet written when the transaction queued."""
    seed = db.begin()
    doc = await seed.insert("t", {"n": 0})
    await db.commit(seed)
    stale = db.begin()
    assert (await stale.get(doc))["n"] == 0
    await stale.patch(doc, {"n": 2}, object())
    writer = db.begin()
    await writer.patch(doc, {"n": 1}, object())
    first, hold = await _held_at_validate(db, writer)
    try:
        loser = asyncio.ensure_future(db.commit(stale))
        await asyncio.sleep(0.05)
        assert not loser.done()
    finally:
        hold.release()
    await first
    with pytest.raises(OccConflict):
        await loser
    reader = db.begin(writable=False)
    assert (await reader.get(doc))["n"] == 1


async def test_a_full_queue_refuses_with_a_retryable_error_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(committer, "MAX_QUEUE", 2)  # read when the committer is built
    db = await Database.open(await SqlitePersistence.open(tmp_path / "db.sqlite3"))
    try:
        await db.commit(await _insert(db, "t", 0))
        first, hold = await _held_at_validate(db, await _insert(db, "t", 1))
        try:
            queued = [asyncio.ensure_future(db.commit(await _insert(db, "t", n))) for n in (2, 3)]
            await asyncio.sleep(0)
            refused = await _insert(db, "t", 4)
            with pytest.raises(OverloadedError) as info:
                await db.commit(refused)
            assert info.value.short_msg == "CommitterFullError"
            assert "retry" in info.value.message
        finally:
            hold.release()
        await first
        await asyncio.gather(*queued)
        assert sorted(await _rows(db, "t")) == [0, 1, 2, 3]
        # Room again: the same work commits once retried.
        await db.commit(await _insert(db, "t", 4))
        assert sorted(await _rows(db, "t")) == [0, 1, 2, 3, 4]
    finally:
        await db.close()


async def test_a_commit_cancelled_while_queued_never_happens(db: Database):
    await db.commit(await _insert(db, "t", 0))
    first, hold = await _held_at_validate(db, await _insert(db, "t", 1))
    try:
        cancelled = asyncio.ensure_future(db.commit(await _insert(db, "t", 2)))
        kept = asyncio.ensure_future(db.commit(await _insert(db, "t", 3)))
        await asyncio.sleep(0)  # both are in the queue
        cancelled.cancel()
        with pytest.raises(asyncio.CancelledError):
            await cancelled
    finally:
        hold.release()
    await first
    kept_ts = await kept
    assert await _rows(db, "t") == [0, 1, 3]
    assert db.latest_ts == kept_ts
    # The committer goes on: the next commit is the next timestamp, written and visible.
    assert await db.commit(await _insert(db, "t", 4)) > kept_ts
    assert await _rows(db, "t") == [0, 1, 3, 4]
