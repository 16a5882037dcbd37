"""The committer's pipeline: the next group is validated and handed to the backend
while the previous one is still being written, and groups are published in order.

Only SQLite pipelines (PostgreSQL commits one group at a time through the shared head),
so these tests run on SQLite alone rather than once per backend."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pyconvex.database import Database
from pyconvex.database.committer import AFTER_WRITE
from pyconvex.errors import OccConflict
from pyconvex.persistence.sqlite import SqlitePersistence

from .conftest import write

pytestmark = pytest.mark.one_backend  # SQLite alone pipelines (see above)


@pytest.fixture
async def pipelined(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(await SqlitePersistence.open(tmp_path / "db.sqlite3"))
    assert database.persistence.write_pipeline > 1
    yield database
    await database.close()


async def test_a_group_is_validated_against_one_still_being_written(pipelined: Database):
    db = pipelined

    async def seed(txn):  # type: ignore[no-untyped-def]
        txn.doc = await txn.insert("t", {"n": 0})
        seed.doc = txn.doc

    await write(db, seed)
    doc = seed.doc
    stale = db.begin()  # begins before the write below and reads the document
    await stale.get(doc)

    hold = db.pauses.hold(AFTER_WRITE)
    first = db.begin()
    await first.patch(doc, {"n": 1}, object())
    first_commit = asyncio.ensure_future(db.commit(first))
    await hold.wait_arrived()  # durable, not yet published
    try:
        await stale.patch(doc, {"n": 2}, object())
        with pytest.raises(OccConflict):
            await asyncio.wait_for(db.commit(stale), 5)

        other = db.begin()  # touches nothing the first wrote: accepted and written,
        await other.insert("u", {"x": 1})  # but not published before the first
        other_commit = asyncio.ensure_future(db.commit(other))
        await asyncio.sleep(0.2)
        assert not first_commit.done() and not other_commit.done()
    finally:
        hold.release()
    first_ts, other_ts = await first_commit, await other_commit
    assert first_ts < other_ts == db.latest_ts
    reader = db.begin(writable=False)
    assert (await reader.get(doc))["n"] == 1


@pytest.mark.parametrize("when", ["on-hand-over", "while-writing"])
async def test_a_failed_write_fails_its_group_and_the_next_group_commits(
    pipelined: Database, monkeypatch: pytest.MonkeyPatch, when: str
):
    db = pipelined
    real = db.persistence.write_commits_then
    calls = 0

    def failing_once(commits, on_done):  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += 1
        if calls > 1:
            return real(commits, on_done)
        if when == "on-hand-over":
            raise OSError("disk on fire")
        # Report the failure as the writer would: later, from its reply.
        asyncio.get_running_loop().call_soon(on_done, OSError("disk on fire"))
        return None

    monkeypatch.setattr(db.persistence, "write_commits_then", failing_once)
    lost = db.begin()
    await lost.insert("t", {"n": 1})
    with pytest.raises(OSError, match="disk on fire"):
        await db.commit(lost)
    kept = db.begin()
    await kept.insert("t", {"n": 2})
    ts = await db.commit(kept)
    reader = db.begin(writable=False)
    rows = [d["n"] async for _, d in reader.scan(reader.index("t", "by_creation_time"), b"", None)]
    assert rows == [2] and db.latest_ts == ts
    # Nothing of the failed group is left behind to be validated against.
    assert db.committer._unpublished == []



async def test_wait_published_returns_once_visible_or_after_its_timeout(pipelined: Database):
    """What a mutation retry waits on after losing to a commit still being written."""
    db = pipelined
    loop = asyncio.get_running_loop()
    txn = db.begin()
    await txn.insert("t", {"n": 1})
    commit = asyncio.ensure_future(db.commit(txn))
    await asyncio.sleep(0)  # accepted and handed to the writer, not yet published
    waiting = asyncio.ensure_future(db.wait_published(db.latest_ts + 1, timeout=30))
    ts = await commit
    await asyncio.wait_for(waiting, 5)
    assert db.latest_ts >= ts
    start = loop.time()
    await db.wait_published(db.latest_ts + 10**12, timeout=0.05)  # never published
    assert loop.time() - start >= 0.04
    assert db._ts_waiters == []
