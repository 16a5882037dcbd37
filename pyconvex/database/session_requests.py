"""The record of each sync-session mutation's outcome, for replays.

A client that loses its connection resends every mutation it has no answer for, with the
same ``(sessionId, requestId)``; the server it reaches may be a restarted one, or another
process sharing the database. The outcome is therefore recorded durably, in the
mutation's own transaction: the mutation is committed together with its record or not at
all, so a resend finds either nothing (and runs) or the record (and is answered from it).

The record is a row of its own beside the commit (``session_requests`` in storage, see
``persistence.base.SessionRequestRow``), not a document: one WebSocket mutation in every
one carries it, and as a document of ``_session_requests`` it cost an id, an encoding and
three index entries (decision 0018). Its lookup key, ``(sessionId, requestId)`` in the
old table's ``by_session_id_and_request_id`` index, still takes part in OCC: the lookup
reads it and the record's commit writes it, so two copies of one request running at once
(on two processes) conflict at commit: the loser re-runs, finds the winner's record and
answers from it. Records older than the retention window are deleted in the background
(:func:`collect_session_requests`): by then no client can still be resending. Records
written as documents by an earlier version are still found and collected.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import dataclass
from itertools import takewhile
from typing import Any

import orjson

from pyconvex.database.catalog import (
    BY_ID,
    CREATION_TIME_FIELD,
    SESSION_REQUESTS_TABLE,
    SYSTEM_TABLES,
)
from pyconvex.database.database import Database
from pyconvex.database.query import Query
from pyconvex.database.transaction import Transaction
from pyconvex.errors import OccConflict
from pyconvex.persistence.base import SessionRequestRow
from pyconvex.values import convex_to_json, json_to_convex, prefix_end
from pyconvex.values.keys import encode_element, int64_element

BY_REQUEST = "by_session_id_and_request_id"
REQUEST_INDEX_ID = next(
    t for t in SYSTEM_TABLES if t.name == SESSION_REQUESTS_TABLE).indexes[BY_REQUEST].id
"""The index id a record's lookup key is read and written under (for conflicts)."""
SESSION_REQUEST_RETENTION_MS = 14 * 24 * 3600 * 1000
"""Two weeks, Convex's default for how long these records live."""
CLEANUP_CHUNK = 64
"""Records deleted per transaction (Convex deletes system-table rows in chunks of 64)."""


@dataclass(frozen=True, slots=True)
class SessionRequestRecord:
    """What a committed session mutation answered, and who sent it."""

    identity: str
    value: Any
    log_lines: list[str]
    ts: int
    """When it committed (a replay answers with this timestamp, as the first run did)."""


_SESSION_KEYS: dict[str, bytes] = {}
_SESSION_KEYS_KEPT = 1024
_U32_MAX = 2**32 - 1


def request_key(session_id: str, request_id: int) -> bytes:
    """The record's lookup key: the start of the old document index's keys of the same
    request (no key is a prefix of another's: the string is terminated, the int fixed).
    Built from its two elements directly (``encode_key`` walks a list): one per
    WebSocket mutation. A session's part is kept for the sessions mutating now (a
    session sends many mutations; escaping its id again for each cost as much as the
    lookup and the int's part together)."""
    head = _SESSION_KEYS.get(session_id)
    if head is None:
        if len(_SESSION_KEYS) >= _SESSION_KEYS_KEPT:
            _SESSION_KEYS.clear()
        head = _SESSION_KEYS[session_id] = encode_element(session_id)
    if type(request_id) is int and 0 <= request_id <= _U32_MAX:  # every protocol request id
        return head + int64_element(request_id)
    return head + encode_element(request_id)


_NO_OLD_RECORDS: weakref.WeakSet[Any] = weakref.WeakSet()
"""Persistences known to hold no record written as a document (by an earlier version):
a lookup there skips the old index. Nothing writes such records any more."""


async def find_session_request(
    txn: Transaction, session_id: str, request_id: int
) -> SessionRequestRecord | None:
    """The recorded outcome of this request, if it committed at or before the
    transaction's snapshot. The lookup key joins the read set (a concurrent copy of the
    request then conflicts: a record committed after the snapshot is not answered from
    but makes this commit fail and re-run); it is not charged to the function's read
    limits, which are the user's."""
    key = request_key(session_id, request_id)
    # The key's whole prefix range: it also holds the old documents' keys of the request.
    txn.reads.add(REQUEST_INDEX_ID, key, prefix_end(key))
    persistence = txn.db.persistence
    row = await persistence.get_session_request(session_id, request_id)
    if row is not None:
        return decode_record(row) if row.ts <= txn.begin_ts else None
    if persistence in _NO_OLD_RECORDS:
        return None
    return await _find_old_record(txn, key)


def encode_record(identity: str, value: Any, log_lines: list[str]) -> bytes:
    """A record's stored bytes: one JSON array ``[identity, value, log lines]``, the
    value as its Convex JSON (any return value can be stored, whatever its field names)."""
    return _join_record(record_head(identity), orjson.dumps(convex_to_json(value)), log_lines)


def record_head(identity: str) -> bytes:
    """The bytes of a record of ``identity`` before its value (a session's mutations
    share them: :func:`record_session_value`)."""
    return b"[" + orjson.dumps(identity) + b","


def _join_record(head: bytes, value_json: bytes, log_lines: list[str]) -> bytes:
    """The record from its parts: ``orjson`` writes no space between an array's items,
    so this is ``orjson.dumps([identity, value, log_lines])``'s bytes."""
    return b"%s%s,%s]" % (head, value_json, orjson.dumps(log_lines) if log_lines else b"[]")


def decode_record(row: SessionRequestRow) -> SessionRequestRecord:
    identity, value, lines = orjson.loads(row.record)
    return SessionRequestRecord(str(identity), json_to_convex(value), list(lines), row.ts)


async def _find_old_record(txn: Transaction, key: bytes) -> SessionRequestRecord | None:
    """A record an earlier version wrote as a document of ``_session_requests``, under
    the request's lookup key (the start of its document's key in that index)."""
    counters = (txn.ranges_read, txn.docs_read, txn.bytes_read)
    table = txn.catalog.tables_by_name[SESSION_REQUESTS_TABLE]
    doc = None
    async for _, found in txn.scan(table.indexes[BY_REQUEST], key, prefix_end(key), page_hint=1):
        doc = found
        break
    if doc is None:
        async for _ in txn.scan(table.indexes[BY_ID], b"", None, page_hint=1):
            break
        else:  # the old table is empty: no lookup needs it again
            _NO_OLD_RECORDS.add(txn.db.persistence)
    txn.ranges_read, txn.docs_read, txn.bytes_read = counters
    if doc is None:
        return None
    result = doc["result"]
    assert isinstance(result, bytes)
    lines = doc.get("logLines")
    ts = await txn.committed_ts(str(doc["_id"]))
    return SessionRequestRecord(
        str(doc["identity"]),
        json_to_convex(orjson.loads(result)),
        [str(line) for line in lines] if isinstance(lines, list) else [],
        ts if ts is not None else txn.begin_ts,
    )


def record_session_request(
    txn: Transaction,
    session_id: str,
    request_id: int,
    identity: str,
    value: Any,
    log_lines: list[str],
) -> None:
    """Record a mutation's outcome in its own transaction (call after the handler ran),
    so a replay answers exactly what the first run answered."""
    record_session_value(txn, session_id, request_id, record_head(identity), value, log_lines)


def record_session_value(
    txn: Transaction,
    session_id: str,
    request_id: int,
    head: bytes,
    value: Any,
    log_lines: list[str],
) -> bytes:
    """``record_session_request`` with its identity's ``record_head``, made once per
    identity by a session's worker; returns the value's Convex JSON, which the record
    holds, so that the MutationResponse frame writes the same bytes instead of encoding
    the value a second time (``sync/requests.py``'s ``SessionRecorder``)."""
    encoded = orjson.dumps(convex_to_json(value))
    txn.record_session(
        (REQUEST_INDEX_ID, request_key(session_id, request_id)),
        # (``log_lines`` is written out here and now: no copy of it is kept.)
        (session_id, request_id, txn.now_ms, _join_record(head, encoded, log_lines)),
    )
    return encoded


def _created_before(cutoff: float) -> Callable[[dict[str, Any]], bool]:
    def old(doc: dict[str, Any]) -> bool:
        created = doc[CREATION_TIME_FIELD]
        return isinstance(created, float) and created < cutoff

    return old


async def collect_session_requests(
    db: Database, older_than_ms: float, *, chunk: int = CLEANUP_CHUNK, limit: int | None = None
) -> int:
    """Delete records created more than ``older_than_ms`` ago, ``chunk`` per storage
    transaction (oldest first); returns how many went. ``limit`` bounds one call's work.

    Records are walked in commit order (their rows are keyed by their commit's
    timestamp, so a chunk is a leading range) up to the first one still inside the
    window; one committed by a process whose clock ran behind may wait for a later pass
    behind a newer one; none is kept longer than that. Then the same for records an
    earlier version wrote as documents (walked in ``by_id`` order, which is creation
    order: ids begin with their process's clock)."""
    removed = 0
    persistence = db.persistence
    while limit is None or removed < limit:
        cutoff = db.clock() - older_than_ms
        size = chunk if limit is None else min(chunk, limit - removed)
        last = None
        for row in await persistence.oldest_session_requests(size):
            if row.created >= cutoff:
                break
            last = row.ts
        if last is None:
            break
        removed += await persistence.delete_session_requests_through(last)
    return removed + await _collect_old_documents(
        db, older_than_ms, chunk, None if limit is None else limit - removed)


async def _collect_old_documents(
    db: Database, older_than_ms: float, chunk: int, limit: int | None
) -> int:
    removed = 0
    while (limit is None or removed < limit) and db.persistence not in _NO_OLD_RECORDS:
        txn = db.begin(limits=None)
        cutoff = txn.now_ms - older_than_ms
        size = chunk if limit is None else min(chunk, limit - removed)
        page = await Query(txn, SESSION_REQUESTS_TABLE).with_index(BY_ID).take(size)
        if not page:
            _NO_OLD_RECORDS.add(db.persistence)
        old = list(takewhile(_created_before(cutoff), page))
        if not old:
            return removed
        for doc in old:
            await txn.update_system(str(doc["_id"]), None)
        try:
            await db.commit(txn)
        except OccConflict:
            continue  # another process collected the same rows
        removed += len(old)
    return removed
