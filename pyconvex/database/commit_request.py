"""What a transaction hands the committer: the reads to validate and the writes to
stamp with a timestamp. Its own module so the committer depends on this record alone,
not on transactions (nor transactions on the committer)."""

from __future__ import annotations

from pyconvex.database.catalog import Catalog
from pyconvex.database.reads import ReadSet, WrittenKey
from pyconvex.persistence.base import SessionRecord


class CommitRequest:
    """What the committer needs: reads to validate, writes to stamp with a timestamp.

    A plain slotted class with its own ``__init__`` (not a dataclass with a
    ``__post_init__``): one is made per commit, and the caller that built ``written``
    usually has its index ids at hand already (an insert's are its key dict's keys)."""

    __slots__ = (
        "begin_ts", "catalog", "documents", "indexes", "reads", "record", "write_bytes",
        "written", "written_indexes",
    )

    def __init__(
        self,
        begin_ts: int,
        reads: ReadSet,
        documents: list[tuple[str, int, bytes | None, int | None]],
        indexes: list[tuple[int, bytes, str | None]],
        written: tuple[WrittenKey, ...],
        catalog: Catalog | None = None,
        write_bytes: int = 0,
        written_indexes: frozenset[int] | None = None,
        record: SessionRecord | None = None,
    ) -> None:
        self.begin_ts = begin_ts
        self.reads = reads
        self.documents = documents
        """``(id, table_number, value or None for a delete, prev_ts)``: also what the
        SQLite writer is sent, with the commit's timestamp (no per-row copy here)."""
        self.indexes = indexes
        """``(index_id, key, doc_id or None for a removed key)``."""
        self.written = written
        self.catalog = catalog
        """Set when the transaction changed tables, indexes or the schema."""
        self.write_bytes = write_bytes
        self.written_indexes = (
            frozenset([index_id for index_id, _ in written])
            if written_indexes is None else written_indexes
        )
        """The index ids in ``written``: a read set sharing none of them cannot conflict,
        which a set test tells without looking at a key (the committer's checks against
        commits not yet published, the write log, the scheduler's hook)."""
        self.record = record
        """The sync-session mutation's outcome, stored beside the commit's rows
        (``session_requests``), not as a document; its lookup key is in ``written``."""

    @property
    def is_empty(self) -> bool:
        return not self.documents and not self.indexes and self.record is None

    def __repr__(self) -> str:
        return (
            f"CommitRequest(begin_ts={self.begin_ts}, documents={len(self.documents)}, "
            f"indexes={len(self.indexes)}, written={len(self.written)})"
        )
