"""Change notices and commit rate for the dashboard, kept from the commit stream.

Counts come from ``database/table_counts.py`` (counted once, then kept exact from
commits). The same stream tells a waiting grid (``GET /api/pyconvex/dashboard/watch``, a
long poll) that its table changed, with the commit's timestamp; the live grid over the
sync protocol (``_system/frontend/*``) needs no poll.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import Any

from pyconvex.database import Committed, Database, TableInfo
from pyconvex.database.table_counts import table_counts


class TableWatch:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.table_counts = table_counts(db)
        self.changed_at: dict[int, int] = {}
        self.commit_times: deque[float] = deque(maxlen=100_000)
        """When each commit was published (monotonic seconds), for commits per second."""
        self._wake = asyncio.Event()
        self.unlisten = db.add_listener(self._on_commits)

    def _on_commits(self, committed: list[Committed]) -> None:
        index_tables: dict[int, int] | None = None
        now = time.monotonic()
        changed = self.changed_at
        for item in committed:
            self.commit_times.append(now)
            docs = item.request.documents
            if docs:
                for _, table_number, _, _ in docs:
                    changed[table_number] = item.ts
            else:  # another process's commit: only its written keys
                if index_tables is None:
                    index_tables = {i.id: t.number for t in self.db.catalog.tables_by_name.values()
                                    for i in t.indexes.values()}
                for index_id, _ in item.request.written:
                    number = index_tables.get(index_id)
                    if number is not None:
                        changed[number] = item.ts
        self._wake.set()
        self._wake = asyncio.Event()

    async def count(self, table: TableInfo) -> int:
        """The table's document count now (counted once, then kept from commits; callers
        arriving while it is counted share that count)."""
        return await self.table_counts.count(table)

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
