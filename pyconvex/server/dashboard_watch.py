"""Table counts and commit rate for the dashboard's HTTP endpoints, kept from the commit
stream.

Counts come from ``database/table_counts.py`` (counted once, then kept exact from
commits). The live grid itself needs nothing here: it subscribes over the sync protocol
(``_system/frontend/*``) like any client.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any

from pyconvex.database import Committed, Database, TableInfo
from pyconvex.database.table_counts import table_counts


class TableWatch:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.table_counts = table_counts(db)
        self.commit_times: deque[float] = deque(maxlen=100_000)
        """When each commit was published (monotonic seconds), for commits per second."""
        self.unlisten = db.add_listener(self._on_commits)

    def _on_commits(self, committed: list[Committed]) -> None:
        now = time.monotonic()
        self.commit_times.extend(now for _ in committed)

    async def count(self, table: TableInfo) -> int:
        """The table's document count now (counted once, then kept from commits; callers
        arriving while it is counted share that count)."""
        return await self.table_counts.count(table)

    def commits_per_second(self, window_s: float = 60.0) -> float:
        """Commits published in the last ``window_s`` seconds (since the dashboard's first
        request, at most), per second."""
        since = time.monotonic() - window_s
        return sum(1 for t in self.commit_times if t >= since) / window_s


def watch_of(app_state: Any, db: Database) -> TableWatch:
    """The app's one :class:`TableWatch`, started on the dashboard's first request."""
    watch: TableWatch | None = getattr(app_state, "dashboard_watch", None)
    if watch is None or watch.db is not db:
        if watch is not None:
            watch.unlisten()
        watch = TableWatch(db)
        app_state.dashboard_watch = watch
    return watch
