"""A transaction: reads one snapshot, buffers writes, records exactly what it read.

Invariants:

1. Every read sees the snapshot at ``begin_ts`` overlaid with this transaction's own
   writes, and nothing committed later.
2. Every read is recorded in ``reads`` as index-key intervals, widened only as far as a
   scan actually went (rows handed to the caller), so the committer can check for
   conflicts and the sync layer can tell which commits invalidate a query.
3. A write records, for every index of the table, the key the document had at the
   snapshot and the key it has now; both count as written for conflict detection even
   when they are equal (the document's contents changed under that key). Storage gets a
   new index entry only where a key appears or disappears.
4. Limits are Convex's: documents and bytes read, index ranges, documents and bytes
   written. Exceeding one raises :class:`LimitExceededError` naming the limit.

The parts, in the order they build on each other: ``transaction_reads.py`` (state,
catalog lookups, ``get``, ``scan``), ``transaction_writes.py`` (document, system and
catalog writes), ``own_writes.py`` (the overlay of own writes and the commit request);
this module adds savepoints and the commit.
"""

from __future__ import annotations

import copy

from pyconvex.database.commit_request import CommitRequest
from pyconvex.database.own_writes import Savepoint, build_commit_request
from pyconvex.database.reads import WrittenKey
from pyconvex.database.transaction_writes import TransactionWrites
from pyconvex.persistence.base import SessionRecord

__all__ = ["CommitRequest", "Savepoint", "Transaction"]


class Transaction(TransactionWrites):
    """One snapshot, one write set. Not shared between tasks."""

    docs_read_unindexed = 0
    """Of ``docs_read``, those read by queries with no index range (the whole table in
    some index's order; counted by ``query/plan.py``): the dashboard's "read without an
    index" insight. A class default, so a transaction that never scans pays nothing."""
    unindexed_tables: dict[str, int] | None = None
    """The same documents by table (None until a query reads one)."""
    session_record: tuple[WrittenKey, SessionRecord] | None = None
    """A sync-session mutation's outcome and its lookup key (``record_session``)."""

    def record_session(self, key: WrittenKey, record: SessionRecord) -> None:
        """Store ``record`` with this transaction's commit, in its own storage row
        (``session_requests``) rather than as a document: a WebSocket mutation carries
        one, and a document cost an id, an encoding and three index entries (decision
        0018). ``key`` is what a resend's lookup reads, written for conflicts only."""
        if not self.writable:  # (the test inline: one call fewer per WebSocket mutation)
            self._check_writable("insert")
        self.session_record = (key, record)

    def note_unindexed(self, table: str, n: int) -> None:
        """``n`` documents of ``table`` were read by a query with no index range."""
        self.docs_read_unindexed += n
        tables = self.unindexed_tables
        if tables is None:
            tables = self.unindexed_tables = {}
        tables[table] = tables.get(table, 0) + n

    # --------------------------------------------------------- subtransactions
    def savepoint(self) -> Savepoint:
        """The write state now, for :meth:`rollback_to`: a nested ``ctx.run_mutation``
        that raises leaves none of its writes, as in Convex, while its caller may catch
        the error and go on. Reads are kept: what the failed call read still decided
        what the caller does next, so it must still be validated at commit."""
        return Savepoint(
            {doc_id: copy.copy(update) for doc_id, update in self._updates.items()},
            {index_id: dict(keys) for index_id, keys in self._overlay.items()},
            self.catalog,
            self._catalog_changed,
            self.bytes_written,
        )

    def rollback_to(self, point: Savepoint) -> None:
        """Forget every write made since ``point`` was taken."""
        self._updates = {doc_id: copy.copy(update) for doc_id, update in point.updates.items()}
        self._overlay = {index_id: dict(keys) for index_id, keys in point.overlay.items()}
        self.catalog = point.catalog
        self._catalog_changed = point.catalog_changed
        self.bytes_written = point.bytes_written

    # ------------------------------------------------------------------ commit
    def commit_request(self) -> CommitRequest | None:
        """What the committer is handed; None if the transaction wrote nothing (one
        call per commit, not a test and then the request)."""
        if not self._updates and self.session_record is None:
            return None
        return build_commit_request(
            self.begin_ts, self.reads, self._updates, self.catalog, self._catalog_changed,
            self.bytes_written, self.session_record,
        )
