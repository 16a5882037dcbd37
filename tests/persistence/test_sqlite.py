"""SQLite specifics: one process per file, durability settings, crash safety, the SQL plan."""

from __future__ import annotations

import asyncio
import os
import random
import sqlite3
import subprocess
import sys
import textwrap
import time
from contextlib import closing
from pathlib import Path

import pytest

from pyconvex.errors import ErrorCode
from pyconvex.persistence import DocumentLogEntry as D
from pyconvex.persistence import IndexEntry as I
from pyconvex.persistence import sqlite_schema, sqlite_writer
from pyconvex.persistence.errors import DeploymentLockedError, StorageError
from pyconvex.persistence.sqlite import _SCANS, SqlitePersistence
from pyconvex.values.types import Id


def writer_processes() -> list[int]:
    """This process's live SQLite writer children."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == os.getpid() and fields[0] != "Z" and b"sqlite_writer" in cmdline:
            pids.append(int(entry.name))
    return pids


# --- one process per file ------------------------------------------------------------------

async def test_second_open_in_this_process_is_refused_until_closed(tmp_path: Path):
    path = tmp_path / "db.sqlite3"
    first = await SqlitePersistence.open(path)
    with pytest.raises(DeploymentLockedError) as info:
        await SqlitePersistence.open(str(path))
    message = str(info.value)
    assert str(path) in message and "another pyconvex process" in message
    assert info.value.code is ErrorCode.BAD_REQUEST and info.value.short_msg == "DeploymentLocked"
    await first.close()
    second = await SqlitePersistence.open(path)
    await second.close()


async def test_open_from_another_process_is_refused(tmp_path: Path):
    path = tmp_path / "db.sqlite3"
    store = await SqlitePersistence.open(path)
    try:
        code = textwrap.dedent(f"""
            import asyncio, sys
            from pyconvex.persistence.errors import DeploymentLockedError
            from pyconvex.persistence.sqlite import SqlitePersistence
            try:
                asyncio.run(SqlitePersistence.open({str(path)!r}))
            except DeploymentLockedError as e:
                print(e)
                sys.exit(3)
        """)
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", code, stdout=asyncio.subprocess.PIPE
        )
        out, _ = await proc.communicate()
        assert proc.returncode == 3
        assert "another pyconvex process" in out.decode() and str(path) in out.decode()
    finally:
        await store.close()


# --- settings and layout ---------------------------------------------------------------------

async def test_wal_full_sync_and_layout_version_on_both_connections(tmp_path: Path):
    path = tmp_path / "db.sqlite3"
    store = await SqlitePersistence.open(path)
    pragmas = ("journal_mode", "synchronous", "busy_timeout", "user_version", "query_only")
    try:
        on_writer = await store._writer.call("pragmas")  # in the writer process
        on_reader = {p: store._reader.execute(f"PRAGMA {p}").fetchone()[0] for p in pragmas}
    finally:
        await store.close()
    expected = {"journal_mode": "wal", "synchronous": 2, "busy_timeout": 10000,
                "user_version": sqlite_schema.SCHEMA_VERSION}  # synchronous 2 == FULL
    assert on_writer == {**expected, "query_only": 0}
    assert on_reader == {**expected, "query_only": 1}


def old_file(path: Path, version: int, *statements: str) -> None:
    """A file of layout ``version`` holding document a@7 and an index entry @9."""
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.executescript(sqlite_schema._V1 + (sqlite_schema._V2 if version > 1 else ""))
        conn.execute("INSERT INTO documents VALUES ('a', 7, 1, x'00', NULL)")
        conn.execute("INSERT INTO indexes VALUES (1, x'01', 9, 'a')")
        for statement in statements:
            conn.execute(statement)
        conn.execute(f"PRAGMA user_version={version}")


async def reopened_max_ts(path: Path) -> int:
    store = await SqlitePersistence.open(path)
    try:
        return await store.max_ts()
    finally:
        await store.close()


async def test_a_version_1_file_is_upgraded_in_place(tmp_path: Path):
    path = tmp_path / "db.sqlite3"
    old_file(path, 1)
    store = await SqlitePersistence.open(path)
    try:
        assert await store.max_ts() == 9
        assert (await store.get_document("a", 7)) == D(7, "a", 1, b"\x00")
    finally:
        await store.close()


async def test_a_version_2_file_is_upgraded_in_place(tmp_path: Path):
    """Version 2 kept the head in ``persistence_max_ts``; version 3 keeps only a floor
    there (the head is the newest document's timestamp unless the row says more). A
    version 2 file whose head is above every row it holds (retention deleted the newest
    tombstone) keeps that head, and later commits raise it without the row."""
    path = tmp_path / "db.sqlite3"
    old_file(path, 2, "INSERT INTO persistence_max_ts VALUES (0, 12)")
    store = await SqlitePersistence.open(path)
    try:
        assert await store.max_ts() == 12
        await store.write([D(13, "b", 1, b"\x01")], [I(1, b"\x02", 13, "b")])
        assert await store.max_ts() == 13
    finally:
        await store.close()
    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == sqlite_schema.SCHEMA_VERSION
        assert conn.execute("SELECT ts FROM persistence_max_ts").fetchall() == [(12,)]
    assert await reopened_max_ts(path) == 13


async def test_the_committers_transactions_leave_the_head_row_alone(tmp_path: Path):
    """A commit group whose last commit writes a document carries its head in
    ``documents``: no ``persistence_max_ts`` row is written (one WAL page less per
    transaction). A group ending in index entries alone raises the row. Values and keys
    are stored as blobs, and a new document's prev_ts as NULL, as before."""
    path = tmp_path / "db.sqlite3"
    store = await SqlitePersistence.open(path)
    try:
        done: list[BaseException | None] = []
        store.write_commits_then(
            [(5, [("a", 1, b"{}", None)], [(2, b"ka", "a")], None),
             (6, [("a", 1, b"{1}", 5), ("b", 1, None, None)], [(2, b"ka", None)], None)],
            done.append,
        )
        await store.write([], [])
        while not done:
            await asyncio.sleep(0.001)
        assert done == [None]
        assert await store.max_ts() == 6
        with closing(sqlite3.connect(path)) as conn:
            assert conn.execute("SELECT * FROM persistence_max_ts").fetchall() == []
            rows = conn.execute(
                "SELECT id, ts, typeof(value), prev_ts FROM documents ORDER BY id, ts"
            ).fetchall()
            assert rows == [("a", 5, "blob", None), ("a", 6, "blob", 5), ("b", 6, "null", None)]
            keys = conn.execute("SELECT typeof(key), ts, doc_id FROM indexes").fetchall()
            assert keys == [("blob", 5, "a"), ("blob", 6, None)]
        assert [e async for e in store.load_documents(0)] == [
            D(5, "a", 1, b"{}"), D(6, "a", 1, b"{1}", 5), D(6, "b", 1, None)]
        store.write_commits_then(
            [(7, [("c", 1, b"{}", None)], [], None), (8, [], [(3, b"k", "c")], None)],
            done.append
        )
        while len(done) < 2:
            await asyncio.sleep(0.001)
        assert done == [None, None]
        assert await store.max_ts() == 8
        with closing(sqlite3.connect(path)) as conn:
            assert conn.execute("SELECT ts FROM persistence_max_ts").fetchall() == [(8,)]
    finally:
        await store.close()


async def test_retention_never_moves_the_head_back(tmp_path: Path):
    """Deleting the newest document (a tombstone nothing older is left of) must not
    lower the head: the next process would hand out timestamps at or below it."""
    path = tmp_path / "db.sqlite3"
    store = await SqlitePersistence.open(path)
    try:
        await store.write([D(1, "a", 1, b"x")], [I(1, b"k", 1, "a")])
        await store.write([D(2, "a", 1, None, 1)], [I(1, b"k", 2, None)])
        while await store.delete_versions_before(10, 100):
            pass
        assert [e async for e in store.load_documents(0)] == []
        assert await store.max_ts() == 2
    finally:
        await store.close()
    assert await reopened_max_ts(path) == 2


async def test_a_newer_layout_is_refused_and_the_lock_released(tmp_path: Path):
    path = tmp_path / "db.sqlite3"
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA user_version=99")
    with pytest.raises(StorageError, match="newer pyconvex"):
        await SqlitePersistence.open(path)
    assert writer_processes() == []
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA user_version=0")
    store = await SqlitePersistence.open(path)  # not DeploymentLocked: the lock was freed
    await store.close()


async def test_a_missing_directory_is_a_storage_error(tmp_path: Path):
    with pytest.raises(StorageError, match="Cannot open"):
        await SqlitePersistence.open(tmp_path / "missing" / "db.sqlite3")


async def test_close_stops_the_writer_process(tmp_path: Path):
    store = await SqlitePersistence.open(tmp_path / "db.sqlite3")
    assert len(writer_processes()) == 1
    await asyncio.gather(store.close(), store.close())
    assert writer_processes() == []


# --- errors never leave as sqlite3 errors ------------------------------------------------------

@pytest.mark.parametrize(
    "entry",
    [
        D(2**63, "a", 1, b"x"),  # beyond int64: OverflowError in the driver
        D(1, "a", 1, {"not": "bytes"}),  # type: ignore[arg-type]  # ProgrammingError
    ],
    ids=["ts-overflow", "unsupported-type"],
)
async def test_driver_errors_become_storage_errors(tmp_path: Path, entry: D):
    store = await SqlitePersistence.open(tmp_path / "db.sqlite3")
    try:
        with pytest.raises(StorageError, match="SQLite write failed") as info:
            await store.write([entry], [])
        assert not isinstance(info.value.__cause__, sqlite3.Error)
        assert await store.max_ts() == 0
        with pytest.raises(StorageError, match="SQLite read failed"):
            await store.get_document("a", 2**64)
    finally:
        await store.close()


async def test_values_marshal_refuses_still_reach_the_writer(tmp_path: Path):
    """Frames to the writer are marshal data; a value marshal refuses (a ``str``
    subclass such as an ``Id``) goes as a pickle, and commits like any other."""
    store = await SqlitePersistence.open(tmp_path / "db.sqlite3")
    try:
        await store.write([D(1, Id("a"), 1, b"x")], [I(3, b"k", 1, Id("a"))])
        await store.write([D(2, "b", 1, b"y")], [])
        assert (await store.get_document("a", 10)).value == b"x"
        assert [e async for e in store.load_index_entries(3)] == [I(3, b"k", 1, "a")]
        assert await store.max_ts() == 2
    finally:
        await store.close()


async def test_a_cancelled_write_still_commits_and_the_writer_survives(tmp_path: Path):
    store = await SqlitePersistence.open(tmp_path / "db.sqlite3")
    try:
        batch = [D(ts, f"d{ts}", 1, b"x" * 100) for ts in range(1, 5000)]
        task = asyncio.ensure_future(store.write(batch, []))
        await asyncio.sleep(0)  # handed to the writer thread
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await store.write([D(5000, "z", 1, b"z")], [])  # queued behind it: both done
        assert await store.max_ts() == 5000
        assert (await store.get_document("d4999", 5000)) is not None
    finally:
        await store.close()


@pytest.mark.parametrize("size", [10, 5000], ids=["small", "large"])
async def test_a_batch_is_all_or_nothing(tmp_path: Path, size: int):
    """A failing row, the last of the batch, undoes every row and index entry before it
    and leaves the head where it was."""
    store = await SqlitePersistence.open(tmp_path / "db.sqlite3")
    try:
        batch = [D(ts, f"d{ts}", 1, b"x") for ts in range(1, size)] + [D(1, "d1", 1, b"dup")]
        with pytest.raises(StorageError, match="UNIQUE constraint failed"):
            await store.write(batch, [])
        assert await store.max_ts() == 0
        assert await store.get_document("d2", 10**6) is None
        await store.write(batch[:-1], [I(7, b"k", size - 1, "d1")])
        assert await store.max_ts() == size - 1
        assert (await store.get_document("d1", 10**6)).value == b"x"
        assert [e async for e in store.load_index_entries(7)] == [I(7, b"k", size - 1, "d1")]
    finally:
        await store.close()


async def test_batches_waiting_together_commit_together_and_a_bad_one_fails_alone(
    tmp_path: Path,
):
    """The writer process commits every batch already queued in one transaction; if that
    transaction fails, it retries each batch alone, so only the bad one's caller fails."""
    store = await SqlitePersistence.open(tmp_path / "db.sqlite3")
    try:
        await store.write([D(1, "a", 1, b"x")], [])
        results = await asyncio.gather(
            store.write([D(2, "b", 1, b"x")], []),
            store.write([D(1, "a", 1, b"duplicate")], [I(1, b"k", 1, "a")]),
            store.write([D(3, "c", 1, b"x")], [I(1, b"k", 3, "c")]),
            return_exceptions=True,
        )
        assert results[0] is None and results[2] is None
        assert isinstance(results[1], StorageError)
        assert "UNIQUE constraint failed" in str(results[1])
        assert await store.max_ts() == 3
        assert (await store.get_document("a", 10)).value == b"x"
        assert [e async for e in store.load_index_entries(1)] == [I(1, b"k", 3, "c")]
    finally:
        await store.close()


async def test_batches_are_applied_in_call_order(tmp_path: Path):
    """What lets the committer hand over a group while the previous one is written."""
    store = await SqlitePersistence.open(tmp_path / "db.sqlite3")
    try:
        assert store.write_pipeline > 1
        first = store.write([D(ts, f"a{ts}", 1, b"x" * 100) for ts in range(1, 3000)], [])
        second = store.write([D(3000, "b", 1, b"y")], [])
        await second
        assert first.done() and first.exception() is None
        assert await store.max_ts() == 3000
    finally:
        await store.close()


async def test_requests_larger_than_the_writers_receive_buffer_all_commit_intact(
    tmp_path: Path,
):
    """The child receives into a buffer of fixed size: what one event-loop step sends
    can be several times larger (big values, many batches), and every batch must still
    commit whole, with its own rows and index entries, and be acknowledged in order."""
    store = await SqlitePersistence.open(tmp_path / "db.sqlite3")
    try:
        size = sqlite_writer._Inbox.SIZE
        values = {ts: random.randbytes(size // 3 + ts) for ts in range(1, 13)}
        order: list[int] = []
        futures = []
        for ts, value in values.items():
            future = store.write([D(ts, f"d{ts}", 1, value)], [I(5, b"k%02d" % ts, ts, f"d{ts}")])
            future.add_done_callback(lambda _, ts=ts: order.append(ts))
            futures.append(future)
        assert await asyncio.gather(*futures) == [None] * len(values)
        assert order == sorted(values)
        assert await store.max_ts() == max(values)
        for ts, value in values.items():
            assert (await store.get_document(f"d{ts}", 10**6)).value == value
        entries = [e async for e in store.load_index_entries(5)]
        assert entries == [I(5, b"k%02d" % ts, ts, f"d{ts}") for ts in sorted(values)]
    finally:
        await store.close()


# --- the scan's plan -------------------------------------------------------------------------

async def test_scans_seek_primary_keys_and_never_sort(tmp_path: Path):
    store = await SqlitePersistence.open(tmp_path / "db.sqlite3")
    try:
        for (order, bounded), sql in _SCANS.items():
            params = {"index": 1, "lo": b"", "hi": b"\xff", "ts": 1, "limit": 10}
            plan = [row[3] for row in store._reader.execute("EXPLAIN QUERY PLAN " + sql, params)]
            text = "\n".join(plan)
            assert "TEMP B-TREE" not in text, (order, bounded, text)
            assert all(not step.startswith("SCAN") for step in plan), (order, bounded, text)
            assert "SEARCH i USING PRIMARY KEY (index_id=? AND key>?" in text
            assert "SEARCH indexes USING PRIMARY KEY (index_id=? AND key=? AND ts<?)" in text
            assert "SEARCH documents USING PRIMARY KEY (id=? AND ts<?)" in text
    finally:
        await store.close()


# --- crash safety ------------------------------------------------------------------------------

WRITER = textwrap.dedent("""
    import asyncio, sys
    from pyconvex.persistence import DocumentLogEntry as D, IndexEntry as I
    from pyconvex.persistence.sqlite import SqlitePersistence

    async def main(path, per_batch):
        store = await SqlitePersistence.open(path)
        ts = 0
        while True:
            first = ts + 1
            docs = [D(t, f"d{t}", 1, b"v" * 50) for t in range(first, first + per_batch)]
            keys = [I(1, b"%020d" % t, t, f"d{t}") for t in range(first, first + per_batch)]
            await store.write(docs, keys)
            ts = first + per_batch - 1
            print(ts, flush=True)

    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
""")


@pytest.mark.slow
@pytest.mark.parametrize("round_", range(3))
async def test_every_acknowledged_batch_survives_sigkill(tmp_path: Path, round_: int):
    path = tmp_path / "db.sqlite3"
    per_batch = 7
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), str(per_batch)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout is not None
        first_line = proc.stdout.readline()  # the store is open and writing
        assert first_line.strip(), proc.stderr.read() if proc.stderr else ""
        time.sleep(random.uniform(0.05, 0.6))
        proc.kill()  # SIGKILL: no cleanup, no close()
        proc.wait()
        acknowledged = [int(first_line), *(int(line) for line in proc.stdout.read().split())]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
    assert acknowledged == list(range(per_batch, acknowledged[-1] + 1, per_batch))
    store = await SqlitePersistence.open(path)  # the kernel dropped the dead process's lock
    try:
        stored = [e.ts async for e in store.load_documents(0)]
        keyed = [int(r.key) for r in await store.index_scan(1, b"", None, 2**62, "asc", 10**6)]
        max_ts = await store.max_ts()
    finally:
        await store.close()
    # Every acknowledged batch is there; at most one more (committed, not yet printed);
    # nothing of a batch that did not commit.
    assert max_ts in (acknowledged[-1], acknowledged[-1] + per_batch)
    assert stored == list(range(1, max_ts + 1))
    assert keyed == stored


def _writers_of(path: Path) -> list[int]:
    return [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()
            and "sqlite_writer" in _cmdline(p) and _cmdline(p).endswith(f" {path}")]


def _cmdline(proc: Path) -> str:
    try:
        return (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return ""


@pytest.mark.slow
async def test_the_writer_process_exits_when_its_parent_is_killed(tmp_path: Path):
    path = tmp_path / "db.sqlite3"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path), "3"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip()
        assert len(_writers_of(path)) == 1
        proc.kill()
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
    deadline = time.monotonic() + 10
    while _writers_of(path) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _writers_of(path) == []  # no orphan keeps writing (or holding the file)


async def _record(store: SqlitePersistence, ts: int, session_id: str, request_id: int) -> None:
    """A commit carrying only a session request record, as the committer hands it over."""
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    store.write_commits_then(
        [(ts, [], [], (session_id, request_id, float(ts), b"r%d" % ts))],
        lambda e: done.set_exception(e) if e is not None else done.set_result(None))
    await done


async def _settle(store: SqlitePersistence) -> None:
    """Everything queued on the writer before this call (an indexing batch) is done."""
    await store.set_global("settle", "1")
    await asyncio.sleep(0)


def _keys(path: Path) -> list[tuple[str, int, int]]:
    with closing(sqlite3.connect(path)) as conn:
        return conn.execute(
            "SELECT session_id, request_id, ts FROM session_request_keys ORDER BY ts").fetchall()


async def test_session_request_keys_go_in_by_batch_and_every_request_is_found(tmp_path: Path):
    """A request's lookup key is written with its batch (here 3 requests), not with its
    commit; before that the persistence finds it from memory, also after a reopen (it
    reads back every row past the watermark), and a duplicate never shadows the first."""
    path = tmp_path / "db.sqlite3"
    store = await SqlitePersistence.open(path, session_index_batch=3)
    try:
        await _record(store, 1, "a", 1)
        await _record(store, 2, "b", 1)
        await _settle(store)
        assert _keys(path) == []  # not a batch yet: found from memory
        assert [(await store.get_session_request(s, 1)).ts for s in "ab"] == [1, 2]  # type: ignore[union-attr]
        await _record(store, 3, "a", 2)
        await _settle(store)
        assert _keys(path) == [("a", 1, 1), ("b", 1, 2), ("a", 2, 3)]
        assert await store.get_global("session_requests_indexed_through") == "3"
        await _record(store, 4, "c", 1)
        await _record(store, 5, "a", 1)  # a duplicate of request ("a", 1)
        await _settle(store)
        assert len(_keys(path)) == 3
    finally:
        await store.close()
    again = await SqlitePersistence.open(path, session_index_batch=3)
    try:
        found = {(s, r): await again.get_session_request(s, r)
                 for s, r in (("a", 1), ("b", 1), ("a", 2), ("c", 1))}
        assert {k: (row.ts, row.record) for k, row in found.items() if row is not None} == {
            ("a", 1): (1, b"r1"), ("b", 1): (2, b"r2"), ("a", 2): (3, b"r3"), ("c", 1): (4, b"r4")}
        assert await again.get_session_request("c", 2) is None
        await _record(again, 6, "d", 1)  # three past the watermark again: a batch
        await _settle(again)
        assert _keys(path)[3:] == [("c", 1, 4), ("d", 1, 6)]  # ("a", 1) keeps its first
        assert (await again.get_session_request("a", 1)).ts == 1  # type: ignore[union-attr]
        # Retention deletes rows and keys alike, indexed or not.
        assert await again.delete_session_requests_through(4) == 4
        assert await again.get_session_request("c", 1) is None
        assert (await again.get_session_request("d", 1)).ts == 6  # type: ignore[union-attr]
        assert [k[:2] for k in _keys(path)] == [("d", 1)]
    finally:
        await again.close()
