"""The in-memory log of recent commits that OCC validation checks read sets against.

Each entry is a commit timestamp and the index keys it wrote. A transaction that began
at ``T`` conflicts if any entry with ``ts > T`` wrote a key inside its read set. Entries
older than the retention horizon are dropped; a transaction older than the horizon can
no longer be validated and is told to retry (it would be rare: mutations are short).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from typing import NamedTuple

from pyconvex.database.commit_request import CommitRequest
from pyconvex.database.reads import ReadSet, WrittenKey

DEFAULT_RETENTION_NS = 120 * 1_000_000_000
DEFAULT_MAX_ENTRIES = 200_000


class LogEntry(NamedTuple):
    ts: int
    written: tuple[WrittenKey, ...]
    # The indexes it wrote. A read set usually shares none with most commits (a read of
    # the catalog's table names, a write to a user table), which a set test tells
    # without bisecting for each written key.
    indexes: frozenset[int]


_new = tuple.__new__


class WriteLog:
    __slots__ = ("_entries", "_max_entries", "_retention_ns", "_start", "_tss", "floor")

    def __init__(
        self,
        floor: int,
        *,
        retention_ns: int = DEFAULT_RETENTION_NS,
        max_entries: int = DEFAULT_MAX_ENTRIES,
    ) -> None:
        # Lists with a moving start (compacted now and then): O(1) append and prune,
        # O(log n) positioning by timestamp, which a deque's O(n) indexing cannot give.
        self._entries: list[LogEntry] = []
        self._tss: list[int] = []
        self._start = 0
        self.floor = floor
        """Every commit with ts <= floor has been pruned (or predates this process).
        A plain attribute, not a property: every commit's validation reads it."""
        self._retention_ns = retention_ns
        self._max_entries = max_entries

    def append(
        self, ts: int, written: tuple[WrittenKey, ...], indexes: frozenset[int] | None = None
    ) -> None:
        """``indexes``: the index ids in ``written``, if the caller has them already."""
        if indexes is None:
            indexes = frozenset([i for i, _ in written])
        self._entries.append(LogEntry(ts, written, indexes))
        self._tss.append(ts)
        self._prune(ts)

    def append_commits(self, commits: Sequence[tuple[int, CommitRequest]]) -> None:
        """``append`` for each of a published group's commits (in timestamp order),
        pruned once for the group."""
        if not commits:
            return
        entries, tss = self._entries, self._tss
        for ts, request in commits:
            # tuple.__new__: a named tuple's own __new__ is a Python function call.
            entries.append(_new(LogEntry, (ts, request.written, request.written_indexes)))
            tss.append(ts)
        self._prune(tss[-1])

    def _prune(self, now_ts: int) -> None:
        horizon = now_ts - self._retention_ns
        entries = self._entries
        start = self._start
        while start < len(entries) and (
            entries[start].ts < horizon or len(entries) - start > self._max_entries
        ):
            self.floor = entries[start].ts
            start += 1
        if start > 1024 and start * 2 > len(entries):
            del self._entries[:start]
            del self._tss[:start]
            start = 0
        self._start = start

    def entries_after(self, ts: int) -> list[LogEntry]:
        tss = self._tss
        if len(tss) == self._start or tss[-1] <= ts:
            return []
        first = bisect_right(tss, ts, lo=self._start)
        return self._entries[first:]

    def first_conflict(self, begin_ts: int, reads: ReadSet) -> tuple[int, WrittenKey] | None:
        """The earliest commit after ``begin_ts`` whose writes overlap ``reads``."""
        read_indexes = reads.index_ids()
        for entry in self.entries_after(begin_ts):
            if read_indexes.isdisjoint(entry.indexes):
                continue
            hit = reads.overlaps(entry.written)
            if hit is not None:
                return entry.ts, hit
        return None
