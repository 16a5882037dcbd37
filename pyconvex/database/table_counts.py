"""Document counts per table, exact at any recent snapshot, kept from the commit stream.

Counting a 100,000-document table whenever the dashboard shows it (or whenever a live
``tableSize`` query re-runs after a write) would read every document each time. Instead
a table is counted once, by a key scan at a snapshot, and then kept from each published
commit: an insert adds one, a delete takes one away. The last ``RECENT`` changes of each
table are kept with their timestamps, so the count at a snapshot a little behind the
newest commit (a live query re-runs at the commit that invalidated it, while newer ones
may already be published) is the newest count minus what came after it. Older than that,
or after a commit of another process (which arrives with its written keys only, not its
documents), the table is counted again.

The commit listener is added on the first count, so a deployment nobody asks for counts
pays nothing; after that it costs O(1) per document written.
"""

from __future__ import annotations

import asyncio
import weakref
from collections import deque
from typing import TYPE_CHECKING

from pyconvex.database.catalog import TableInfo
from pyconvex.database.committer import Committed

if TYPE_CHECKING:
    from pyconvex.database.database import Database

COUNT_PAGE = 2000
RECENT = 4096


class _Count:
    """One table's count at ``ts`` and the changes up to it (oldest first)."""

    __slots__ = ("n", "recent", "since", "ts")

    def __init__(self, n: int, ts: int) -> None:
        self.n = n
        self.ts = ts
        self.recent: deque[tuple[int, int]] = deque(maxlen=RECENT)
        self.since = ts
        """Changes after this timestamp are all in ``recent`` (older ones fell out)."""

    def add(self, ts: int, delta: int) -> None:
        recent = self.recent
        if len(recent) == RECENT:
            self.since = recent[0][0]
        recent.append((ts, delta))
        self.n += delta
        self.ts = ts

    def at(self, ts: int) -> int | None:
        """The count at ``ts``, or None when changes after ``ts`` are no longer known."""
        if ts < self.since:
            return None
        n = self.n
        for at, delta in reversed(self.recent):
            if at <= ts:
                break
            n -= delta
        return n


class TableCounts:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._counts: dict[int, _Count] = {}
        self._pending: dict[int, list[tuple[int, int]]] = {}  # tables being counted now
        self._stale: set[int] = set()
        self._running: dict[tuple[int, int], asyncio.Future[int]] = {}
        self.unlisten = db.add_listener(self._on_commits)

    def _on_commits(self, committed: list[Committed]) -> None:
        counts = self._counts
        pending = self._pending
        for item in committed:
            docs = item.request.documents
            if docs:
                for _, number, value, prev_ts in docs:
                    delta = (value is not None) - (prev_ts is not None)
                    if delta:
                        count = counts.get(number)
                        if count is not None:
                            count.add(item.ts, delta)
                        waiting = pending.get(number)
                        if waiting is not None:
                            waiting.append((item.ts, delta))
            elif item.request.written:  # another process's commit: its keys only
                self._forget_written(item)

    def _forget_written(self, item: Committed) -> None:
        tables = {i.id: t.number for t in self.db.catalog.tables_by_name.values()
                  for i in t.indexes.values()}
        for index_id, _ in item.request.written:
            number = tables.get(index_id)
            if number is not None:
                self._counts.pop(number, None)
                if number in self._pending:
                    self._stale.add(number)

    def known(self, table: TableInfo) -> int | None:
        """The newest count if it is known, without counting."""
        count = self._counts.get(table.number)
        return count.n if count is not None else None

    async def count(self, table: TableInfo, ts: int | None = None) -> int:
        """The number of documents of ``table`` at ``ts`` (default: the newest commit).
        Callers asking for one table at one snapshot while it is counted share the scan."""
        at = self.db.latest_ts if ts is None else ts
        count = self._counts.get(table.number)
        if count is not None:
            n = count.at(at)
            if n is not None:
                return n
        key = (table.number, at)
        running = self._running.get(key)
        if running is None:
            running = self._running[key] = asyncio.ensure_future(self._count(table, at))
            running.add_done_callback(lambda _: self._running.pop(key, None))
        return await asyncio.shield(running)

    async def _count(self, table: TableInfo, ts: int) -> int:
        """Count the keys at ``ts``; when ``ts`` is the newest commit, keep the count
        (with the commits published while counting)."""
        number = table.number
        newest = ts == self.db.latest_ts and number not in self._pending
        if newest:
            self._pending[number] = []
            self._stale.discard(number)
        try:
            n = 0
            lo = b""
            while True:
                rows = await self.db.persistence.index_scan(
                    table.by_id.id, lo, None, ts, "asc", COUNT_PAGE)
                n += len(rows)
                if len(rows) < COUNT_PAGE:
                    break
                lo = rows[-1].key + b"\0"
                await asyncio.sleep(0)
            if newest and number not in self._stale and number not in self._counts:
                count = _Count(n, ts)
                for at, delta in self._pending[number]:
                    if at > ts:
                        count.add(at, delta)
                self._counts[number] = count
            return n
        finally:
            if newest:
                self._pending.pop(number, None)


_OF: weakref.WeakKeyDictionary[Database, TableCounts] = weakref.WeakKeyDictionary()


def table_counts(db: Database) -> TableCounts:
    """The database's one :class:`TableCounts`, started on first use."""
    counts = _OF.get(db)
    if counts is None:
        counts = _OF[db] = TableCounts(db)
    return counts


def known_count(db: Database, table: TableInfo) -> int | None:
    """The table's newest count if someone already counted it (never starts counting)."""
    counts = _OF.get(db)
    return counts.known(table) if counts is not None else None
