"""Every test here runs on SQLite and on PostgreSQL unless marked ``one_backend``
(see ``pytest_generate_tests`` in ``tests/conftest.py``)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from pyconvex.database import Database
from pyconvex.persistence import open_persistence


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    persistence = await open_persistence(db_url)
    database = await Database.open(persistence)
    yield database
    await database.close()


async def write(db: Database, fn) -> int:  # type: ignore[no-untyped-def]
    """Run ``fn(txn)`` in a fresh writable transaction and commit it."""
    txn = db.begin()
    await fn(txn)
    return await db.commit(txn)
