"""The SQLite file's layout, its upgrades, and the connection settings it needs.

Kept apart from ``sqlite.py`` so the layout can be read (and changed) in one place:

- ``documents``: one row per document version, primary key ``(id, ts)``, so "the newest
  version of this id at or below ts" is one seek. The ``(ts, id)`` index serves log
  following (``load_documents``).
- ``indexes``: one row per index-key version, primary key ``(index_id, key, ts)``, so a
  range scan walks keys in byte order and "the newest entry of this key at or below ts"
  is one seek. ``WITHOUT ROWID`` stores rows in the primary key's B-tree: no second
  lookup.
- ``persistence_globals``: deployment metadata outside the log.
- ``persistence_max_ts``: one row, a floor under the head (the largest timestamp ever
  written). The head is ``MAX(ts)`` of ``documents`` (one seek at the end of
  ``documents_by_ts``) or this row, whichever is larger. The row is raised only where
  the documents do not carry the head: a transaction whose newest timestamp is an index
  entry's alone (a backfill, a migration), and retention, which pins the newest
  document's timestamp before it deletes (a deleted newest tombstone must not move the
  head back). Every insert, patch and delete writes a document, so the committer's
  transactions leave the row alone: before version 3 each rewrote it, one more WAL page
  per transaction (``MAX(ts)`` over ``indexes`` would be a full scan: its key starts with
  ``index_id``).
- ``session_requests``: the outcome of each sync-session mutation, for replays (layout
  4; see ``base.SessionRequestRow``). The rowid is the commit's timestamp, so rows are
  appended at the B-tree's right edge and retention deletes a leading rowid range.
  ``session_request_keys`` maps ``(session_id, request_id)`` to that timestamp for a
  resend's lookup. It is filled in batches, not per commit (``sqlite.py``: the rows after
  the ``session_requests_indexed_through`` global are looked up in memory): its key begins
  with a random session id, so an entry per commit put a page per session into every
  transaction's WAL. Before layout 4 the outcome was a document of the
  ``_session_requests`` system table: a document row, its ``documents_by_ts`` entry and
  two index entries per mutation (decision 0018).

``PRAGMA user_version`` is the layout version. Version 1 (the first prototype) lacked
``persistence_max_ts``; version 2 kept the head itself in it. Both upgrade in place (2 to
3 changes no table: the row only stops being the head; the version is raised so that an
older pyconvex, which would read the row as the head, refuses the file; 3 to 4 adds
``session_requests``, and an older pyconvex, which would not write it, refuses the
file). A newer version is refused.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from pyconvex.persistence.errors import StorageError

SCHEMA_VERSION = 4

_V1 = """
CREATE TABLE IF NOT EXISTS documents (
    id TEXT NOT NULL, ts INTEGER NOT NULL, table_number INTEGER NOT NULL,
    value BLOB, prev_ts INTEGER, PRIMARY KEY (id, ts)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS documents_by_ts ON documents (ts, id);
CREATE TABLE IF NOT EXISTS indexes (
    index_id INTEGER NOT NULL, key BLOB NOT NULL, ts INTEGER NOT NULL, doc_id TEXT,
    PRIMARY KEY (index_id, key, ts)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS persistence_globals (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
_V2 = """
CREATE TABLE IF NOT EXISTS persistence_max_ts (
    id INTEGER PRIMARY KEY CHECK (id = 0), ts INTEGER NOT NULL);
INSERT INTO persistence_max_ts (id, ts)
    SELECT 0, MAX(ts) FROM (SELECT MAX(ts) AS ts FROM documents
                            UNION ALL SELECT MAX(ts) FROM indexes)
    HAVING MAX(ts) IS NOT NULL;
"""
_V4 = """
CREATE TABLE IF NOT EXISTS session_requests (
    ts INTEGER PRIMARY KEY, session_id TEXT NOT NULL, request_id INTEGER NOT NULL,
    created REAL NOT NULL, record BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS session_request_keys (
    session_id TEXT NOT NULL, request_id INTEGER NOT NULL, ts INTEGER NOT NULL,
    PRIMARY KEY (session_id, request_id)) WITHOUT ROWID;
"""
_UPGRADES = {0: _V1 + _V2 + _V4, 1: _V2 + _V4, 2: _V4, 3: _V4}

# Per connection. synchronous=FULL: in WAL mode, fsync the log at every commit, so an
# acknowledged commit survives power loss (NORMAL would only survive a process crash).
_PRAGMAS = (
    "PRAGMA synchronous=FULL",
    "PRAGMA busy_timeout=10000",  # ms; only another connection's checkpoint can make us wait
    "PRAGMA cache_size=-65536",  # KiB: 64 MiB of page cache per connection
    "PRAGMA mmap_size=268435456",  # 256 MiB: reads come straight from the OS page cache
    "PRAGMA temp_store=MEMORY",
    "PRAGMA journal_size_limit=67108864",  # truncate the WAL back to 64 MiB after a checkpoint
)


def connect(path: Path, *, read_only: bool = False) -> sqlite3.Connection:
    """A connection in WAL mode with the settings above; the caller wraps sqlite3 errors.

    ``isolation_level=None``: the module opens no transactions behind our back; writes
    say ``BEGIN IMMEDIATE`` themselves. The reader is ``query_only`` and used from the
    event-loop thread; the writer lives in the writer process (``sqlite_writer.py``).
    """
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False,
                           cached_statements=512)
    try:
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise StorageError(
                f"Cannot put {path} in WAL mode (journal_mode is {mode!r}); "
                "it needs a local file system that supports shared memory."
            )
        for pragma in _PRAGMAS:
            conn.execute(pragma)
        if read_only:
            conn.execute("PRAGMA query_only=ON")
    except BaseException:
        conn.close()
        raise
    return conn


def create_or_upgrade(conn: sqlite3.Connection) -> None:
    """Bring the file to ``SCHEMA_VERSION`` in one transaction (runs on the writer)."""
    try:
        conn.execute("BEGIN IMMEDIATE")
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        if version > SCHEMA_VERSION:
            raise StorageError(
                f"The database was written by a newer pyconvex (layout version {version}, "
                f"this one knows up to {SCHEMA_VERSION}); upgrade pyconvex to open it."
            )
        if version < SCHEMA_VERSION:
            # executescript() would COMMIT first; run the statements one by one instead.
            for statement in _UPGRADES[version].split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        rollback(conn)
        raise


def rollback(conn: sqlite3.Connection) -> None:
    """Roll back if a transaction is open. SQLite may already have rolled back itself
    (after SQLITE_FULL, SQLITE_IOERR, ...): then there is nothing to do."""
    if conn.in_transaction:
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass
