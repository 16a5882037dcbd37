"""The log buffer followers long-poll (``pyconvex logs``, the dashboard): an execution
wakes a waiting follower at once, and one appended while nobody waits is still there for
the next follower (appending skips waking when nobody waits)."""

from __future__ import annotations

import asyncio

from pyconvex.functions import ExecutionRecord
from pyconvex.server.log_buffer import LogBuffer


def record(path: str) -> ExecutionRecord:
    return ExecutionRecord(path, "mutation", [], None, 0.0, 1.0)


async def test_a_waiting_follower_wakes_and_a_late_one_misses_nothing() -> None:
    logs = LogBuffer()
    logs.append(record("a:first"))  # nobody waits
    assert [r.path for _, r in await logs.wait_after(0, timeout=5)] == ["a:first"]

    waiting = asyncio.ensure_future(logs.wait_after(logs.last_seq, timeout=30))
    await asyncio.sleep(0)  # the follower is waiting
    logs.append(record("a:second"))
    got = await asyncio.wait_for(waiting, 5)  # woken, not timed out
    assert [r.path for _, r in got] == ["a:second"]

    for path in ("a:third", "a:fourth"):  # nobody waits again
        logs.append(record(path))
    assert [r.path for _, r in await logs.wait_after(2, timeout=5)] == ["a:third", "a:fourth"]
    assert await logs.wait_after(logs.last_seq, timeout=0.01) == []


async def test_a_follower_that_starts_waiting_as_a_record_arrives_gets_it() -> None:
    logs = LogBuffer()
    waiting = asyncio.ensure_future(logs.wait_after(0, timeout=30))
    await asyncio.sleep(0)
    logs.append(record("a:only"))  # before the wait's own task has run a step
    assert [r.path for _, r in await asyncio.wait_for(waiting, 5)] == ["a:only"]
