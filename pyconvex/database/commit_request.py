"""What a transaction hands the committer: the reads to validate and the writes to
stamp with a timestamp. Its own module so the committer depends on this record alone,
not on transactions (nor transactions on the committer)."""

from __future__ import annotations

from dataclasses import dataclass

from pyconvex.database.catalog import Catalog
from pyconvex.database.reads import ReadSet, WrittenKey


@dataclass(slots=True)
class CommitRequest:
    """What the committer needs: reads to validate, writes to stamp with a timestamp."""

    begin_ts: int
    reads: ReadSet
    documents: list[tuple[str, int, bytes | None, int | None]]
    """``(id, table_number, value or None for a delete, prev_ts)``."""
    indexes: list[tuple[int, bytes, str | None]]
    """``(index_id, key, doc_id or None for a removed key)``."""
    written: tuple[WrittenKey, ...]
    catalog: Catalog | None = None
    """Set when the transaction changed tables, indexes or the schema."""
    write_bytes: int = 0

    @property
    def is_empty(self) -> bool:
        return not self.documents and not self.indexes
