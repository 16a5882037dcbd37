"""The runner's journal hands finished executions to the server's observers in batches
(``functions/runtime/journal.py``): whatever reads them (the log buffer, metrics,
insights) sees every execution finished before the read, a follower waiting on the log
buffer gets a record within the loop step it was made in, failures carry their
traceback and request id, and an unread server hands records over every ``FLUSH_AT``."""

from __future__ import annotations

import asyncio

import pytest

from pyconvex import api
from pyconvex.errors import ConvexError
from pyconvex.functions import ExecutionRecord
from pyconvex.functions.runtime.journal import FLUSH_AT
from pyconvex.server.insights import Insights
from pyconvex.server.log_buffer import LogBuffer
from pyconvex.testing import ConvexTest


def record(path: str) -> ExecutionRecord:
    return ExecutionRecord(path, "mutation", [], None, 0.0, 1.0)


def test_the_log_buffer_numbers_records_past_its_capacity() -> None:
    logs = LogBuffer(capacity=3)
    logs.extend([record(f"a:{n}") for n in range(1, 6)])  # 1 and 2 fall out
    assert [(n, r.path) for n, r in logs.after(0)] == [(3, "a:3"), (4, "a:4"), (5, "a:5")]
    assert [n for n, _ in logs.after(3)] == [4, 5]
    assert [n for n, _ in logs.after(0, limit=2)] == [3, 4]
    assert logs.after(5) == [] and logs.last_seq == 5


async def test_readers_see_every_finished_execution(app_dir) -> None:  # type: ignore[no-untyped-def]
    async with ConvexTest(app_dir) as t:
        journal = t.deployment.runner.journal
        logs, insights = LogBuffer(), Insights()
        logs.attach(journal)
        insights.pending = journal.flush
        journal.consumers.append(insights.on_executions)
        assert await t.mutation(api.counters.increment, {"name": "a"}) == 1
        with pytest.raises(ConvexError):
            await t.mutation(api.messages.send, {"channelId": await _channel(t), "text": " "})
        # No loop step in between: the reads take what is pending.
        paths = [r.path for _, r in logs.after(0)]
        assert paths[0] == "counters:increment" and paths[-1] == "messages:send"
        failed = logs.after(0)[-1][1]
        assert failed.error is not None and failed.request_id
        assert failed.traceback is not None and "EmptyMessage" in failed.error
        totals = insights.totals(failed.started_ms)
        assert totals["counters:increment"]["calls"] == 1
        assert (totals["messages:send"]["calls"], totals["messages:send"]["errors"]) == (1, 1)
        assert journal.pending == []


async def test_a_waiting_follower_gets_a_record_without_reading(app_dir) -> None:  # type: ignore[no-untyped-def]
    async with ConvexTest(app_dir) as t:
        journal = t.deployment.runner.journal
        logs = LogBuffer()
        logs.attach(journal)
        waiting = asyncio.ensure_future(logs.wait_after(logs.last_seq, timeout=30))
        await asyncio.sleep(0)  # the follower waits: records are handed over promptly
        assert journal.prompt
        await t.mutation(api.counters.increment, {"name": "b"})
        got = await asyncio.wait_for(waiting, 5)
        assert [r.path for _, r in got] == ["counters:increment"]
        assert not journal.prompt  # nobody waits any more
        logs.detach()
        assert journal.consumers == []


async def test_unread_records_are_handed_over_every_flush_at(app_dir) -> None:  # type: ignore[no-untyped-def]
    async with ConvexTest(app_dir) as t:
        journal = t.deployment.runner.journal
        batches: list[int] = []
        journal.consumers.append(lambda records: batches.append(len(records)))
        for _ in range(FLUSH_AT + 3):
            await t.mutation(api.counters.noop, {})
        assert batches == [FLUSH_AT] and len(journal.pending) == 3


async def _channel(t: ConvexTest) -> str:
    return str(await t.mutation(api.channels.create, {"name": "journal"}))
