from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pyconvex.database import Database
from pyconvex.persistence import open_persistence


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    persistence = await open_persistence(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    database = await Database.open(persistence)
    yield database
    await database.close()


async def write(db: Database, fn) -> int:  # type: ignore[no-untyped-def]
    """Run ``fn(txn)`` in a fresh writable transaction and commit it."""
    txn = db.begin()
    await fn(txn)
    return await db.commit(txn)
