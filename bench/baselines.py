"""Baselines that pyconvex figures are compared against, and the SQLite persistence figures.

    .venv/bin/python bench/baselines.py [N]

``raw_sqlite_single_doc_commits``: separate durable transactions (WAL,
``synchronous=FULL``), each inserting one document row and two index rows in the same
table shapes pyconvex uses. This is what one-commit-per-mutation would cost; group
commit has to beat it.

``persistence_figures``: what ``SqlitePersistence`` does on the same machine, measured in
the same run: a batch of 100 commits (one fsync) against the baseline above; point
reads and a 1,000-key index scan over a 100,000-document store; and the same point
read answered inline on the event loop against a hop to a thread and back. The last
one is why reads run inline (see ``pyconvex/persistence/sqlite.py``).
"""

from __future__ import annotations

import asyncio
import os
import random
import sqlite3
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

DDL = """
CREATE TABLE documents (id TEXT, ts INTEGER, table_number INTEGER, value BLOB,
    prev_ts INTEGER, PRIMARY KEY (id, ts)) WITHOUT ROWID;
CREATE INDEX documents_by_ts ON documents (ts, id);
CREATE TABLE indexes (index_id INTEGER, key BLOB, ts INTEGER, doc_id TEXT,
    PRIMARY KEY (index_id, key, ts)) WITHOUT ROWID;
"""
VALUE = b'{"body":"' + b"x" * 100 + b'"}'


def raw_sqlite_single_doc_commits(path: str | Path, n: int) -> float:
    """Commits per second of ``n`` single-document transactions."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.executescript(DDL)
    start = time.perf_counter()
    for _ in range(n):
        doc_id = os.urandom(16).hex()
        ts = time.time_ns()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(
            "INSERT INTO documents VALUES (?, ?, ?, ?, NULL)", (doc_id, ts, 10001, VALUE)
        )
        conn.execute("INSERT INTO indexes VALUES (?, ?, ?, ?)", (1, doc_id.encode(), ts, doc_id))
        conn.execute(
            "INSERT INTO indexes VALUES (?, ?, ?, ?)",
            (2, str(ts).encode() + doc_id.encode(), ts, doc_id),
        )
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return n / elapsed


def _commit(ts: int) -> tuple[Any, list[Any]]:
    from pyconvex.persistence.base import DocumentLogEntry, IndexEntry

    doc_id = os.urandom(16).hex()
    key = doc_id.encode()
    return DocumentLogEntry(ts, doc_id, 10001, VALUE), [
        IndexEntry(1, key, ts, doc_id),
        IndexEntry(2, ts.to_bytes(8, "big") + key, ts, doc_id),
    ]


async def _per_call_us(fn: Callable[[], Awaitable[Any]], n: int, runs: int = 5) -> float:
    """Best of ``runs`` mean latencies, in microseconds."""
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        for _ in range(n):
            await fn()
        best = min(best, (time.perf_counter() - start) / n * 1e6)
    return best


async def persistence_figures(directory: Path, docs: int = 100_000) -> dict[str, float]:
    """SqlitePersistence figures; see the module docstring."""
    from pyconvex.persistence.sqlite import SqlitePersistence

    out: dict[str, float] = {}
    store = await SqlitePersistence.open(directory / "pyconvex.sqlite3")
    try:
        ts = 0
        for label, per_batch, batches in (("single", 1, 500), ("batch100", 100, 50)):
            start = time.perf_counter()
            for _ in range(batches):
                documents, indexes = [], []
                for _ in range(per_batch):
                    ts += 1
                    d, i = _commit(ts)
                    documents.append(d)
                    indexes.extend(i)
                await store.write(documents, indexes)
            out[f"{label}_commits_per_s"] = per_batch * batches / (time.perf_counter() - start)
        while ts < docs:  # fill up to `docs` documents, quickly
            documents, indexes = [], []
            for _ in range(min(5000, docs - ts)):
                ts += 1
                d, i = _commit(ts)
                documents.append(d)
                indexes.extend(i)
            await store.write(documents, indexes)
        ids = [e.id async for e in store.load_documents(0)]
        rng = random.Random(1)

        async def point_lookup() -> Any:
            key = rng.choice(ids).encode()
            return await store.index_scan(1, key, key + b"\x00", ts, "asc", 1)

        out["get_document_us"] = await _per_call_us(
            lambda: store.get_document(rng.choice(ids), ts), 20_000
        )
        out["index_point_lookup_us"] = await _per_call_us(point_lookup, 20_000)
        out["scan_1000_keys_ms"] = (
            await _per_call_us(lambda: store.index_scan(1, b"", None, ts, "asc", 1000), 100)
            / 1000
        )
        out["scan_1000_keys_desc_ms"] = (
            await _per_call_us(lambda: store.index_scan(1, b"", None, ts, "desc", 1000), 100)
            / 1000
        )
        out["thread_hop_get_document_us"] = await _thread_hop_us(
            directory / "pyconvex.sqlite3", ids, ts
        )
    finally:
        await store.close()
    return out


async def _thread_hop_us(path: Path, ids: list[str], ts: int) -> float:
    """The same read as ``get_document``, sent to a thread that owns a connection and
    answered with ``call_soon_threadsafe`` (the aiosqlite / datasette shape)."""
    import queue

    loop = asyncio.get_running_loop()
    jobs: queue.SimpleQueue[tuple[str, asyncio.Future[Any]] | None] = queue.SimpleQueue()

    def worker() -> None:
        conn = sqlite3.connect(path, check_same_thread=False)
        while (job := jobs.get()) is not None:
            doc_id, fut = job
            row = conn.execute(
                "SELECT ts, table_number, value, prev_ts FROM documents "
                "WHERE id = ? AND ts <= ? ORDER BY ts DESC LIMIT 1",
                (doc_id, ts),
            ).fetchone()
            loop.call_soon_threadsafe(fut.set_result, row)
        conn.close()

    thread = threading.Thread(target=worker, daemon=True)
    thread.start()
    rng = random.Random(2)

    def hop() -> asyncio.Future[Any]:
        fut: asyncio.Future[Any] = loop.create_future()
        jobs.put((rng.choice(ids), fut))
        return fut

    try:
        return await _per_call_us(hop, 20_000)
    finally:
        jobs.put(None)
        thread.join()


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    with tempfile.TemporaryDirectory() as tmp:
        rate = raw_sqlite_single_doc_commits(Path(tmp) / "raw.sqlite3", n)
        figures = asyncio.run(persistence_figures(Path(tmp)))
    print(f"raw SQLite single-document commits/s: {rate:,.0f}")
    for name, value in figures.items():
        print(f"SqlitePersistence {name}: {value:,.1f}")
