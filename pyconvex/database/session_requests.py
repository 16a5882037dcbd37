"""The record of each sync-session mutation's outcome (``_session_requests``), for replays.

A client that loses its connection resends every mutation it has no answer for, with the
same ``(sessionId, requestId)``; the server it reaches may be a restarted one, or another
process sharing the database. The outcome is therefore recorded durably, in the
mutation's own transaction: the mutation is committed together with its record or not at
all, so a resend finds either nothing (and runs) or the record (and is answered from it).

The lookup reads the record's key range, so two copies of one request running at once
(on two processes) conflict at commit: the loser re-runs, finds the winner's record and
answers from it. Records older than the retention window are deleted in the background
(:func:`collect_session_requests`): by then no client can still be resending.
"""

from __future__ import annotations

import struct
from binascii import b2a_base64
from collections.abc import Callable
from dataclasses import dataclass
from itertools import takewhile
from typing import Any

import orjson

from pyconvex.database.catalog import BY_ID, CREATION_TIME_FIELD, ID_FIELD, SESSION_REQUESTS_TABLE
from pyconvex.database.database import Database
from pyconvex.database.query import Query
from pyconvex.database.transaction import Transaction
from pyconvex.errors import OccConflict
from pyconvex.values import convex_to_json, encode_key, json_to_convex, prefix_end

BY_REQUEST = "by_session_id_and_request_id"
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


async def find_session_request(
    txn: Transaction, session_id: str, request_id: int
) -> SessionRequestRecord | None:
    """The recorded outcome of this request, if it committed. The read joins the
    transaction's read set (a concurrent copy of the request then conflicts); it is not
    charged to the function's read limits, which are the user's."""
    counters = (txn.ranges_read, txn.docs_read, txn.bytes_read)
    index = txn.catalog.tables_by_name[SESSION_REQUESTS_TABLE].indexes[BY_REQUEST]
    lo = encode_key([session_id, request_id])  # the index scanned directly: a hot path
    doc = None
    async for _, found in txn.scan(index, lo, prefix_end(lo), page_hint=1):
        doc = found
        break
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
    """Record a mutation's outcome in its own transaction (call after the handler ran).

    The value is kept as its Convex JSON (any return value can be stored, whatever its
    field names), so a replay answers exactly what the first run answered."""
    txn.insert_system(
        SESSION_REQUESTS_TABLE,
        {
            "sessionId": session_id,
            "requestId": request_id,
            "identity": identity,
            "result": orjson.dumps(convex_to_json(value)),
            "logLines": list(log_lines),
        },
        metered=False,
        encode=_encode_record,
    )


_INT64 = struct.Struct("<q")


def _encode_record(doc: dict[str, Any]) -> bytes:
    """The record as ``encode_document`` writes it (Convex JSON: the int64 request id and
    the result bytes in their ``$integer`` / ``$bytes`` forms), built directly: the
    generic walk cost a WebSocket mutation about 20K instructions more (callgrind), and
    every field's type is fixed here (``_creationTime`` is a finite float, the log lines
    strings). Base64 by ``binascii`` directly (``base64.b64encode`` is a Python wrapper
    around it; a request id or result of another type fails in ``pack`` or there):
    16.0K -> 12.6K instructions a record (callgrind)."""
    return orjson.dumps({
        ID_FIELD: doc[ID_FIELD],
        CREATION_TIME_FIELD: doc[CREATION_TIME_FIELD],
        "sessionId": doc["sessionId"],
        "requestId": {"$integer": b2a_base64(_INT64.pack(doc["requestId"]), newline=False).decode()},
        "identity": doc["identity"],
        "result": {"$bytes": b2a_base64(doc["result"], newline=False).decode()},
        "logLines": doc["logLines"],
    })


def _created_before(cutoff: float) -> Callable[[dict[str, Any]], bool]:
    def old(doc: dict[str, Any]) -> bool:
        created = doc[CREATION_TIME_FIELD]
        return isinstance(created, float) and created < cutoff

    return old


async def collect_session_requests(
    db: Database, older_than_ms: float, *, chunk: int = CLEANUP_CHUNK, limit: int | None = None
) -> int:
    """Delete records created more than ``older_than_ms`` ago, ``chunk`` per transaction
    (oldest first); returns how many went. ``limit`` bounds one call's work.

    The table has no ``by_creation_time`` index (every WebSocket mutation would pay for
    its entry): records are walked in ``by_id`` order, which is creation order (ids
    begin with their process's clock), up to the first one still inside the window. A
    record of a process whose clock ran behind may wait for a later pass behind a newer
    one; none is kept longer than that."""
    removed = 0
    while limit is None or removed < limit:
        txn = db.begin(limits=None)
        cutoff = txn.now_ms - older_than_ms
        size = chunk if limit is None else min(chunk, limit - removed)
        page = await Query(txn, SESSION_REQUESTS_TABLE).with_index(BY_ID).take(size)
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
