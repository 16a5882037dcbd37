"""The SQLite writer's SQL, and the rows it makes of what the parent sends.

The parent sends two kinds of write request: ``write``, a batch as the rows' fields in
one flat list per table, in the column order below (``persistence.write``: entries with
timestamps of their own), and ``commits``, the committer's group: per commit its
timestamp and the commit request's own row lists, which lack the timestamp (the parent
sends them as they are, and the child, which has CPU to spare, makes the rows). Both
become a Batch here. The writer commits one or more batches as ONE transaction, one
COMMIT (one fsync).

Rows go in through multi-row ``INSERT ... VALUES (...), (...)`` statements of up to
``_ROWS_PER_STATEMENT`` rows, one statement text per row count (prepared once, then
taken from the connection's statement cache): one call into SQLite per chunk instead
of ``executemany``'s step and reset per row, each of which releases and retakes the
GIL and SQLite's connection mutex and runs the statement's program from its start
(opening its cursors). Plain prepared INSERTs still: routing one statement by
triggers (an earlier in-process writer did, to cross the GIL fewer times) cost SQLite
a trigger program per row.

The fields are shaped for the sqlite3 module's binding, which passes an exact int,
float, str or bytearray straight to SQLite but sends any other value (bytes, None)
through its adapter registry: a key tuple, a dict look-up and two failed attribute
look-ups, one of which formats an AttributeError; about 3,000 instructions a value,
more than copying a ~300-byte blob into a bytearray. So blobs are bound as bytearrays
(stored as the same BLOB), and a new document (no prev_ts) goes in through a
statement without that column instead of binding None. A tombstone's None still takes
the slow way; it is rare.

Session request rows (``session_requests``, layout 4) are keyed by their commit's
timestamp; their lookup keys go in later, in batches (``INSERT OR IGNORE``, oldest first:
a client that breaks the protocol by sending one request id twice on a first connection,
which skips the lookup, keeps its first record; decision 0018).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from itertools import chain
from typing import Any, TypeAlias

from pyconvex.persistence import sqlite_schema as schema
from pyconvex.persistence.base import CommitRows

_ROWS_PER_STATEMENT = 64


class _Insert:
    """One INSERT, as a statement text per row count, made on first use."""

    __slots__ = ("head", "row", "texts", "width")

    def __init__(self, head: str, width: int) -> None:
        self.head = head
        self.width = width
        self.row = "(" + ", ".join(["?"] * width) + ")"
        self.texts: dict[int, str] = {}

    def run(self, conn: sqlite3.Connection, fields: list[Any]) -> None:
        """Insert the rows whose fields ``fields`` holds, flat, in column order."""
        step = _ROWS_PER_STATEMENT * self.width
        for start in range(0, len(fields), step):
            chunk = fields if len(fields) <= step else fields[start : start + step]
            rows = len(chunk) // self.width
            text = self.texts.get(rows)
            if text is None:
                text = self.texts[rows] = self.head + ", ".join([self.row] * rows)
            conn.execute(text, chunk)


_NEW_DOCUMENTS = _Insert("INSERT INTO documents (ts, id, table_number, value) VALUES ", 4)
_DOCUMENTS = _Insert("INSERT INTO documents (ts, id, table_number, value, prev_ts) VALUES ", 5)
_INDEXES = _Insert("INSERT INTO indexes (index_id, key, ts, doc_id) VALUES ", 4)
_SESSION_REQUESTS = _Insert(
    "INSERT INTO session_requests (ts, session_id, request_id, created, record) VALUES ", 5)
_DOCUMENT_WIDTH, _INDEX_WIDTH = 5, 4
# The head (sqlite_schema.py): MAX(ts) of ``documents`` unless ``persistence_max_ts``
# says more. A transaction raises that row only when its documents do not carry its
# newest timestamp (index entries alone: a backfill, a migration); a commit group's last
# commit always writes a document, so the committer's transactions never touch it.
_RAISE_HEAD = (
    "INSERT INTO persistence_max_ts (id, ts) VALUES (0, ?) "
    "ON CONFLICT (id) DO UPDATE SET ts = max(ts, excluded.ts)"
)
Batch: TypeAlias = "tuple[list[Any], list[Any], list[Any], int, list[Any]]"
"""The fields, flat, of new documents, of other documents and of index entries, the
timestamp the head row must be raised to (0 when the batch's documents carry its
newest one), and the fields of session request rows."""
Fields: TypeAlias = "tuple[list[Any], list[Any], int]"
"""A ``write`` request: the document and index entry fields, flat, and the head."""
# Retention: what no read at a timestamp >= :cutoff can see (see base.py). A version is
# gone once a newer one at or below the cutoff supersedes it; a tombstone goes last, when
# nothing older of its id / key is left (so a batch limit can never resurrect a delete).
OLD_DOCUMENTS = """
DELETE FROM documents WHERE (id, ts) IN (
    SELECT o.id, o.ts FROM documents AS o
    WHERE o.ts <= :cutoff AND (
        EXISTS (SELECT 1 FROM documents AS n WHERE n.id = o.id AND n.ts > o.ts AND n.ts <= :cutoff)
        OR (o.value IS NULL
            AND NOT EXISTS (SELECT 1 FROM documents AS p WHERE p.id = o.id AND p.ts < o.ts)))
    LIMIT :limit)
"""
OLD_INDEX_ENTRIES = """
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
# Before retention deletes anything: the head row is raised to the newest document's
# timestamp, so deleting that document (a tombstone) cannot move the head back.
PIN_HEAD = (
    "INSERT INTO persistence_max_ts (id, ts) SELECT 0, MAX(ts) FROM documents "
    "WHERE true HAVING MAX(ts) IS NOT NULL "
    "ON CONFLICT (id) DO UPDATE SET ts = max(ts, excluded.ts)"
)
# Session requests (``session_requests``' rowid is the commit's timestamp): their lookup
# keys are put down in batches, in key order (one page touched per session and batch, not
# per commit), up to a timestamp kept as a global; retention deletes a leading range.
INDEXED_THROUGH = "session_requests_indexed_through"
GET_GLOBAL = "SELECT value FROM persistence_globals WHERE key = ?"
INDEX_SESSION_REQUESTS = (
    "INSERT OR IGNORE INTO session_request_keys (session_id, request_id, ts) "
    "SELECT session_id, request_id, ts FROM session_requests WHERE ts > ? AND ts <= ? "
    "ORDER BY session_id, request_id, ts"
)
DELETE_SESSION_REQUEST_KEYS = (
    "DELETE FROM session_request_keys WHERE ts <= ?1 AND (session_id, request_id) IN "
    "(SELECT session_id, request_id FROM session_requests WHERE ts <= ?1)"
)
DELETE_SESSION_REQUESTS = "DELETE FROM session_requests WHERE ts <= ?"
SET_GLOBAL = (
    "INSERT INTO persistence_globals (key, value) VALUES (?, ?) "
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value"
)


def fields(documents: Sequence[Any], indexes: Sequence[Any]) -> Fields:
    """One write (DocumentLogEntry and IndexEntry tuples) as a ``write`` request."""
    high = 0
    document_fields: list[Any] = []
    for d in documents:
        document_fields += d
        if d.ts > high:
            high = d.ts
    index_fields: list[Any] = []
    for i in indexes:
        index_fields += i
        if i.ts > high:
            high = i.ts
    return document_fields, index_fields, high


def _rows(fields: list[Any], width: int) -> list[tuple[Any, ...]]:
    return list(zip(*[iter(fields)] * width, strict=True))


def _blob(value: bytes | None) -> bytearray | None:
    return None if value is None else bytearray(value)


def fields_batch(request: Fields) -> Batch:
    """A ``write`` request's fields (not the committer's path: backfills, migrations);
    its documents go through ``commits_batch`` as a one-document commit each."""
    documents, indexes, high = request
    commits: list[CommitRows] = [
        (ts, [(doc_id, table_number, value, prev_ts)], [], None)
        for ts, doc_id, table_number, value, prev_ts in _rows(documents, _DOCUMENT_WIDTH)
    ]
    new, other = commits_batch(commits)[:2] if commits else ([], [])
    indexes[1::_INDEX_WIDTH] = [bytearray(key) for key in indexes[1::_INDEX_WIDTH]]
    carried = max(documents[::_DOCUMENT_WIDTH], default=0)
    return new, other, indexes, 0 if carried >= high else high, []


def commits_batch(commits: Sequence[CommitRows]) -> Batch:
    """A ``commits`` request's rows, each commit's timestamp put into its own."""
    new: list[Any] = []
    other: list[Any] = []
    indexes: list[Any] = []
    sessions: list[Any] = []
    for ts, docs, entries, record in commits:
        for doc_id, table_number, value, prev_ts in docs:
            if prev_ts is None and value is not None:
                new += (ts, doc_id, table_number, bytearray(value))
            else:
                other += (ts, doc_id, table_number, _blob(value), prev_ts)
        for index_id, key, points_to in entries:
            indexes += (index_id, bytearray(key), ts, points_to)
        if record is not None:
            session_id, request_id, created, outcome = record
            sessions += (ts, session_id, request_id, created, bytearray(outcome))
    # Timestamps increase through the group: if its last commit wrote a document,
    # ``documents`` carries the group's newest timestamp (a commit that only recorded a
    # session request raises the head row).
    last_ts, last_documents, _, _ = commits[-1]
    return new, other, indexes, 0 if last_documents else last_ts, sessions


WRITES: dict[str, Callable[[Any], Batch]] = {"write": fields_batch, "commits": commits_batch}
"""The write requests, which consecutive ones commit together, and their rows."""


def write_batches(conn: sqlite3.Connection, batches: Sequence[Batch]) -> None:
    """One transaction, one fsync, for all of ``batches``: all or nothing.

    The batches' fields are joined first: under load a transaction merges several
    groups of commits, and fewer, fuller statements cost less per row."""
    if len(batches) == 1:
        new, other, indexes, head, sessions = batches[0]
    else:
        new = list(chain.from_iterable(b[0] for b in batches))
        other = list(chain.from_iterable(b[1] for b in batches))
        indexes = list(chain.from_iterable(b[2] for b in batches))
        head = max(b[3] for b in batches)
        sessions = list(chain.from_iterable(b[4] for b in batches))
    try:
        conn.execute("BEGIN IMMEDIATE")
        _NEW_DOCUMENTS.run(conn, new)
        _DOCUMENTS.run(conn, other)
        _INDEXES.run(conn, indexes)
        _SESSION_REQUESTS.run(conn, sessions)
        if head:
            conn.execute(_RAISE_HEAD, (head,))
        conn.execute("COMMIT")
    except BaseException:
        schema.rollback(conn)
        raise


def write_one(conn: sqlite3.Connection, op: str, request: Any) -> None:
    write_batches(conn, [WRITES[op](request)])

