"""SQLite persistence: one file, WAL, ``synchronous=FULL``, one writer process, inline reads.

Why this shape (docs/architecture.md, "What the measurements force"):

- **Durability.** WAL with ``synchronous=FULL`` fsyncs the log on every commit, so an
  acknowledged batch survives SIGKILL and power loss. That fsync is the cost of a
  commit (~2-7k/s on this machine class), which is why a batch holds many commits:
  one transaction, one fsync, however many documents it carries.
- **One writer, in a child process.** The writer connection belongs to a child process
  (``sqlite_writer.py``: why a process and not a thread is explained there). ``write()``
  queues the batch on the socket to it and returns the future of its reply; the child
  commits every batch waiting in one transaction. The fsync happens in the child, so
  the event loop keeps serving reads (and running mutations) while it waits.
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
import logging
import os
import sqlite3
from collections.abc import AsyncIterator, Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from pyconvex.errors import NO_SPACE_SIGNS, StorageFullError, storage_full
from pyconvex.persistence import sqlite_schema as schema
from pyconvex.persistence.base import (
    CommitRows,
    DocumentLogEntry,
    IndexEntry,
    IndexRow,
    Order,
    SessionRequestRow,
)
from pyconvex.persistence.errors import DeploymentLockedError, StorageError
from pyconvex.persistence.sqlite_batches import INDEXED_THROUGH, fields
from pyconvex.persistence.sqlite_recent import SESSION_INDEX_BATCH, RecentRequests
from pyconvex.persistence.sqlite_writer import WriterProcess

log = logging.getLogger("pyconvex.persistence")

#: Rows fetched per statement by the log-loading generators.
CHUNK = 1000

# The head (sqlite_schema.py): the newest document's timestamp (a seek at the end of
# documents_by_ts) or the floor row, whichever is larger.
_MAX_TS = (
    "SELECT max(coalesce((SELECT MAX(ts) FROM documents), 0), "
    "coalesce((SELECT ts FROM persistence_max_ts WHERE id = 0), 0))"
)
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
_GET_GLOBAL = "SELECT value FROM persistence_globals WHERE key = ?"
_SESSION_REQUEST_AT = "SELECT created, record FROM session_requests WHERE ts = ?"
_GET_SESSION_REQUEST = (
    "SELECT r.ts, r.created, r.record FROM session_request_keys AS k "
    "JOIN session_requests AS r ON r.ts = k.ts WHERE k.session_id = ? AND k.request_id = ?"
)
_UNINDEXED_SESSION_REQUESTS = (
    "SELECT ts, session_id, request_id FROM session_requests WHERE ts > ? ORDER BY ts"
)
_OLDEST_SESSION_REQUESTS = (
    "SELECT ts, session_id, request_id, created, record FROM session_requests "
    "ORDER BY ts LIMIT ?"
)
_TS_MAX = 2**63 - 1


def _storage_error(what: str, e: BaseException) -> StorageError | StorageFullError:
    kind = type(e).__name__
    if any(sign in str(e) for sign in NO_SPACE_SIGNS):
        return storage_full(f"SQLite {what}", e)
    return StorageError(f"SQLite {what} failed: {kind}: {e}")


class SqlitePersistence:
    """The :class:`~pyconvex.persistence.base.Persistence` protocol on one SQLite file.

    >>> store = await SqlitePersistence.open("data/db.sqlite3")
    >>> await store.write([DocumentLogEntry(1, "id1", 10001, b"{}")], [])
    >>> await store.close()
    """

    def __init__(
        self, path: Path, reader: sqlite3.Connection, writer: WriterProcess, lock_fd: int,
        session_index_batch: int = SESSION_INDEX_BATCH,
    ) -> None:
        self.path = path
        self._reader = reader
        self._writer = writer
        self._lock_fd = lock_fd
        self._closed = False
        self._close_done: asyncio.Event | None = None
        self._recent = RecentRequests(session_index_batch)
        self._indexing = False

    @classmethod
    async def open(
        cls, path: str | Path, *, session_index_batch: int = SESSION_INDEX_BATCH
    ) -> SqlitePersistence:
        """Lock the file, start the writer process (which creates or upgrades the
        tables), open the reader, and read back the session requests not yet indexed."""
        path = Path(path)
        lock_fd = _lock(path)
        reader: sqlite3.Connection | None = None
        try:
            writer = await WriterProcess.start(path)
            try:
                _fsync_directory(path.parent)  # a new file's name must survive power loss too
                reader = schema.connect(path, read_only=True)
            except BaseException:
                await writer.stop()
                raise
        except sqlite3.Error as e:
            raise _storage_error(f"opening {path}", e) from None
        finally:
            if reader is None:
                _unlock(lock_fd)
        store = cls(path, reader, writer, lock_fd, session_index_batch)
        try:
            done = await store.get_global(INDEXED_THROUGH)
            for ts, session_id, request_id in store._query(
                    _UNINDEXED_SESSION_REQUESTS, (int(done) if done is not None else 0,)):
                store._recent.add(ts, session_id, request_id)
        except BaseException:
            await store.close()
            raise
        return store

    # ----------------------------------------------------------------- writes
    # Batches go to the writer process in call order and it commits every batch waiting
    # together, so the committer hands a group over while earlier ones are being written.
    write_pipeline = 32

    def write(
        self, documents: Sequence[DocumentLogEntry], indexes: Sequence[IndexEntry]
    ) -> asyncio.Future[None]:
        """Append one batch atomically and durably (one transaction, one fsync, possibly
        shared with batches written just before it).

        The batch is queued when this is called, and batches are applied in call order.
        Cancelling the awaiting task does not withdraw the batch: it may still commit.
        """
        self._check_open()
        if not documents and not indexes:
            done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            done.set_result(None)
            return done
        return self._writer.call("write", fields(documents, indexes))

    def write_commits_then(
        self, commits: Sequence[CommitRows], on_done: Callable[[BaseException | None], None]
    ) -> None:
        """``write`` of a group of commits, each as its timestamp and its rows without
        it (``sqlite_writer.CommitRows``), sent to the writer now. Completion is reported
        by calling ``on_done(None or the error)`` as soon as the writer's reply arrives,
        in call order (the committer publishes from there, without waiting for a task
        to wake up)."""
        self._check_open()
        requests = [(ts, record[0], record[1])
                    for ts, _, _, record in commits if record is not None]
        if not requests:
            self._writer.call_then("commits", (commits,), on_done)
            return

        def durable(error: BaseException | None) -> None:
            if error is None:  # found by a lookup from before the commit is published
                for ts, session_id, request_id in requests:
                    self._recent.add(ts, session_id, request_id)
                self._index_if_due()
            on_done(error)

        self._writer.call_then("commits", (commits,), durable)

    def _index_if_due(self) -> None:
        through = self._recent.due()
        if through is None or self._indexing or self._closed:
            return
        self._indexing = True
        self._writer.call("index_session_requests", through).add_done_callback(
            partial(self._indexed, through))

    def _indexed(self, through: int, done: asyncio.Future[Any]) -> None:
        self._indexing = False
        if done.cancelled():
            return
        error = done.exception()
        if error is not None:  # kept in memory; the next batch tries again
            log.error("indexing session requests failed: %s", error)
            return
        self._recent.forget_through(through)
        self._index_if_due()

    async def delete_versions_before(self, cutoff: int, limit: int) -> int:
        self._check_open()
        return int(await self._writer.call("delete_versions_before", cutoff, limit))

    async def set_global(self, key: str, value: str) -> None:
        self._check_open()
        await self._writer.call("set_global", key, value)

    async def delete_session_requests_through(self, ts: int) -> int:
        self._check_open()
        n = int(await self._writer.call("delete_session_requests_through", ts))
        self._recent.forget_through(ts)
        return n

    # ------------------------------------------------------------------ reads
    def _query(self, sql: str, params: Sequence[Any] | dict[str, Any]) -> list[Any]:
        self._check_open()
        try:
            return self._reader.execute(sql, params).fetchall()
        except (sqlite3.Error, OverflowError) as e:  # OverflowError: an int beyond int64
            raise _storage_error("read", e) from None

    async def max_ts(self) -> int:
        return int(self._query(_MAX_TS, ())[0][0])

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

    async def get_session_request(self, session_id: str, request_id: int) -> SessionRequestRow | None:
        # The index first: it holds the older requests, and the first record answers.
        rows = self._query(_GET_SESSION_REQUEST, (session_id, request_id))
        if rows:
            ts, created, record = rows[0]
            return SessionRequestRow(ts, session_id, request_id, created, record)
        ts = self._recent.get(session_id, request_id)  # durable, not indexed yet
        if ts is None:
            return None
        found = self._query(_SESSION_REQUEST_AT, (ts,))
        if not found:  # deleted meanwhile (retention)
            return None
        return SessionRequestRow(ts, session_id, request_id, found[0][0], found[0][1])

    async def oldest_session_requests(self, limit: int) -> list[SessionRequestRow]:
        rows = self._query(_OLDEST_SESSION_REQUESTS, (limit,))
        return [SessionRequestRow(*r) for r in rows]

    # ---------------------------------------------------------------- closing
    def _check_open(self) -> None:
        if self._closed:
            raise StorageError(f"SQLite persistence {self.path} is closed")

    async def close(self) -> None:
        """Finish queued writes, stop the writer process, close the reader, unlock.

        Idempotent; a second caller waits for the first to finish.
        """
        if self._close_done is not None:
            await self._close_done.wait()
            return
        self._closed = True
        self._close_done = asyncio.Event()
        try:
            await self._writer.stop()
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
