"""SQLite persistence: one file, WAL, ``synchronous=FULL``, one writer thread, inline reads.

Why this shape (DESIGN.md, "What the measurements force"):

- **Durability.** WAL with ``synchronous=FULL`` fsyncs the log on every commit, so an
  acknowledged batch survives SIGKILL and power loss. That fsync is the cost of a
  commit (~2-5k/s on this machine class), which is why a batch holds many commits:
  one ``BEGIN IMMEDIATE ... COMMIT``, one fsync, however many documents it carries.
- **One writer.** A thread owns the writer connection and takes batches from a queue
  (datasette ``_execute_writes``, aiosqlite's connection thread). ``write()`` enqueues
  and awaits a future the thread resolves with ``loop.call_soon_threadsafe``; the
  future may have been cancelled meanwhile, and the loop may even be gone. The fsync
  happens on that thread, so the event loop keeps serving reads while it waits.
- **Inline reads.** A reader connection belongs to the event-loop thread and is queried
  without a thread hop: a page-cache read takes a few microseconds, a hop to a thread
  and back costs more than the read (measured in ``bench/baselines.py``:
  ``persistence_figures``), and the database layer makes many small reads. Each read is
  ONE statement, so WAL gives it a consistent view of the last committed state; the
  snapshot at ``ts`` comes from the ``ts <= ?`` filters, not from SQLite transactions.
  (Chunked log loads are several statements; batches are atomic and their timestamps
  only grow, so each chunk continues where the last one stopped.)
- **One process per file.** An exclusive ``flock`` on ``<path>.lock``: a second
  pyconvex, in this process or another, fails at once instead of interleaving
  timestamps with ours. PostgreSQL is the backend for several processes.
- **Driver errors stop here.** Every ``sqlite3`` error becomes a
  :class:`~pyconvex.persistence.errors.StorageError` carrying its text.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import queue
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pyconvex.persistence import sqlite_schema as schema
from pyconvex.persistence.base import DocumentLogEntry, IndexEntry, IndexRow, Order
from pyconvex.persistence.errors import DeploymentLockedError, StorageError

T = TypeVar("T")

#: Rows fetched per statement by the log-loading generators.
CHUNK = 1000

# A batch is written by ONE statement: a multi-row INSERT into the temporary view
# ``batch`` whose triggers route each row (``kind`` 0: a document version, 1: an index
# entry, 2: the new head timestamp, 3: padding) to its table. Run outside BEGIN, the
# statement is its own transaction, so the batch commits (and fsyncs) within that one
# call. Why one call: each call releases the GIL while SQLite works and must win it back
# from the busy event-loop thread afterwards; with a statement per row (and BEGIN and
# COMMIT apart), those waits made a batch take three times as long as in a
# single-threaded program. Row counts are padded to powers of two so only a dozen
# statement texts are ever prepared.
_BATCH_DDL = (
    "CREATE TEMP VIEW IF NOT EXISTS batch (kind, a, b, c, d, e) AS "
    "SELECT 0, 0, 0, 0, 0, 0 WHERE 0",
    "CREATE TEMP TRIGGER IF NOT EXISTS batch_document INSTEAD OF INSERT ON batch "
    "WHEN NEW.kind = 0 BEGIN INSERT INTO documents (ts, id, table_number, value, prev_ts) "
    "VALUES (NEW.a, NEW.b, NEW.c, NEW.d, NEW.e); END",
    "CREATE TEMP TRIGGER IF NOT EXISTS batch_index INSTEAD OF INSERT ON batch "
    "WHEN NEW.kind = 1 BEGIN INSERT INTO indexes (index_id, key, ts, doc_id) "
    "VALUES (NEW.a, NEW.b, NEW.c, NEW.d); END",
    "CREATE TEMP TRIGGER IF NOT EXISTS batch_head INSTEAD OF INSERT ON batch "
    "WHEN NEW.kind = 2 BEGIN INSERT INTO persistence_max_ts (id, ts) VALUES (0, NEW.a) "
    "ON CONFLICT (id) DO UPDATE SET ts = max(ts, excluded.ts); END",
)
_BATCH_ROW = "(?,?,?,?,?,?)"
_PAD = (3, None, None, None, None, None)
MAX_BATCH_ROWS = 4096  # x 6 parameters, under SQLite's limit of 32,766 per statement
_MAX_TS = "SELECT ts FROM persistence_max_ts WHERE id = 0"
_GET_DOCUMENT = (
    "SELECT ts, table_number, value, prev_ts FROM documents "
    "WHERE id = ? AND ts <= ? ORDER BY ts DESC LIMIT 1"
)
# Per key in [lo, hi): the entry whose ts is the newest <= :ts (a seek on the primary
# key), if live, joined with the newest document version <= :ts (another seek).
_SCAN = """
SELECT i.key, i.doc_id, d.ts, d.value FROM indexes AS i
JOIN documents AS d ON d.id = i.doc_id
 AND d.ts = (SELECT MAX(ts) FROM documents WHERE id = i.doc_id AND ts <= :ts)
WHERE i.index_id = :index AND i.key >= :lo {hi} AND i.ts <= :ts
  AND i.ts = (SELECT MAX(ts) FROM indexes WHERE index_id = :index AND key = i.key AND ts <= :ts)
  AND i.doc_id IS NOT NULL AND d.value IS NOT NULL
ORDER BY i.key {order} LIMIT :limit
"""
_SCANS = {
    (order, bounded): _SCAN.format(hi="AND i.key < :hi" if bounded else "", order=order.upper())
    for order in ("asc", "desc")
    for bounded in (True, False)
}
_LOAD_DOCUMENTS_FIRST = (
    "SELECT ts, id, table_number, value, prev_ts FROM documents "
    "WHERE ts >= ? AND ts <= ? ORDER BY ts, id LIMIT ?"
)
_LOAD_DOCUMENTS_NEXT = (
    "SELECT ts, id, table_number, value, prev_ts FROM documents "
    "WHERE (ts, id) > (?, ?) AND ts <= ? ORDER BY ts, id LIMIT ?"
)
_LOAD_INDEX_FIRST = (
    "SELECT key, ts, doc_id FROM indexes WHERE index_id = ? AND ts >= ? "
    "ORDER BY key, ts LIMIT ?"
)
_LOAD_INDEX_NEXT = (
    "SELECT key, ts, doc_id FROM indexes WHERE index_id = ? AND (key, ts) > (?, ?) "
    "AND ts >= ? ORDER BY key, ts LIMIT ?"
)
# Retention: what no read at a timestamp >= :cutoff can see (see base.py). A version is
# gone once a newer one at or below the cutoff supersedes it; a tombstone goes last, when
# nothing older of its id / key is left (so a batch limit can never resurrect a delete).
_OLD_DOCUMENTS = """
DELETE FROM documents WHERE (id, ts) IN (
    SELECT o.id, o.ts FROM documents AS o
    WHERE o.ts <= :cutoff AND (
        EXISTS (SELECT 1 FROM documents AS n WHERE n.id = o.id AND n.ts > o.ts AND n.ts <= :cutoff)
        OR (o.value IS NULL
            AND NOT EXISTS (SELECT 1 FROM documents AS p WHERE p.id = o.id AND p.ts < o.ts)))
    LIMIT :limit)
"""
_OLD_INDEX_ENTRIES = """
DELETE FROM indexes WHERE (index_id, key, ts) IN (
    SELECT o.index_id, o.key, o.ts FROM indexes AS o
    WHERE o.ts <= :cutoff AND (
        EXISTS (SELECT 1 FROM indexes AS n WHERE n.index_id = o.index_id AND n.key = o.key
                AND n.ts > o.ts AND n.ts <= :cutoff)
        OR (o.doc_id IS NULL
            AND NOT EXISTS (SELECT 1 FROM indexes AS p WHERE p.index_id = o.index_id
                            AND p.key = o.key AND p.ts < o.ts)))
    LIMIT :limit)
"""
_GET_GLOBAL = "SELECT value FROM persistence_globals WHERE key = ?"
_SET_GLOBAL = (
    "INSERT INTO persistence_globals (key, value) VALUES (?, ?) "
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value"
)
_TS_MAX = 2**63 - 1


def _storage_error(what: str, e: BaseException) -> StorageError:
    kind = type(e).__name__
    return StorageError(f"SQLite {what} failed: {kind}: {e}")


@dataclass(slots=True)
class _Task:
    fn: Callable[[sqlite3.Connection], Any]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]


def _deliver(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    """Runs on the loop thread. The awaiting task may have been cancelled meanwhile."""
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


class _WriterThread(threading.Thread):
    """Owns the writer connection; runs queued functions on it, one at a time.

    Daemon, so a program that never closes its store can still exit; SQLite's own
    crash safety covers a batch cut short that way (it was never acknowledged).
    """

    def __init__(self, path: Path, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(name=f"pyconvex-sqlite-writer:{path.name}", daemon=True)
        self._path = path
        self._queue: queue.SimpleQueue[_Task | None] = queue.SimpleQueue()
        self.started: asyncio.Future[None] = loop.create_future()
        self.stopped: asyncio.Future[None] = loop.create_future()
        self._loop = loop

    def submit(self, fn: Callable[[sqlite3.Connection], T]) -> asyncio.Future[T]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.put(_Task(fn, loop, future))
        return future

    def stop(self) -> None:
        """Ask the thread to finish the queued work, close its connection and exit."""
        self._queue.put(None)

    def run(self) -> None:
        try:
            conn = schema.connect(self._path)
        except BaseException as e:
            self._signal(self.started, None, _storage_error(f"opening {self._path}", e))
            self._signal(self.stopped, None, None)
            return
        self._signal(self.started, None, None)
        try:
            while (task := self._queue.get()) is not None:
                try:
                    result, error = task.fn(conn), None
                except BaseException as e:
                    result, error = None, e
                self._signal(task.future, result, error, task.loop)
        finally:
            conn.close()
            self._signal(self.stopped, None, None)

    def _signal(
        self,
        future: asyncio.Future[Any],
        result: Any,
        error: BaseException | None,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        # RuntimeError: that loop is closed, so nobody is waiting any more.
        with contextlib.suppress(RuntimeError):
            (loop or self._loop).call_soon_threadsafe(_deliver, future, result, error)


def prepare_batch_insert(conn: sqlite3.Connection) -> None:
    """Create the writer connection's temporary ``batch`` view and its triggers."""
    for statement in _BATCH_DDL:
        conn.execute(statement)


def _batch_rows(documents: Sequence[DocumentLogEntry], indexes: Sequence[IndexEntry]) -> list[Any]:
    """The ``batch`` rows of one write, flattened into statement parameters."""
    high = max(max((d.ts for d in documents), default=0), max((i.ts for i in indexes), default=0))
    params: list[Any] = []
    for d in documents:
        params += (0, *d)
    for i in indexes:
        params += (1, *i, None)
    params += (2, high, None, None, None, None)
    return params


def _insert_batch(conn: sqlite3.Connection, params: Sequence[Any], rows: int) -> None:
    size = 4
    while size < rows:
        size *= 2
    sql = "INSERT INTO batch VALUES " + ",".join([_BATCH_ROW] * size)
    conn.execute(sql, [*params, *(_PAD * (size - rows))] if size > rows else params)


def _write_batch(conn: sqlite3.Connection, params: list[Any]) -> None:
    """One transaction, one fsync. On any error: roll back and raise StorageError."""
    rows = len(params) // len(_PAD)
    try:
        if rows <= MAX_BATCH_ROWS:
            _insert_batch(conn, params, rows)  # one statement, its own transaction
            return
        conn.execute("BEGIN IMMEDIATE")
        step = MAX_BATCH_ROWS * len(_PAD)
        for start in range(0, len(params), step):
            chunk = params[start : start + step]
            _insert_batch(conn, chunk, len(chunk) // len(_PAD))
        conn.execute("COMMIT")
    except Exception as e:
        schema.rollback(conn)
        raise _storage_error("write", e) from (None if isinstance(e, sqlite3.Error) else e)


class SqlitePersistence:
    """The :class:`~pyconvex.persistence.base.Persistence` protocol on one SQLite file.

    >>> store = await SqlitePersistence.open("data/db.sqlite3")
    >>> await store.write([DocumentLogEntry(1, "id1", 10001, b"{}")], [])
    >>> await store.close()
    """

    def __init__(
        self, path: Path, reader: sqlite3.Connection, writer: _WriterThread, lock_fd: int
    ) -> None:
        self.path = path
        self._reader = reader
        self._writer = writer
        self._lock_fd = lock_fd
        self._closed = False
        self._close_done: asyncio.Event | None = None

    @classmethod
    async def open(cls, path: str | Path) -> SqlitePersistence:
        """Lock the file, create or upgrade its tables, start the writer thread."""
        path = Path(path)
        lock_fd = _lock(path)
        writer = _WriterThread(path, asyncio.get_running_loop())
        reader: sqlite3.Connection | None = None
        try:
            writer.start()
            try:
                await writer.started
                await writer.submit(schema.create_or_upgrade)
                await writer.submit(prepare_batch_insert)
                _fsync_directory(path.parent)  # a new file's name must survive power loss too
                reader = schema.connect(path, read_only=True)
            except BaseException:
                writer.stop()
                await asyncio.shield(writer.stopped)
                writer.join()
                raise
        except sqlite3.Error as e:
            raise _storage_error(f"opening {path}", e) from None
        finally:
            if reader is None:
                _unlock(lock_fd)
        return cls(path, reader, writer, lock_fd)

    # ----------------------------------------------------------------- writes
    # The committer may queue a second batch while the first is being written: the
    # writer thread starts it the moment the first one's fsync returns, instead of
    # sleeping until the loop thread wakes it (a hop that cost as long as the fsync).
    write_pipeline = 2

    def write(
        self, documents: Sequence[DocumentLogEntry], indexes: Sequence[IndexEntry]
    ) -> asyncio.Future[None]:
        """Append one batch atomically and durably (one transaction, one fsync).

        The batch is queued when this is called, and batches are applied in call order.
        Cancelling the awaiting task does not withdraw the batch: it may still commit.
        """
        self._check_open()
        if not documents and not indexes:
            done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            done.set_result(None)
            return done
        params = _batch_rows(documents, indexes)
        return self._writer.submit(lambda conn: _write_batch(conn, params))

    async def delete_versions_before(self, cutoff: int, limit: int) -> int:
        def run(conn: sqlite3.Connection) -> int:
            try:
                conn.execute("BEGIN IMMEDIATE")
                n = conn.execute(_OLD_DOCUMENTS, {"cutoff": cutoff, "limit": limit}).rowcount
                n += conn.execute(_OLD_INDEX_ENTRIES, {"cutoff": cutoff, "limit": limit}).rowcount
                conn.execute("COMMIT")
                return int(n)
            except sqlite3.Error as e:
                schema.rollback(conn)
                raise _storage_error("retention", e) from None

        return await self._submit(run)

    async def set_global(self, key: str, value: str) -> None:
        def run(conn: sqlite3.Connection) -> None:
            try:
                conn.execute(_SET_GLOBAL, (key, value))
            except sqlite3.Error as e:
                raise _storage_error("set_global", e) from None

        await self._submit(run)

    async def _submit(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        self._check_open()
        return await self._writer.submit(fn)

    # ------------------------------------------------------------------ reads
    def _query(self, sql: str, params: Sequence[Any] | dict[str, Any]) -> list[Any]:
        self._check_open()
        try:
            return self._reader.execute(sql, params).fetchall()
        except (sqlite3.Error, OverflowError) as e:  # OverflowError: an int beyond int64
            raise _storage_error("read", e) from None

    async def max_ts(self) -> int:
        rows = self._query(_MAX_TS, ())
        return int(rows[0][0]) if rows else 0

    async def get_document(self, doc_id: str, ts: int) -> DocumentLogEntry | None:
        rows = self._query(_GET_DOCUMENT, (doc_id, ts))
        if not rows:
            return None
        r = rows[0]
        return DocumentLogEntry(r[0], doc_id, r[1], r[2], r[3])

    async def index_scan(
        self,
        index_id: int,
        lo: bytes,
        hi: bytes | None,
        ts: int,
        order: Order,
        limit: int,
    ) -> list[IndexRow]:
        if limit <= 0:
            self._check_open()
            return []
        params: dict[str, Any] = {"index": index_id, "lo": lo, "ts": ts, "limit": limit}
        if hi is not None:
            params["hi"] = hi
        rows = self._query(_SCANS[(order, hi is not None)], params)
        return [IndexRow(r[0], r[1], r[2], r[3]) for r in rows]

    async def load_documents(
        self, from_ts: int, to_ts: int | None = None
    ) -> AsyncIterator[DocumentLogEntry]:
        upper = _TS_MAX if to_ts is None else to_ts
        rows = self._query(_LOAD_DOCUMENTS_FIRST, (from_ts, upper, CHUNK))
        while True:
            for r in rows:
                yield DocumentLogEntry(r[0], r[1], r[2], r[3], r[4])
            if len(rows) < CHUNK:
                return
            await asyncio.sleep(0)  # a long load must not starve the loop
            last = rows[-1]
            rows = self._query(_LOAD_DOCUMENTS_NEXT, (last[0], last[1], upper, CHUNK))

    async def load_index_entries(
        self, index_id: int, from_ts: int = 0
    ) -> AsyncIterator[IndexEntry]:
        rows = self._query(_LOAD_INDEX_FIRST, (index_id, from_ts, CHUNK))
        while True:
            for r in rows:
                yield IndexEntry(index_id, r[0], r[1], r[2])
            if len(rows) < CHUNK:
                return
            await asyncio.sleep(0)
            last = rows[-1]
            rows = self._query(_LOAD_INDEX_NEXT, (index_id, last[0], last[1], from_ts, CHUNK))

    async def get_global(self, key: str) -> str | None:
        rows = self._query(_GET_GLOBAL, (key,))
        return None if not rows else str(rows[0][0])

    # ---------------------------------------------------------------- closing
    def _check_open(self) -> None:
        if self._closed:
            raise StorageError(f"SQLite persistence {self.path} is closed")

    async def close(self) -> None:
        """Finish queued writes, stop the writer thread, close connections, unlock.

        Idempotent; a second caller waits for the first to finish.
        """
        if self._close_done is not None:
            await self._close_done.wait()
            return
        self._closed = True
        self._close_done = asyncio.Event()
        try:
            self._writer.stop()
            await asyncio.shield(self._writer.stopped)
            self._writer.join()
            self._reader.close()  # the last connection out checkpoints the WAL
        finally:
            _unlock(self._lock_fd)
            self._close_done.set()


def _lock(path: Path) -> int:
    lock_path = path.with_name(path.name + ".lock")
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        raise StorageError(f"Cannot open {lock_path}: {e.strerror}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise DeploymentLockedError(
            f"Database {path} is in use by another pyconvex process (it holds {lock_path}). "
            "Stop that process first; to run several processes on one database, "
            "use PostgreSQL."
        ) from None
    return fd


def _fsync_directory(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError as e:
        raise StorageError(f"Cannot open {directory}: {e.strerror}") from None
    try:
        os.fsync(fd)
    except OSError as e:
        raise StorageError(f"Cannot sync {directory}: {e.strerror}") from None
    finally:
        os.close(fd)


def _unlock(fd: int) -> None:
    with contextlib.suppress(OSError):
        fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)
