"""Baselines that pyconvex figures are compared against, measured in the same run.

``raw_sqlite_single_doc_commits``: separate durable transactions (WAL,
``synchronous=FULL``), each inserting one document row and two index rows in the same
table shapes pyconvex uses. This is what one-commit-per-mutation would cost; group
commit has to beat it.
"""

from __future__ import annotations

import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

DDL = """
CREATE TABLE documents (id TEXT, ts INTEGER, table_number INTEGER, value BLOB,
    prev_ts INTEGER, PRIMARY KEY (id, ts)) WITHOUT ROWID;
CREATE INDEX documents_by_ts ON documents (ts, id);
CREATE TABLE indexes (index_id INTEGER, key BLOB, ts INTEGER, doc_id TEXT,
    PRIMARY KEY (index_id, key, ts)) WITHOUT ROWID;
"""


def raw_sqlite_single_doc_commits(path: str | Path, n: int) -> float:
    """Commits per second of ``n`` single-document transactions."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.executescript(DDL)
    value = b'{"body":"' + b"x" * 100 + b'"}'
    start = time.perf_counter()
    for _ in range(n):
        doc_id = os.urandom(16).hex()
        ts = time.time_ns()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(
            "INSERT INTO documents VALUES (?, ?, ?, ?, NULL)", (doc_id, ts, 10001, value)
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


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    with tempfile.TemporaryDirectory() as tmp:
        rate = raw_sqlite_single_doc_commits(Path(tmp) / "raw.sqlite3", n)
    print(f"raw SQLite single-document commits/s: {rate:,.0f}")
