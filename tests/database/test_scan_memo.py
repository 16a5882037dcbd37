"""A writable transaction keeps what it scanned: writing a scanned document (read, then
patch: a counter, a rate limit's shard) does not fetch it from storage again, and still
sees, conflicts on and writes exactly what it would have with the second fetch."""

from __future__ import annotations

from typing import Any

import pytest

from pyconvex.database import Database
from pyconvex.errors import OccConflict

from .conftest import write


def count_fetches(db: Database) -> list[str]:
    """Instrument the database's storage: the ids fetched by id from now on."""
    fetched: list[str] = []
    inner = db.persistence.get_document

    async def get_document(doc_id: str, ts: int) -> Any:
        fetched.append(doc_id)
        return await inner(doc_id, ts)

    db.persistence.get_document = get_document  # type: ignore[method-assign]
    return fetched


async def test_patching_a_scanned_document_fetches_nothing_more(db: Database) -> None:
    doc_id = await _seed(db)
    fetched = count_fetches(db)
    txn = db.begin()
    [(_, doc)] = [row async for row in txn.scan(txn.index("t", "by_creation_time"), b"", None)]
    await txn.patch(doc["_id"], {"x": 2.0}, object())
    assert fetched == []
    assert (await txn.get(doc_id))["x"] == 2.0
    await db.commit(txn)
    reader = db.begin(writable=False)
    assert (await reader.get(doc_id))["x"] == 2.0


async def test_a_read_only_transaction_keeps_nothing(db: Database) -> None:
    doc_id = await _seed(db)
    fetched = count_fetches(db)
    reader = db.begin(writable=False)
    [_ async for _ in reader.scan(reader.index("t", "by_creation_time"), b"", None)]
    await reader.get(doc_id)
    assert fetched == [doc_id]  # queries keep no copies: they write nothing


async def test_the_kept_version_is_the_snapshots_and_conflicts_as_before(db: Database) -> None:
    doc_id = await _seed(db)
    txn = db.begin()
    [(_, doc)] = [row async for row in txn.scan(txn.index("t", "by_creation_time"), b"", None)]

    async def concurrent(other: Any) -> None:
        await other.patch(doc_id, {"x": 5.0}, object())

    await write(db, concurrent)
    assert (await txn.get(doc_id))["x"] == 1.0  # the snapshot's version, not the newer one
    await txn.patch(doc["_id"], {"x": doc["x"] + 1}, object())
    with pytest.raises(OccConflict):
        await db.commit(txn)


async def _seed(db: Database) -> str:
    ids: list[str] = []

    async def seed(txn: Any) -> None:
        ids.append(await txn.insert("t", {"x": 1.0}))

    await write(db, seed)
    return ids[0]
