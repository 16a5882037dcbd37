"""The committer's pipeline: the next group is validated and handed to the backend
while the previous one is still being written, and groups are published in order."""

from __future__ import annotations

import asyncio

import pytest

from pyconvex.database import Database
from pyconvex.database.committer import AFTER_WRITE
from pyconvex.errors import OccConflict

from .conftest import write


@pytest.fixture
def pipelined(db: Database) -> Database:
    if getattr(db.persistence, "write_pipeline", 1) < 2:
        pytest.skip("this backend commits one group at a time (shared head, no pipeline)")
    return db


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
    # The hook the committer hands groups to: write_then (SQLite) or write.
    name = "write_then" if hasattr(db.persistence, "write_then") else "write"
    real = getattr(db.persistence, name)
    calls = 0

    def failing_once(documents, indexes, *on_done):  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += 1
        if calls > 1:
            return real(documents, indexes, *on_done)
        if when == "on-hand-over":
            raise OSError("disk on fire")
        if on_done:  # write_then: report the failure as the writer would
            asyncio.get_running_loop().call_soon(on_done[0], OSError("disk on fire"))
            return None
        failed = asyncio.get_running_loop().create_future()
        failed.set_exception(OSError("disk on fire"))
        return failed

    monkeypatch.setattr(db.persistence, name, failing_once)
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

