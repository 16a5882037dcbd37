"""Document counts and change notices for the dashboard, kept from the commit stream.

Counting a 100,000-document table on every visit would read every document; instead a
table is counted once (at a snapshot) and then kept exact from each published commit: an
insert adds one, a delete takes one away. Commits made by another process arrive without
their documents, only the index keys they wrote: a table they touched is counted again
on the next visit.

The same stream tells a waiting grid (``GET /api/pyconvex/dashboard/watch``, a long
poll) that its table changed, with the commit's timestamp.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import Any

from pyconvex.database import Committed, Database, TableInfo

COUNT_PAGE = 2000


class TableWatch:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.counts: dict[int, int] = {}
        self._counting: dict[int, list[tuple[int, int]]] = {}
        self._stale: set[int] = set()
        self.changed_at: dict[int, int] = {}
        self._running: dict[int, asyncio.Future[int]] = {}
        self.commit_times: deque[float] = deque(maxlen=100_000)
        """When each commit was published (monotonic seconds), for commits per second."""
        self._wake = asyncio.Event()
        self.unlisten = db.add_listener(self._on_commits)

    def _on_commits(self, committed: list[Committed]) -> None:
        index_tables: dict[int, int] | None = None
        now = time.monotonic()
        for item in committed:
            self.commit_times.append(now)
            touched: set[int] = set()
            docs = item.request.documents
            if docs:
                for _, table_number, value, prev_ts in docs:
                    touched.add(table_number)
                    delta = (value is not None) - (prev_ts is not None)
                    if delta:
                        if table_number in self.counts:
                            self.counts[table_number] += delta
                        if table_number in self._counting:
                            self._counting[table_number].append((item.ts, delta))
            else:  # another process's commit: only its written keys
                if index_tables is None:
                    index_tables = {i.id: t.number for t in self.db.catalog.tables_by_name.values()
                                    for i in t.indexes.values()}
                for index_id, _ in item.request.written:
                    number = index_tables.get(index_id)
                    if number is not None:
                        touched.add(number)
                for number in touched:
                    self.counts.pop(number, None)
                    if number in self._counting:
                        self._stale.add(number)
            for number in touched:
                self.changed_at[number] = item.ts
        self._wake.set()
        self._wake = asyncio.Event()

    async def count(self, table: TableInfo) -> int:
        """The table's document count now (counted once, then kept from commits; callers
        arriving while it is counted share that count)."""
        number = table.number
        if number in self.counts:
            return self.counts[number]
        running = self._running.get(number)
        if running is None:
            running = self._running[number] = asyncio.ensure_future(self._count(table))
            running.add_done_callback(lambda _: self._running.pop(number, None))
        return await asyncio.shield(running)

    async def _count(self, table: TableInfo) -> int:
        number = table.number
        ts = self.db.latest_ts
        pending: list[tuple[int, int]] = []
        self._counting[number] = pending
        self._stale.discard(number)
        try:
            n = 0
            lo = b""
            while True:
                rows = await self.db.persistence.index_scan(table.by_id.id, lo, None, ts, "asc", COUNT_PAGE)
                n += len(rows)
                if len(rows) < COUNT_PAGE:
                    break
                lo = rows[-1].key + b"\0"
                await asyncio.sleep(0)
            n += sum(delta for at, delta in pending if at > ts)
            if number not in self._stale and number not in self.counts:
                self.counts[number] = n
            return n
        finally:
            self._counting.pop(number, None)

    def commits_per_second(self, window_s: float = 60.0) -> float:
        """Commits published in the last ``window_s`` seconds (since the dashboard's first
        request, at most), per second."""
        since = time.monotonic() - window_s
        return sum(1 for t in self.commit_times if t >= since) / window_s

    async def wait_change(self, numbers: set[int], after: int, timeout: float) -> int | None:
        """The timestamp of the first commit after ``after`` touching one of the tables,
        or None when ``timeout`` seconds pass without one."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            seen = [self.changed_at.get(n, 0) for n in numbers]
            latest = max(seen, default=0)
            if latest > after:
                return latest
            left = deadline - loop.time()
            if left <= 0:
                return None
            try:
                await asyncio.wait_for(self._wake.wait(), left)
            except TimeoutError:
                return None


def watch_of(app_state: Any, db: Database) -> TableWatch:
    """The app's one :class:`TableWatch`, started on the dashboard's first request."""
    watch: TableWatch | None = getattr(app_state, "dashboard_watch", None)
    if watch is None or watch.db is not db:
        if watch is not None:
            watch.unlisten()
        watch = TableWatch(db)
        app_state.dashboard_watch = watch
    return watch
