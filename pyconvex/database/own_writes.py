"""A transaction's own writes: what it changed, and the overlay its reads see them
through.

Each written document has one :class:`Update` (its state at the snapshot and now, and
its new index keys, computed once). The overlay maps, per index, each key this
transaction put down or removed to its document id (None: removed), so a scan merges
the transaction's writes into the snapshot's rows in key order. At commit the updates
become the committer's :class:`CommitRequest` (:func:`build_commit_request`); a
:class:`Savepoint` is a copy of both, for a nested call that fails.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyconvex.database.catalog import Catalog, TableInfo
from pyconvex.database.commit_request import CommitRequest
from pyconvex.database.documents import encode_document, index_key
from pyconvex.database.reads import ReadSet, WrittenKey
from pyconvex.persistence.base import SessionRecord
from pyconvex.values import Document

Overlay = dict[int, dict[bytes, str | None]]
"""Own writes per index: key -> doc id (None: the key was removed)."""


@dataclass(slots=True)
class Update:
    table: TableInfo
    old: Document | None
    """The document at the snapshot (None: it did not exist)."""
    old_ts: int | None
    new: Document | None
    """The document now (None: deleted)."""
    new_keys: dict[int, bytes] | None = None
    """``new``'s index keys by index id, computed once for the overlay and the commit."""
    encoded: bytes | None = None
    """``new`` already encoded by its writer (a system record with a fixed shape); any
    later write of the document drops it."""



@dataclass(slots=True, frozen=True)
class Savepoint:
    """A transaction's writes at one moment (see :meth:`Transaction.savepoint`)."""

    updates: dict[str, Update]
    overlay: Overlay
    catalog: Catalog
    catalog_changed: bool
    bytes_written: int



def own_rows(
    overlay: dict[bytes, str | None], lo: bytes, hi: bytes | None, asc: bool
) -> list[tuple[bytes, str | None]]:
    """The overlay's keys in ``[lo, hi)``, in scan order (sorted only when a scan needs
    them: most transactions never scan what they wrote)."""
    own = sorted((k, d) for k, d in overlay.items() if lo <= k and (hi is None or k < hi))
    if not asc:
        own.reverse()
    return own


def build_commit_request(
    begin_ts: int,
    reads: ReadSet,
    updates: dict[str, Update],
    catalog: Catalog,
    catalog_changed: bool,
    bytes_written: int,
    session: tuple[WrittenKey, SessionRecord] | None = None,
) -> CommitRequest:
    """The committer's view of ``updates``: document versions, index entries put down or
    removed, and every key written (old and new, for conflict detection). ``session``:
    a sync-session mutation's record and its lookup key, which counts as written (a
    copy of the request that looked it up conflicts) though no index entry is stored."""
    documents: list[tuple[str, int, bytes | None, int | None]] = []
    indexes: list[tuple[int, bytes, str | None]] = []
    written: list[WrittenKey] = []
    written_indexes: set[int] = set()
    record = None
    if session is not None:
        session_key, record = session
        written.append(session_key)
        written_indexes.add(session_key[0])
    by_number = catalog.tables_by_number
    for doc_id, update in updates.items():
        old, new = update.old, update.new
        if old is None and new is None:
            continue
        table = by_number.get(update.table.number)
        if table is None:
            continue
        value = update.encoded
        if value is None and new is not None:
            value = encode_document(new)
        if type(doc_id) is not str:  # an ``Id``: the writer is sent plain values
            doc_id = str(doc_id)
        documents.append((doc_id, table.number, value, update.old_ts))
        known = update.new_keys
        if old is None and known is not None and update.table is table:
            # An insert into a table unchanged since the write (the common case): its
            # keys, all computed then, are all new, so each is written and put down
            # (the key dict's items are the written keys as they are).
            written += known.items()
            for index_id, key in known.items():  # a loop: a comprehension is a call
                indexes.append((index_id, key, doc_id))
            written_indexes.update(known)
            continue
        for index in table.indexes.values():
            old_key = index_key(index, old) if old is not None else None
            new_key = known.get(index.id) if known is not None else None
            if new_key is None and new is not None:
                new_key = index_key(index, new)
            if old_key is not None:
                written.append((index.id, old_key))
                written_indexes.add(index.id)
            if new_key is not None and new_key != old_key:
                written.append((index.id, new_key))
                written_indexes.add(index.id)
            if old_key != new_key:
                if old_key is not None:
                    indexes.append((index.id, old_key, None))
                if new_key is not None:
                    indexes.append((index.id, new_key, doc_id))
            elif new_key is not None and index.state != "enabled":
                # A backfill skips versions newer than the index, so while it runs
                # every write must put its entry down, changed key or not.
                indexes.append((index.id, new_key, doc_id))
    return CommitRequest(
        begin_ts,
        reads,
        documents,
        indexes,
        tuple(written),
        catalog if catalog_changed else None,
        bytes_written,
        frozenset(written_indexes),
        record,
    )
