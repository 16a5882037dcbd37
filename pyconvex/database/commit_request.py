"""What a transaction hands the committer: the reads to validate and the writes to
stamp with a timestamp. Its own module so the committer depends on this record alone,
not on transactions (nor transactions on the committer)."""

from __future__ import annotations

from dataclasses import dataclass, field

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
    written_indexes: frozenset[int] = field(init=False)
    """The index ids in ``written``: a read set sharing none of them cannot conflict,
    which a set test tells without looking at a key. Made once here, for the
    committer's checks against commits not yet published and for the write log."""

    def __post_init__(self) -> None:
        self.written_indexes = frozenset([index_id for index_id, _ in self.written])

    @property
    def is_empty(self) -> bool:
        return not self.documents and not self.indexes
