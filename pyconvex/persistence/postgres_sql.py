"""The PostgreSQL backend's statements and the encoding of their array parameters.

Kept apart from the persistence class and its connections (``postgres.py``,
``postgres_connections.py``), which both send them.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg

from pyconvex.errors import NO_SPACE_SIGNS, StorageFullError, storage_full
from pyconvex.persistence.base import DocumentLogEntry, IndexEntry, SessionRequestRow
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
CREATE TABLE IF NOT EXISTS session_requests (
    ts BIGINT PRIMARY KEY, session_id TEXT NOT NULL, request_id BIGINT NOT NULL,
    created DOUBLE PRECISION NOT NULL, record BYTEA NOT NULL, UNIQUE (session_id, request_id));
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
), s AS (
    INSERT INTO session_requests (ts, session_id, request_id, created, record)
    SELECT * FROM unnest(%(s_ts)s::bigint[], %(s_session)s::text[], %(s_request)s::bigint[],
                         %(s_created)s::float8[], %(s_record)s::bytea[])
    WHERE EXISTS (SELECT 1 FROM head)
    ON CONFLICT DO NOTHING
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
_GET_SESSION_REQUEST = (
    "SELECT ts, created, record FROM session_requests WHERE session_id = %s AND request_id = %s"
)
_OLDEST_SESSION_REQUESTS = (
    "SELECT ts, session_id, request_id, created, record FROM session_requests "
    "ORDER BY ts LIMIT %s"
)
_DELETE_SESSION_REQUESTS = "DELETE FROM session_requests WHERE ts <= %s"
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


def _floats(values: Sequence[float]) -> str:
    return "{" + ",".join(repr(float(v)) for v in values) + "}"


def session_params(rows: Sequence[SessionRequestRow]) -> dict[str, Any]:
    """The session request rows of a commit group, as the commit statement's arrays."""
    return {
        "s_ts": _ints([r.ts for r in rows]), "s_session": _texts([r.session_id for r in rows]),
        "s_request": _ints([r.request_id for r in rows]),
        "s_created": _floats([r.created for r in rows]),
        "s_record": _byteas([r.record for r in rows]),
    }


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
