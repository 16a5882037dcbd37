"""A session's mutation queue: first in first out, a reader that waits for an item, a
writer that waits for room, and a cancelled reader that leaves nothing behind."""

from __future__ import annotations

import asyncio

from pyconvex.sync.mutation_queue import MutationQueue


async def test_items_come_out_in_order_and_the_reader_waits_for_one() -> None:
    queue: MutationQueue[int] = MutationQueue(8)
    reader = asyncio.create_task(queue.get())
    await asyncio.sleep(0)
    assert not reader.done()
    queue.put_nowait(1)
    queue.put_nowait(2)
    assert await reader == 1
    assert queue.qsize() == 1
    assert await queue.get() == 2
    assert queue.qsize() == 0


async def test_put_waits_for_room() -> None:
    queue: MutationQueue[int] = MutationQueue(2)
    await queue.put(1)
    await queue.put(2)
    writer = asyncio.create_task(queue.put(3))
    await asyncio.sleep(0)
    assert not writer.done() and queue.qsize() == 2
    assert await queue.get() == 1
    await writer
    assert [await queue.get(), await queue.get()] == [2, 3]


async def test_a_cancelled_reader_does_not_lose_the_next_item() -> None:
    queue: MutationQueue[str] = MutationQueue(4)
    reader = asyncio.create_task(queue.get())
    await asyncio.sleep(0)
    reader.cancel()
    await asyncio.gather(reader, return_exceptions=True)
    queue.put_nowait("a")
    assert await queue.get() == "a"


async def test_take_returns_the_first_item_or_none_and_makes_room() -> None:
    queue: MutationQueue[int] = MutationQueue(1)
    assert queue.take() is None
    await queue.put(1)
    writer = asyncio.create_task(queue.put(2))
    await asyncio.sleep(0)
    assert not writer.done()
    assert queue.take() == 1
    await writer  # the take made room
    assert queue.take() == 2 and queue.take() is None
