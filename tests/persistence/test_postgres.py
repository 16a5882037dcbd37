"""Following the shared log on PostgreSQL: notifications from other processes wake the
follower at once; this process's own commits do not."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from pyconvex.persistence.base import DocumentLogEntry, LogCommit
from pyconvex.persistence.errors import StorageError
from pyconvex.persistence.postgres import PostgresPersistence
from tests.pg import base_url, drop_schema, pg_url, schema_for


async def _commit(store: PostgresPersistence, ts: int, head: int) -> bool:
    doc = DocumentLogEntry(ts, f"doc{ts}", 10001, b"{}")
    return await store.commit_shared([doc], [], [LogCommit(ts, ((1, b"k"),))], head)


async def test_other_processes_commits_wake_the_follower_own_do_not(tmp_path: Path):
    url = pg_url(schema_for(tmp_path))
    a = await PostgresPersistence.open(url)
    b = await PostgresPersistence.open(url)
    try:
        # Listening from here on; each announces itself, so the other notifies it.
        assert await a.wait_for_commits(0.05) is None
        assert await b.wait_for_commits(0.05) is None
        assert await _commit(a, 10, 0)
        # b hears of a's commit well before its poll interval would have told it.
        start = time.monotonic()
        assert await b.wait_for_commits(5.0) == 10
        assert time.monotonic() - start < 1.0
        # a's own notification is dropped: a keeps waiting until the timeout.
        assert await a.wait_for_commits(0.3) is None
        # Several commits while nobody waits: one wake-up with the highest timestamp.
        assert await _commit(a, 11, 10) and await _commit(a, 12, 11)
        await asyncio.sleep(0.2)
        assert await b.wait_for_commits(5.0) == 12
        assert await b.wait_for_commits(0.1) is None
        assert [c.ts for c in await b.commits_after(10)] == [11, 12]
    finally:
        await a.close()
        await b.close()
        await drop_schema(schema_for(tmp_path))


async def test_a_process_alone_commits_without_notifying(tmp_path: Path):
    url = pg_url(schema_for(tmp_path))
    a = await PostgresPersistence.open(url)
    watcher = await psycopg.AsyncConnection.connect(base_url(), autocommit=True)
    try:
        await watcher.execute(sql.SQL("LISTEN {}").format(sql.Identifier(a.channel)))
        assert await a.wait_for_commits(0.05) is None  # a listens and says hello
        assert await _commit(a, 10, 0)
        payloads = [n.payload async for n in watcher.notifies(timeout=0.5)]
        assert payloads and all(p.startswith("hello:") for p in payloads)  # no commit ts
        # Once another process is heard from, commits are announced.
        await watcher.execute("SELECT pg_notify(%s, 'hello:someone-else')", (a.channel,))
        await asyncio.sleep(0.1)
        assert await _commit(a, 11, 10)
        payloads = [n.payload async for n in watcher.notifies(timeout=0.5)]
        assert "11" in payloads
    finally:
        await watcher.close()
        await a.close()
        await drop_schema(schema_for(tmp_path))


async def test_a_failed_commit_writes_nothing_and_the_next_one_commits(tmp_path: Path):
    """The commit statement goes through libpq directly: a statement PostgreSQL refuses
    is a StorageError naming the cause, leaves the head and the log as they were, and
    the next commit (on a new connection) goes through."""
    url = pg_url(schema_for(tmp_path))
    store = await PostgresPersistence.open(url)
    try:
        assert await _commit(store, 10, 0)
        duplicate = DocumentLogEntry(10, "doc10", 10001, b"{}")
        fresh = DocumentLogEntry(11, "doc11", 10001, b"{}")
        with pytest.raises(StorageError, match="duplicate key"):
            await store.commit_shared([fresh, duplicate], [], [LogCommit(11, ())], 10)
        assert await store.max_ts() == 10
        assert await store.get_document("doc11", 11) is None
        assert [c.ts for c in await store.commits_after(0)] == [10]
        assert await _commit(store, 11, 10)
        assert await store.max_ts() == 11
        assert not await _commit(store, 12, 10)  # a stale head commits nothing
        assert await store.get_document("doc12", 12) is None
    finally:
        await store.close()
        await drop_schema(schema_for(tmp_path))


async def test_a_lost_commit_connection_is_replaced_at_the_next_commit(tmp_path: Path):
    """PostgreSQL ends the committer's connection between commits (a restart, an
    administrator): the loop stops watching its socket at once (no busy wake-ups on a
    dead socket) and the next commit opens a new connection and goes through."""
    url = pg_url(schema_for(tmp_path))
    store = await PostgresPersistence.open(url)
    admin = await psycopg.AsyncConnection.connect(base_url(), autocommit=True)
    try:
        assert await _commit(store, 10, 0)
        old_pid = next(iter(store._own_pids()))
        await admin.execute("SELECT pg_terminate_backend(%s)", (old_pid,))
        cpu = time.process_time()
        await asyncio.sleep(0.5)
        assert time.process_time() - cpu < 0.2
        assert store._own_pids() == set()  # seen as lost, not yet replaced
        assert await _commit(store, 11, 10)
        assert store._own_pids() and store._own_pids() != {old_pid}
        assert [c.ts for c in await store.commits_after(0)] == [10, 11]
    finally:
        await admin.close()
        await store.close()
        await drop_schema(schema_for(tmp_path))
