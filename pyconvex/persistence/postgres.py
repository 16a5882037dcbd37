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
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

import psycopg
from psycopg import pq, sql
from psycopg_pool import AsyncConnectionPool

from pyconvex.persistence.base import (
    DocumentLogEntry,
    IndexEntry,
    IndexRow,
    LogCommit,
    Order,
    SessionRequestRow,
)
from pyconvex.persistence.errors import StorageError
from pyconvex.persistence.postgres_connections import (
    _bytes,
    _CommitConnection,
    _Listener,
)
from pyconvex.persistence.postgres_sql import (
    _DELETE_SESSION_REQUESTS,
    _GET_DOCUMENT,
    _GET_GLOBAL,
    _GET_SESSION_REQUEST,
    _LOAD_DOCUMENTS_FIRST,
    _LOAD_DOCUMENTS_NEXT,
    _LOAD_INDEX_FIRST,
    _LOAD_INDEX_NEXT,
    _MAX_TS,
    _OLD_COMMITS,
    _OLD_DOCUMENTS,
    _OLD_INDEX_ENTRIES,
    _OLDEST_SESSION_REQUESTS,
    _SCANS,
    _SET_GLOBAL,
    _TABLES,
    _TS_MAX,
    _WRITE,
    CHUNK,
    HELLO_EVERY_S,
    _batch_params,
    _bools,
    _byteas,
    _error,
    _ints,
    decode_written,
    encode_written,
    session_params,
    split_url,
)


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
        session_requests: Sequence[SessionRequestRow] = (),
    ) -> bool:
        self._check_open()
        high = max(c.ts for c in commits)
        params = {
            **_batch_params(documents, indexes),
            **session_params(session_requests),
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

    async def delete_session_requests_through(self, ts: int) -> int:
        self._check_open()
        try:
            async with self.pool.connection() as conn, conn.cursor() as cur:
                await cur.execute(_DELETE_SESSION_REQUESTS, (ts,))
                return int(max(cur.rowcount, 0))
        except psycopg.Error as e:
            raise _error("session request retention", e) from None

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

    async def get_session_request(self, session_id: str, request_id: int) -> SessionRequestRow | None:
        rows = await self._run("read", _GET_SESSION_REQUEST, (session_id, request_id))
        if not rows:
            return None
        ts, created, record = rows[0]
        return SessionRequestRow(ts, session_id, request_id, created, bytes(record))

    async def oldest_session_requests(self, limit: int) -> list[SessionRequestRow]:
        rows = await self._run("read", _OLDEST_SESSION_REQUESTS, (limit,))
        return [SessionRequestRow(r[0], r[1], r[2], r[3], bytes(r[4])) for r in rows]

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
