"""A commit costs what it touches: with many idle subscriptions on other keys, a commit
re-runs, invalidates and notifies only what read the keys it wrote, and its index walk
stays logarithmic."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from pyconvex.sync import Subscription, SubscriptionManager, format_function_error
from pyconvex.testing import ConvexTest

LIVEAPP = Path(__file__).resolve().parents[1] / "fixtures" / "liveapp" / "convex"
IDLE = 600


async def test_commits_do_no_work_for_subscriptions_they_cannot_affect():
    async with ConvexTest(LIVEAPP) as t:
        await t.mutation("cells:put", {"cells": {f"idle{i}": i for i in range(IDLE)}})
        await t.mutation("cells:put", {"cells": {"hot": 0}})
        manager = SubscriptionManager(t.deployment.db, t.deployment.runner, format_function_error)
        manager.start()
        calls: Counter[str] = Counter()

        def watcher_for(name: str):  # one "session" per subscription
            def watch(sub: Subscription) -> None:
                calls[name] += 1
            return watch

        try:
            for i in range(IDLE):
                name = f"idle{i}"
                await manager.subscribe("cells:get", {"name": name}, None, watcher=watcher_for(name))
            hot = await manager.subscribe("cells:get", {"name": "hot"}, None, watcher=watcher_for("hot"))
            depth = max(index.depth() for index in manager._index.values())
            runs, visits = manager.reruns, manager.index_visits()
            commits = 20
            for n in range(1, commits + 1):
                await t.mutation("cells:put", {"cells": {"hot": n}})
                await manager.wait_for(t.deployment.db.latest_ts)
                await manager.settled()
            assert hot.value_json == commits
            assert manager.reruns - runs == commits
            assert manager.invalidated == commits
            assert calls == Counter({"hot": commits})  # no idle subscription's watcher ran
            written = sum(
                len(entry.written)
                for entry in t.deployment.db.write_log.entries_after(0)[-commits:]
            )
            per_commit = (manager.index_visits() - visits) / commits
            assert per_commit <= 3 * depth * written / commits
            assert per_commit < IDLE / 10
            # A write nobody read: nothing at all.
            runs = manager.reruns
            await t.mutation("cells:put", {"cells": {"nobody": 1}})
            await manager.settled()
            assert manager.reruns == runs and manager.invalidated == commits
        finally:
            await manager.stop()
