"""SQLite specifics: one process per file, durability settings in force."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from pyconvex.persistence.errors import DeploymentLockedError
from pyconvex.persistence.sqlite import SqlitePersistence


async def test_second_open_is_refused_until_closed(tmp_path: Path):
    path = tmp_path / "db.sqlite3"
    first = await SqlitePersistence.open(path)
    with pytest.raises(DeploymentLockedError, match="in use by another pyconvex process"):
        await SqlitePersistence.open(path)
    await first.close()
    second = await SqlitePersistence.open(path)
    await second.close()


async def test_wal_and_full_sync(tmp_path: Path):
    path = tmp_path / "db.sqlite3"
    store = await SqlitePersistence.open(path)
    try:
        mode = store._reader.execute("PRAGMA journal_mode").fetchone()[0]
        sync = store._reader.execute("PRAGMA synchronous").fetchone()[0]
        assert mode == "wal" and sync == 2  # 2 == FULL
    finally:
        await store.close()
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == 1
