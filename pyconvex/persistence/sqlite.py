"""SQLite persistence: WAL, ``synchronous=FULL``, one writer thread, inline reads.

- Writes: one thread owns the writer connection and takes batches from a queue; a
  batch is one ``BEGIN IMMEDIATE ... COMMIT`` (one fsync), so group commit costs one
  sync for many commits. Results reach the event loop via ``call_soon_threadsafe`` onto
  futures that may already be cancelled.
- Reads: a reader connection owned by the event-loop thread, queried inline. A page-cache
  read takes microseconds while a hop to a thread costs tens of them, and the engine
  makes many small reads. Each read is one statement, so WAL gives it a consistent view;
  snapshots come from the ``ts <= ?`` filters, not from SQLite transactions.
- One process per database file: an exclusive ``flock`` on ``<path>.lock``.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import queue
import sqlite3
import threading
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

from pyconvex.persistence.base import DocumentLogEntry, IndexEntry, IndexRow, Order
from pyconvex.persistence.errors import DeploymentLockedError, StorageError

SCHEMA_VERSION = 1

_DDL = """
CREATE TABLE IF NOT EXISTS documents (
    id TEXT NOT NULL, ts INTEGER NOT NULL, table_number INTEGER NOT NULL,
    value BLOB, prev_ts INTEGER, PRIMARY KEY (id, ts)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS documents_by_ts ON documents (ts, id);
CREATE TABLE IF NOT EXISTS indexes (
    index_id INTEGER NOT NULL, key BLOB NOT NULL, ts INTEGER NOT NULL, doc_id TEXT,
    PRIMARY KEY (index_id, key, ts)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS persistence_globals (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

_SCAN = """
SELECT i.key, i.doc_id, d.ts, d.value FROM indexes AS i
JOIN documents AS d ON d.id = i.doc_id
 AND d.ts = (SELECT MAX(ts) FROM documents WHERE id = i.doc_id AND ts <= :ts)
WHERE i.index_id = :index AND i.key >= :lo {hi}
  AND i.ts = (SELECT MAX(ts) FROM indexes WHERE index_id = :index AND key = i.key AND ts <= :ts)
  AND i.doc_id IS NOT NULL AND d.value IS NOT NULL
ORDER BY i.key {order} LIMIT :limit
"""
_SCANS = {
    (order, bounded): _SCAN.format(
        hi="AND i.key < :hi" if bounded else "", order=order.upper()
    )
    for order in ("asc", "desc")
    for bounded in (True, False)
}


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA busy_timeout=10000")
    conn.execute("PRAGMA cache_size=-65536")
    conn.execute("PRAGMA mmap_size=268435456")
    return conn


class _Writer(threading.Thread):
    def __init__(self, path: Path) -> None:
        super().__init__(name=f"pyconvex-sqlite-writer:{path.name}", daemon=True)
        self._path = path
        self.queue: queue.Queue[Any] = queue.Queue()
        self.ready = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            conn = _connect(self._path)
        except BaseException as e:  # reported to open()
            self.error = e
            self.ready.set()
            return
        self.ready.set()
        try:
            while True:
                item = self.queue.get()
                if item is None:
                    return
                fn, loop, fut = item
                try:
                    result = fn(conn)
                except BaseException as e:
                    loop.call_soon_threadsafe(_deliver, fut, None, e)
                else:
                    loop.call_soon_threadsafe(_deliver, fut, result, None)
        finally:
            conn.close()


def _deliver(fut: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if fut.cancelled():
        return
    if error is not None:
        fut.set_exception(error)
    else:
        fut.set_result(result)


def _wrap(e: sqlite3.Error, what: str) -> StorageError:
    return StorageError(f"SQLite {what} failed: {e}")


class SqlitePersistence:
    def __init__(self, path: Path, reader: sqlite3.Connection, writer: _Writer, lock_fd: int):
        self.path = path
        self._reader = reader
        self._writer = writer
        self._lock_fd = lock_fd
        self._closed = False

    @classmethod
    async def open(cls, path: str | Path) -> SqlitePersistence:
        path = Path(path)
        lock_path = path.with_name(path.name + ".lock")
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise DeploymentLockedError(
                f"Database {path} is in use by another pyconvex process (lock {lock_path}); "
                "stop it first, or use PostgreSQL to run several processes."
            ) from None
        try:
            conn = _connect(path)
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StorageError(
                    f"{path} was written by a newer pyconvex (storage version {version})"
                )
            conn.executescript(_DDL)
            conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        except sqlite3.Error as e:
            os.close(fd)
            raise _wrap(e, f"opening {path}") from None
        except BaseException:
            os.close(fd)
            raise
        writer = _Writer(path)
        writer.start()
        await asyncio.get_running_loop().run_in_executor(None, writer.ready.wait)
        if writer.error is not None:
            conn.close()
            os.close(fd)
            raise StorageError(f"opening writer for {path}: {writer.error}")
        return cls(path, conn, writer, fd)

    def _check_open(self) -> None:
        if self._closed:
            raise StorageError(f"{self.path} is closed")

    async def _run_write(self, fn: Any) -> Any:
        self._check_open()
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Any] = loop.create_future()
        self._writer.queue.put((fn, loop, fut))
        return await fut

    async def write(
        self, documents: Sequence[DocumentLogEntry], indexes: Sequence[IndexEntry]
    ) -> None:
        doc_rows = [(d.id, d.ts, d.table_number, d.value, d.prev_ts) for d in documents]
        index_rows = [(i.index_id, i.key, i.ts, i.doc_id) for i in indexes]

        def run(conn: sqlite3.Connection) -> None:
            try:
                conn.execute("BEGIN IMMEDIATE")
                if doc_rows:
                    conn.executemany(
                        "INSERT INTO documents (id, ts, table_number, value, prev_ts) "
                        "VALUES (?, ?, ?, ?, ?)",
                        doc_rows,
                    )
                if index_rows:
                    conn.executemany(
                        "INSERT INTO indexes (index_id, key, ts, doc_id) VALUES (?, ?, ?, ?)",
                        index_rows,
                    )
                conn.execute("COMMIT")
            except sqlite3.Error as e:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise _wrap(e, "write") from None

        await self._run_write(run)

    async def max_ts(self) -> int:
        self._check_open()
        try:
            row = self._reader.execute(
                "SELECT MAX(m) FROM (SELECT MAX(ts) AS m FROM documents "
                "UNION ALL SELECT MAX(ts) FROM indexes)"
            ).fetchone()
        except sqlite3.Error as e:
            raise _wrap(e, "read") from None
        return int(row[0] or 0)

    async def get_document(self, doc_id: str, ts: int) -> DocumentLogEntry | None:
        self._check_open()
        try:
            row = self._reader.execute(
                "SELECT ts, table_number, value, prev_ts FROM documents "
                "WHERE id = ? AND ts <= ? ORDER BY ts DESC LIMIT 1",
                (doc_id, ts),
            ).fetchone()
        except sqlite3.Error as e:
            raise _wrap(e, "read") from None
        if row is None:
            return None
        return DocumentLogEntry(row[0], doc_id, row[1], row[2], row[3])

    async def index_scan(
        self,
        index_id: int,
        lo: bytes,
        hi: bytes | None,
        ts: int,
        order: Order,
        limit: int,
    ) -> list[IndexRow]:
        self._check_open()
        params: dict[str, Any] = {"index": index_id, "lo": lo, "ts": ts, "limit": limit}
        if hi is not None:
            params["hi"] = hi
        try:
            rows = self._reader.execute(_SCANS[(order, hi is not None)], params).fetchall()
        except sqlite3.Error as e:
            raise _wrap(e, "read") from None
        return [IndexRow(r[0], r[1], r[2], r[3]) for r in rows]

    async def load_documents(
        self, from_ts: int, to_ts: int | None = None
    ) -> AsyncIterator[DocumentLogEntry]:
        last_ts, last_id = from_ts - 1, "\uffff"
        upper = to_ts if to_ts is not None else 2**63 - 1
        while True:
            self._check_open()
            rows = self._reader.execute(
                "SELECT ts, id, table_number, value, prev_ts FROM documents "
                "WHERE (ts > ? OR (ts = ? AND id > ?)) AND ts <= ? ORDER BY ts, id LIMIT 1000",
                (last_ts, last_ts, last_id, upper),
            ).fetchall()
            for r in rows:
                yield DocumentLogEntry(r[0], r[1], r[2], r[3], r[4])
            if len(rows) < 1000:
                return
            last_ts, last_id = rows[-1][0], rows[-1][1]

    async def load_index_entries(
        self, index_id: int, from_ts: int = 0
    ) -> AsyncIterator[IndexEntry]:
        last_key, last_ts = b"", -1
        while True:
            self._check_open()
            rows = self._reader.execute(
                "SELECT key, ts, doc_id FROM indexes WHERE index_id = ? AND ts >= ? "
                "AND (key > ? OR (key = ? AND ts > ?)) ORDER BY key, ts LIMIT 1000",
                (index_id, from_ts, last_key, last_key, last_ts),
            ).fetchall()
            for r in rows:
                yield IndexEntry(index_id, r[0], r[1], r[2])
            if len(rows) < 1000:
                return
            last_key, last_ts = rows[-1][0], rows[-1][1]

    async def get_global(self, key: str) -> str | None:
        self._check_open()
        row = self._reader.execute(
            "SELECT value FROM persistence_globals WHERE key = ?", (key,)
        ).fetchone()
        return None if row is None else str(row[0])

    async def set_global(self, key: str, value: str) -> None:
        def run(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO persistence_globals (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

        await self._run_write(run)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._writer.queue.put(None)
        await asyncio.get_running_loop().run_in_executor(None, self._writer.join)
        self._reader.close()
        fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
        os.close(self._lock_fd)
