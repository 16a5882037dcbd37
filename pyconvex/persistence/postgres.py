"""The Persistence protocol on PostgreSQL (psycopg 3, an async connection pool).

Same layout as SQLite (``documents`` by ``(id, ts)``, ``indexes`` by
``(index_id, key, ts)``, ``persistence_globals``, ``persistence_max_ts``), in the schema
named by the URL's ``schema`` parameter (default ``public``):
``postgresql://user@host:5432/db?schema=app``.

A commit is **one statement, one round trip**: ``unnest`` of column arrays inserts every
document and index entry of the batch and raises ``persistence_max_ts`` in a single
``INSERT ... WITH`` statement, which PostgreSQL runs as one transaction and makes durable
before answering (``synchronous_commit`` on). Reads run on pooled connections in
autocommit mode; every read is a snapshot read by timestamp, so it needs no transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import secrets
import struct
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg import pq, sql
from psycopg_pool import AsyncConnectionPool

from pyconvex.errors import NO_SPACE_SIGNS, StorageFullError, storage_full
from pyconvex.persistence.base import DocumentLogEntry, IndexEntry, IndexRow, LogCommit, Order
from pyconvex.persistence.errors import StorageError

CHUNK = 1000
_TS_MAX = 2**63 - 1
_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

_TABLES = """
CREATE TABLE IF NOT EXISTS documents (
    id TEXT NOT NULL, ts BIGINT NOT NULL, table_number INTEGER NOT NULL,
    value BYTEA, prev_ts BIGINT, PRIMARY KEY (id, ts));
CREATE INDEX IF NOT EXISTS documents_by_ts ON documents (ts, id);
CREATE TABLE IF NOT EXISTS indexes (
    index_id INTEGER NOT NULL, key BYTEA NOT NULL, ts BIGINT NOT NULL, doc_id TEXT,
    PRIMARY KEY (index_id, key, ts));
CREATE TABLE IF NOT EXISTS persistence_globals (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS persistence_max_ts (
    id INTEGER PRIMARY KEY CHECK (id = 0), ts BIGINT NOT NULL);
INSERT INTO persistence_max_ts (id, ts) VALUES (0, 0) ON CONFLICT (id) DO NOTHING;
CREATE TABLE IF NOT EXISTS commit_log (
    ts BIGINT PRIMARY KEY, written BYTEA NOT NULL, catalog_changed BOOLEAN NOT NULL);
"""

_WRITE = """
WITH d AS (
    INSERT INTO documents (id, ts, table_number, value, prev_ts)
    SELECT * FROM unnest(%(d_id)s::text[], %(d_ts)s::bigint[], %(d_table)s::int[],
                         %(d_value)s::bytea[], %(d_prev)s::bigint[])
), i AS (
    INSERT INTO indexes (index_id, key, ts, doc_id)
    SELECT * FROM unnest(%(i_index)s::int[], %(i_key)s::bytea[], %(i_ts)s::bigint[],
                         %(i_doc)s::text[])
)
INSERT INTO persistence_max_ts (id, ts) VALUES (0, %(high)s)
ON CONFLICT (id) DO UPDATE SET ts = GREATEST(persistence_max_ts.ts, excluded.ts)
"""
# Several processes: the head row is the serialisation point. The UPDATE matches only
# if nobody committed since ``expected`` (a concurrent commit makes it wait, then
# re-check the row); every insert of the batch depends on it, all in one statement.
_COMMIT_SHARED = """
WITH head AS (
    UPDATE persistence_max_ts SET ts = %(high)s WHERE id = 0 AND ts = %(expected)s RETURNING ts
), d AS (
    INSERT INTO documents (id, ts, table_number, value, prev_ts)
    SELECT * FROM unnest(%(d_id)s::text[], %(d_ts)s::bigint[], %(d_table)s::int[],
                         %(d_value)s::bytea[], %(d_prev)s::bigint[])
    WHERE EXISTS (SELECT 1 FROM head)
), i AS (
    INSERT INTO indexes (index_id, key, ts, doc_id)
    SELECT * FROM unnest(%(i_index)s::int[], %(i_key)s::bytea[], %(i_ts)s::bigint[],
                         %(i_doc)s::text[])
    WHERE EXISTS (SELECT 1 FROM head)
), c AS (
    INSERT INTO commit_log (ts, written, catalog_changed)
    SELECT * FROM unnest(%(c_ts)s::bigint[], %(c_written)s::bytea[], %(c_catalog)s::bool[])
    WHERE EXISTS (SELECT 1 FROM head)
), n AS (
    SELECT pg_notify(%(channel)s, ts::text) FROM head WHERE %(notify)s
)
SELECT (SELECT count(*) FROM head), (SELECT count(*) FROM n)
"""
# The same statement with libpq's positional parameters, sent by _CommitConnection.
_COMMIT_PARAMS = tuple(dict.fromkeys(re.findall(r"%\((\w+)\)s", _COMMIT_SHARED)))
_COMMIT_SHARED_PQ = re.sub(
    r"%\((\w+)\)s", lambda m: f"${_COMMIT_PARAMS.index(m.group(1)) + 1}", _COMMIT_SHARED
)
HELLO_EVERY_S = 1.0
PEER_TTL_S = 3.0
_COMMITS_AFTER_PQ = (
    "SELECT ts, written, catalog_changed FROM commit_log WHERE ts > $1 ORDER BY ts LIMIT 10000"
)
_MAX_TS = "SELECT ts FROM persistence_max_ts WHERE id = 0"
_GET_DOCUMENT = (
    "SELECT ts, table_number, value, prev_ts FROM documents "
    "WHERE id = %s AND ts <= %s ORDER BY ts DESC LIMIT 1"
)
_SCAN = """
SELECT i.key, i.doc_id, d.ts, d.value FROM indexes AS i
JOIN LATERAL (SELECT ts, value FROM documents WHERE id = i.doc_id AND ts <= %(ts)s
              ORDER BY ts DESC LIMIT 1) AS d ON TRUE
WHERE i.index_id = %(index)s AND i.key >= %(lo)s {hi} AND i.ts <= %(ts)s
  AND i.ts = (SELECT MAX(ts) FROM indexes
              WHERE index_id = %(index)s AND key = i.key AND ts <= %(ts)s)
  AND i.doc_id IS NOT NULL AND d.value IS NOT NULL
ORDER BY i.key {order} LIMIT %(limit)s
"""
_SCANS = {
    (order, bounded): _SCAN.format(hi="AND i.key < %(hi)s" if bounded else "", order=order.upper())
    for order in ("asc", "desc")
    for bounded in (True, False)
}
_LOAD_DOCUMENTS_FIRST = (
    "SELECT ts, id, table_number, value, prev_ts FROM documents "
    "WHERE ts >= %s AND ts <= %s ORDER BY ts, id LIMIT %s"
)
_LOAD_DOCUMENTS_NEXT = (
    "SELECT ts, id, table_number, value, prev_ts FROM documents "
    "WHERE (ts, id) > (%s, %s) AND ts <= %s ORDER BY ts, id LIMIT %s"
)
_LOAD_INDEX_FIRST = (
    "SELECT key, ts, doc_id FROM indexes WHERE index_id = %s AND ts >= %s "
    "ORDER BY key, ts LIMIT %s"
)
_LOAD_INDEX_NEXT = (
    "SELECT key, ts, doc_id FROM indexes WHERE index_id = %s AND (key, ts) > (%s, %s) "
    "AND ts >= %s ORDER BY key, ts LIMIT %s"
)
# Retention (see sqlite.py for the rules).
_OLD_DOCUMENTS = """
DELETE FROM documents WHERE (id, ts) IN (
    SELECT o.id, o.ts FROM documents AS o
    WHERE o.ts <= %(cutoff)s AND (
        EXISTS (SELECT 1 FROM documents AS n WHERE n.id = o.id AND n.ts > o.ts AND n.ts <= %(cutoff)s)
        OR (o.value IS NULL
            AND NOT EXISTS (SELECT 1 FROM documents AS p WHERE p.id = o.id AND p.ts < o.ts)))
    LIMIT %(limit)s)
"""
_OLD_INDEX_ENTRIES = """
DELETE FROM indexes WHERE (index_id, key, ts) IN (
    SELECT o.index_id, o.key, o.ts FROM indexes AS o
    WHERE o.ts <= %(cutoff)s AND (
        EXISTS (SELECT 1 FROM indexes AS n WHERE n.index_id = o.index_id AND n.key = o.key
                AND n.ts > o.ts AND n.ts <= %(cutoff)s)
        OR (o.doc_id IS NULL
            AND NOT EXISTS (SELECT 1 FROM indexes AS p WHERE p.index_id = o.index_id
                            AND p.key = o.key AND p.ts < o.ts)))
    LIMIT %(limit)s)
"""
_OLD_COMMITS = "DELETE FROM commit_log WHERE ts < %(cutoff)s"
_GET_GLOBAL = "SELECT value FROM persistence_globals WHERE key = %s"
_SET_GLOBAL = (
    "INSERT INTO persistence_globals (key, value) VALUES (%s, %s) "
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value"
)


# Array parameters are sent as PostgreSQL array literals built here: a join of
# preformatted elements costs a fraction of dumping Python lists element by element.
def _ints(values: Sequence[int | None]) -> str:
    return "{" + ",".join("NULL" if v is None else str(v) for v in values) + "}"


def _texts(values: Sequence[str | None]) -> str:
    return "{" + ",".join(
        "NULL" if v is None else '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
        for v in values
    ) + "}"


def _byteas(values: Sequence[bytes | None]) -> str:
    return "{" + ",".join("NULL" if v is None else '"\\\\x' + v.hex() + '"' for v in values) + "}"


def _bools(values: Sequence[bool]) -> str:
    return "{" + ",".join("t" if v else "f" for v in values) + "}"


def _batch_params(
    documents: Sequence[DocumentLogEntry], indexes: Sequence[IndexEntry]
) -> dict[str, Any]:
    return {
        "d_id": _texts([d.id for d in documents]), "d_ts": _ints([d.ts for d in documents]),
        "d_table": _ints([d.table_number for d in documents]),
        "d_value": _byteas([d.value for d in documents]),
        "d_prev": _ints([d.prev_ts for d in documents]),
        "i_index": _ints([i.index_id for i in indexes]), "i_key": _byteas([i.key for i in indexes]),
        "i_ts": _ints([i.ts for i in indexes]), "i_doc": _texts([i.doc_id for i in indexes]),
    }


def encode_written(written: Sequence[tuple[int, bytes]]) -> bytes:
    out = bytearray()
    for index_id, key in written:
        out += struct.pack(">II", index_id, len(key))
        out += key
    return bytes(out)


def decode_written(data: bytes) -> tuple[tuple[int, bytes], ...]:
    out = []
    pos = 0
    while pos < len(data):
        index_id, size = struct.unpack_from(">II", data, pos)
        pos += 8
        out.append((index_id, bytes(data[pos:pos + size])))
        pos += size
    return tuple(out)


def split_url(url: str) -> tuple[str, str]:
    """``(libpq URL without our parameters, schema name)``."""
    parts = urlsplit(url)
    params = dict(parse_qsl(parts.query))
    schema = params.pop("schema", "public")
    if not _SCHEMA_NAME.match(schema):
        raise StorageError(f"Invalid schema name {schema!r} in the database URL.")
    return urlunsplit(parts._replace(query=urlencode(params))), schema


def _error(what: str, e: BaseException) -> StorageError | StorageFullError:
    err: StorageError | StorageFullError = StorageError(f"PostgreSQL {what} failed: {e}")
    if isinstance(e, psycopg.errors.DiskFull) or any(s in str(e) for s in NO_SPACE_SIGNS):
        err = storage_full(f"PostgreSQL {what}", e)
    err.__cause__ = e
    return err


class PostgresPersistence:
    def __init__(self, pool: AsyncConnectionPool[Any], schema: str, url: str) -> None:
        self.pool = pool
        self.schema = schema
        self.url = url
        self.channel = f"pyconvex_{schema}"
        self._closed = False
        self._inflight: set[asyncio.Task[Any]] = set()
        self._listener: _Listener | None = None
        self._instance_conn: psycopg.AsyncConnection[Any] | None = None
        self._commit_conn: _CommitConnection | None = None
        self._hello = f"hello:{secrets.token_hex(8)}"
        self._last_hello = 0.0

    @classmethod
    async def open(cls, url: str, *, min_size: int = 2, max_size: int = 16) -> PostgresPersistence:
        conninfo, schema = split_url(url)

        async def configure(conn: psycopg.AsyncConnection[Any]) -> None:
            await conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))

        try:
            async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as conn:
                await conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
                await configure(conn)
                async with conn.transaction():
                    # Several processes may start at once: one creates, the others wait.
                    await conn.execute("SELECT pg_advisory_xact_lock(hashtext(current_schema()))")
                    for statement in _TABLES.split(";"):
                        if statement.strip():
                            await conn.execute(statement)
            pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
                conninfo, min_size=min_size, max_size=max_size, open=False,
                kwargs={"autocommit": True}, configure=configure,
            )
            await pool.open(wait=True, timeout=30)
        except (psycopg.Error, OSError) as e:
            raise _error(f"opening {urlsplit(conninfo).hostname}", e) from None
        return cls(pool, schema, url)

    def _check_open(self) -> None:
        if self._closed:
            raise StorageError("PostgreSQL persistence is closed")

    async def _run(self, what: str, query: str, params: Any) -> list[Any]:
        self._check_open()
        task = asyncio.current_task()
        if task is not None:
            self._inflight.add(task)
        try:
            async with self.pool.connection() as conn, conn.cursor() as cur:
                await cur.execute(query, params, prepare=True)
                return await cur.fetchall() if cur.description is not None else []
        except psycopg.Error as e:
            raise _error(what, e) from None
        finally:
            if task is not None:
                self._inflight.discard(task)

    # ----------------------------------------------------------------- writes
    async def write(
        self, documents: Sequence[DocumentLogEntry], indexes: Sequence[IndexEntry]
    ) -> None:
        self._check_open()
        if not documents and not indexes:
            return
        high = max(max((d.ts for d in documents), default=0), max((i.ts for i in indexes), default=0))
        params = {**_batch_params(documents, indexes), "high": high}
        await self._run("write", _WRITE, params)

    async def commit_shared(
        self,
        documents: Sequence[DocumentLogEntry],
        indexes: Sequence[IndexEntry],
        commits: Sequence[LogCommit],
        expected_head: int,
    ) -> bool:
        self._check_open()
        high = max(c.ts for c in commits)
        params = {
            **_batch_params(documents, indexes),
            "c_ts": _ints([c.ts for c in commits]),
            "c_written": _byteas([encode_written(c.written) for c in commits]),
            "c_catalog": _bools([c.catalog_changed for c in commits]),
            "high": high, "expected": expected_head, "channel": self.channel,
            # With no other process listening nobody needs the NOTIFY, which costs the
            # commit a global queue lock in PostgreSQL and our listener a wake-up.
            "notify": self._listener is None or self._listener.peers_alive(),
        }
        # The committer's own connection: commits are serial, and a pool checkout per
        # commit costs more than the statement's parameters.
        result = await self._on_commit_connection("commit", _CommitConnection.commit, params)
        return result.get_value(0, 0) == b"1"

    async def commits_after(self, ts: int) -> list[LogCommit]:
        # On the commit connection too: the committer and the follower call this under
        # the committer's lock (each process learning every other's commits made it as
        # frequent as commits), and psycopg's cursor path costs most of a short read.
        result = await self._on_commit_connection("follow", _CommitConnection.commits_after, ts)
        return [
            LogCommit(
                int.from_bytes(result.get_value(row, 0) or b"", "big", signed=True),
                decode_written(result.get_value(row, 1) or b""),
                result.get_value(row, 2) == b"\x01",
            )
            for row in range(result.ntuples)
        ]

    async def _on_commit_connection(
        self, what: str, op: Callable[[_CommitConnection, Any], Awaitable[pq.abc.PGresult]],
        arg: Any,
    ) -> pq.abc.PGresult:
        self._check_open()
        task = asyncio.current_task()
        if task is not None:
            self._inflight.add(task)
        try:
            if self._commit_conn is None or self._commit_conn.broken:
                if self._commit_conn is not None:
                    await self._commit_conn.close()
                self._commit_conn = None
                conninfo, _ = split_url(self.url)
                self._commit_conn = await _CommitConnection.open(conninfo, self.schema)
            return await op(self._commit_conn, arg)
        except psycopg.Error as e:
            if self._commit_conn is not None:
                await self._commit_conn.close()
            self._commit_conn = None
            raise _error(what, e) from None
        finally:
            if task is not None:
                self._inflight.discard(task)

    async def hold_instance_lock(self, instance: str) -> None:
        """A session advisory lock on a connection of its own, held until close: other
        processes see this one alive (its running actions are not failed under it)."""
        self._check_open()
        conninfo, _ = split_url(self.url)
        try:
            self._instance_conn = await psycopg.AsyncConnection.connect(conninfo, autocommit=True)
            await self._instance_conn.execute(
                "SELECT pg_advisory_lock(hashtextextended(%s, 0))", (f"{self.schema}:{instance}",)
            )
        except psycopg.Error as e:
            raise _error("instance lock", e) from None

    async def instance_alive(self, instance: str) -> bool:
        key = f"{self.schema}:{instance}"
        rows = await self._run(
            "instance check",
            "SELECT pg_try_advisory_lock(hashtextextended(%(k)s, 0)) AS got, "
            "pg_advisory_unlock(hashtextextended(%(k)s, 0)) AS released",
            {"k": key},
        )
        return not rows[0][0]

    async def wait_for_commits(self, timeout: float) -> int | None:
        self._check_open()
        try:
            if self._listener is None or self._listener.broken:
                if self._listener is not None:
                    await self._listener.close()
                self._listener = None
                conninfo, _ = split_url(self.url)
                self._listener = await _Listener.open(conninfo, self.channel, self._own_pids,
                                                      self._hello)
            if time.monotonic() - self._last_hello >= HELLO_EVERY_S:
                # Tell the other processes this one listens (they notify only then).
                self._last_hello = time.monotonic()
                await self._run("hello", "SELECT pg_notify(%s, %s)", (self.channel, self._hello))
            return await self._listener.wait(min(timeout, HELLO_EVERY_S))
        except psycopg.Error:
            # A lost listener connection: fall back to polling until it reconnects.
            if self._listener is not None:
                await self._listener.close()
            self._listener = None
            await asyncio.sleep(timeout)
            return None

    def _own_pids(self) -> set[int]:
        conn = self._commit_conn
        return {conn.backend_pid} if conn is not None and not conn.broken else set()

    async def delete_versions_before(self, cutoff: int, limit: int) -> int:
        params = {"cutoff": cutoff, "limit": limit}
        n = 0
        for what, query in (("documents", _OLD_DOCUMENTS), ("indexes", _OLD_INDEX_ENTRIES),
                            ("commit log", _OLD_COMMITS)):
            self._check_open()
            try:
                async with self.pool.connection() as conn, conn.cursor() as cur:
                    await cur.execute(query, params)
                    n += max(cur.rowcount, 0) if what != "commit log" else 0
            except psycopg.Error as e:
                raise _error(f"retention ({what})", e) from None
        return n

    async def set_global(self, key: str, value: str) -> None:
        await self._run("set_global", _SET_GLOBAL, (key, value))

    # ------------------------------------------------------------------ reads
    async def max_ts(self) -> int:
        rows = await self._run("max_ts", _MAX_TS, ())
        return int(rows[0][0]) if rows else 0

    async def size_bytes(self) -> int:
        """Bytes of this deployment's tables, indexes and TOAST in its schema (``/metrics``)."""
        rows = await self._run(
            "size",
            "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relkind = 'r'",
            (self.schema,),
        )
        return int(rows[0][0]) if rows else 0

    async def get_document(self, doc_id: str, ts: int) -> DocumentLogEntry | None:
        rows = await self._run("read", _GET_DOCUMENT, (doc_id, ts))
        if not rows:
            return None
        r = rows[0]
        return DocumentLogEntry(r[0], doc_id, r[1], _bytes(r[2]), r[3])

    async def index_scan(
        self, index_id: int, lo: bytes, hi: bytes | None, ts: int, order: Order, limit: int
    ) -> list[IndexRow]:
        self._check_open()
        if limit <= 0:
            return []
        params: dict[str, Any] = {"index": index_id, "lo": lo, "ts": ts, "limit": limit}
        if hi is not None:
            params["hi"] = hi
        rows = await self._run("scan", _SCANS[(order, hi is not None)], params)
        return [IndexRow(bytes(r[0]), r[1], r[2], bytes(r[3])) for r in rows]

    async def load_documents(
        self, from_ts: int, to_ts: int | None = None
    ) -> AsyncIterator[DocumentLogEntry]:
        upper = _TS_MAX if to_ts is None else to_ts
        rows = await self._run("load", _LOAD_DOCUMENTS_FIRST, (from_ts, upper, CHUNK))
        while True:
            for r in rows:
                yield DocumentLogEntry(r[0], r[1], r[2], _bytes(r[3]), r[4])
            if len(rows) < CHUNK:
                return
            last = rows[-1]
            rows = await self._run("load", _LOAD_DOCUMENTS_NEXT, (last[0], last[1], upper, CHUNK))

    async def load_index_entries(self, index_id: int, from_ts: int = 0) -> AsyncIterator[IndexEntry]:
        rows = await self._run("load", _LOAD_INDEX_FIRST, (index_id, from_ts, CHUNK))
        while True:
            for r in rows:
                yield IndexEntry(index_id, bytes(r[0]), r[1], r[2])
            if len(rows) < CHUNK:
                return
            last = rows[-1]
            rows = await self._run("load", _LOAD_INDEX_NEXT, (index_id, last[0], last[1], from_ts, CHUNK))

    async def get_global(self, key: str) -> str | None:
        rows = await self._run("get_global", _GET_GLOBAL, (key,))
        return None if not rows else str(rows[0][0])

    async def close(self) -> None:
        """Wait for operations already handed over, then close the pool. Idempotent."""
        if self._closed:
            return
        self._closed = True
        current = asyncio.current_task()
        pending = [t for t in self._inflight if t is not current]
        if pending:
            await asyncio.wait(pending)
        if self._listener is not None:
            await self._listener.close()
        if self._commit_conn is not None:
            await self._commit_conn.close()
        if self._instance_conn is not None:
            with contextlib.suppress(psycopg.Error):
                await self._instance_conn.close()
        await self.pool.close()


class _WatchedConnection:
    """A connection of its own whose socket the event loop watches for the connection's
    life, drained by ``_on_readable`` through libpq (the listener, the committer's)."""

    def __init__(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self._conn = conn
        self._pgconn = conn.pgconn
        self.broken = False
        self._loop = asyncio.get_running_loop()
        self._fd = self._pgconn.socket
        self._loop.add_reader(self._fd, self._on_readable)

    def _on_readable(self) -> None:
        raise NotImplementedError

    def _lose(self) -> None:
        """Stop watching a connection that failed or may be mid-statement."""
        if not self.broken:
            self.broken = True
            self._loop.remove_reader(self._fd)
            self._loop.remove_writer(self._fd)

    async def close(self) -> None:
        self._lose()
        with contextlib.suppress(psycopg.Error):
            await self._conn.close()


class _CommitConnection(_WatchedConnection):
    """The committer's connection: the commit statement and the commit-log read, sent
    through libpq directly, one at a time.

    psycopg's cursor path (query conversion, parameter dumping, registering the socket
    with the loop for each wait and unregistering it after) cost more Python time than
    the rest of a one-commit group's commit. Here both statements are prepared once,
    parameters go as text (they are strings already: array literals, numbers), and the
    socket stays registered with the loop for the connection's life, as the listener's.
    """

    _NAME = b"pyconvex_commit_shared"
    _FOLLOW = b"pyconvex_commits_after"  # binary results: int8, bytea, bool

    def __init__(self, conn: psycopg.AsyncConnection[Any]) -> None:
        conn.pgconn.nonblocking = 1
        self.backend_pid = conn.info.backend_pid
        self._waiter: asyncio.Future[list[pq.abc.PGresult]] | None = None
        self._results: list[pq.abc.PGresult] = []
        self._turn = asyncio.Lock()  # one statement at a time on the connection
        super().__init__(conn)

    @classmethod
    async def open(cls, conninfo: str, schema: str) -> _CommitConnection:
        conn = await psycopg.AsyncConnection.connect(conninfo, autocommit=True)
        try:
            await conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
            self = cls(conn)
        except BaseException:
            await conn.close()
            raise
        try:
            self._pgconn.send_prepare(cls._NAME, _COMMIT_SHARED_PQ.encode())
            self._check(await self._round_trip())
            self._pgconn.send_prepare(cls._FOLLOW, _COMMITS_AFTER_PQ.encode())
            self._check(await self._round_trip())
        except BaseException:
            await self.close()
            raise
        return self

    async def commit(self, params: dict[str, Any]) -> pq.abc.PGresult:
        """Run the commit statement (text results)."""
        values = [_text_param(params[name]) for name in _COMMIT_PARAMS]
        async with self._turn:
            self._pgconn.send_query_prepared(self._NAME, values)
            return self._check(await self._round_trip())[0]

    async def commits_after(self, ts: int) -> pq.abc.PGresult:
        """The commit log after ``ts`` (binary results: int8, bytea, bool)."""
        async with self._turn:
            self._pgconn.send_query_prepared(self._FOLLOW, [str(ts).encode()], result_format=1)
            return self._check(await self._round_trip())[0]

    async def _round_trip(self) -> list[pq.abc.PGresult]:
        if self.broken:
            raise psycopg.OperationalError("the commit connection was lost")
        waiter: asyncio.Future[list[pq.abc.PGresult]] = self._loop.create_future()
        self._waiter = waiter
        if self._pgconn.flush():  # what the socket did not take goes when it drains
            self._loop.add_writer(self._fd, self._on_writable)
        try:
            return await waiter
        except asyncio.CancelledError:
            self._lose()  # a statement may still be running: never reuse this connection
            raise

    @staticmethod
    def _check(results: list[pq.abc.PGresult]) -> list[pq.abc.PGresult]:
        for result in results:
            if result.status == pq.ExecStatus.FATAL_ERROR:
                message = (result.error_message or b"").decode("utf-8", "replace").strip()
                raise psycopg.DatabaseError(message)
        return results

    def _on_writable(self) -> None:
        try:
            if not self._pgconn.flush():
                self._loop.remove_writer(self._fd)
        except psycopg.Error as e:
            self._fail(e)

    def _on_readable(self) -> None:
        try:
            self._pgconn.consume_input()
            while not self._pgconn.is_busy():
                result = self._pgconn.get_result()
                if result is None:
                    results, self._results = self._results, []
                    waiter, self._waiter = self._waiter, None
                    if waiter is not None and not waiter.done():
                        waiter.set_result(results)
                    break
                self._results.append(result)
        except psycopg.Error as e:
            self._fail(e)

    def _fail(self, error: psycopg.Error) -> None:
        self._lose()
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(error)


def _text_param(value: Any) -> bytes | None:
    if value is None:
        return None
    if value is True or value is False:
        return b"t" if value else b"f"
    return str(value).encode()


class _Listener(_WatchedConnection):
    """LISTEN on a connection of its own, its socket watched by the event loop.

    Processes announce themselves every second (``hello:<id>``); a commit NOTIFYs only
    while another process was heard from in the last few seconds, so with several
    processes notifications arrive at the rate of all their commits, this process's own
    included. Draining them in a reader callback (``consume_input`` and ``notifies`` on
    the libpq connection) costs a few microseconds each, where an ``async for`` over
    psycopg's ``notifies()`` registered and unregistered the socket with the loop for
    every one; our own commits' notifications are dropped there and wake nobody. A
    process that starts learns what was committed before others heard it by its
    one-second poll.
    """

    def __init__(
        self, conn: psycopg.AsyncConnection[Any], own_pids: Callable[[], set[int]], hello: str
    ) -> None:
        self._hello = hello
        self._peer_seen = -PEER_TTL_S
        self._own_pids = own_pids
        self._event = asyncio.Event()
        self._latest = -1
        self._unknown = False
        super().__init__(conn)

    @classmethod
    async def open(
        cls, conninfo: str, channel: str, own_pids: Callable[[], set[int]], hello: str
    ) -> _Listener:
        conn = await psycopg.AsyncConnection.connect(conninfo, autocommit=True)
        try:
            await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
        except BaseException:
            await conn.close()
            raise
        return cls(conn, own_pids, hello)

    def _on_readable(self) -> None:
        try:
            self._pgconn.consume_input()
        except psycopg.Error:
            self._lose()
            self._event.set()
            return
        own = self._own_pids()
        while (note := self._pgconn.notifies()) is not None:
            if note.be_pid in own:
                continue
            payload = note.extra.decode("ascii", "replace")
            if payload.startswith("hello:"):
                if payload != self._hello:
                    self._peer_seen = time.monotonic()
                continue
            if payload.isdigit():
                self._latest = max(self._latest, int(payload))
            else:
                self._unknown = True
            self._event.set()

    def peers_alive(self) -> bool:
        return time.monotonic() - self._peer_seen < PEER_TTL_S

    async def wait(self, timeout: float) -> int | None:
        """The highest timestamp other processes announced since the last call, or None
        after ``timeout`` (or a notification without one): the caller catches up."""
        if not self._event.is_set():
            try:
                await asyncio.wait_for(self._event.wait(), timeout)
            except TimeoutError:
                return None
        self._event.clear()
        if self.broken:
            raise psycopg.OperationalError("the LISTEN connection was lost")
        latest, unknown = self._latest, self._unknown
        self._latest, self._unknown = -1, False
        return None if unknown or latest < 0 else latest


def _bytes(value: Any) -> bytes | None:
    return None if value is None else bytes(value)


async def drop_schema(url: str) -> None:
    """Drop the schema a ``postgresql://...?schema=name`` URL names (tests, tools)."""
    conninfo, schema = split_url(url)
    if schema == "public":
        raise StorageError("Refusing to drop the public schema.")
    try:
        async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as conn:
            await conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
    except psycopg.Error as e:
        raise _error("drop schema", e) from None
