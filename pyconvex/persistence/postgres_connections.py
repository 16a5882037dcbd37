"""The PostgreSQL connections that stay open for a process's life, watched on the loop.

The committer's connection sends the commit statement through libpq directly (prepared
once, binary results; see docs/architecture.md "Several processes on PostgreSQL"), and
the listener follows other processes' commits (``LISTEN``) and their liveness. Both
register their socket with the event loop for the connection's life and are lost and
closed the same way (``_WatchedConnection``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg import pq, sql

from pyconvex.persistence.postgres_sql import (
    _COMMIT_PARAMS,
    _COMMIT_SHARED_PQ,
    _COMMITS_AFTER_PQ,
    PEER_TTL_S,
)


class _WatchedConnection(ABC):
    """A connection of its own whose socket the event loop watches for the connection's
    life, drained by ``_on_readable`` through libpq (the listener, the committer's)."""

    def __init__(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self._conn = conn
        self._pgconn = conn.pgconn
        self.broken = False
        self._loop = asyncio.get_running_loop()
        self._fd = self._pgconn.socket
        self._loop.add_reader(self._fd, self._on_readable)

    @abstractmethod
    def _on_readable(self) -> None: ...

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
