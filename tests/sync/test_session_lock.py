"""A session's lock: a free lock is taken at once, a held one waits in arrival order,
and a waiter cancelled before or after it is handed the lock leaves it usable."""

from __future__ import annotations

import asyncio

import pytest

from pyconvex.sync.session_lock import SessionLock


async def test_a_free_lock_is_taken_by_a_plain_call_and_a_held_one_is_not() -> None:
    lock = SessionLock()
    assert not lock.locked()
    assert lock.take()
    assert lock.locked() and not lock.take()
    lock.release()
    assert not lock.locked()
    with pytest.raises(RuntimeError):
        lock.release()


async def test_waiters_get_the_lock_in_arrival_order_and_nobody_barges_in() -> None:
    lock = SessionLock()
    order: list[int] = []

    async def user(k: int) -> None:
        async with lock:
            order.append(k)
            await asyncio.sleep(0)

    assert lock.take()
    tasks = [asyncio.create_task(user(k)) for k in range(4)]
    await asyncio.sleep(0)
    lock.release()
    assert lock.locked() and not lock.take()  # handed to the first waiter, not freed
    await asyncio.gather(*tasks)
    assert order == [0, 1, 2, 3]
    assert not lock.locked()


async def test_a_waiter_cancelled_in_line_leaves_the_line() -> None:
    lock = SessionLock()
    assert lock.take()
    first = asyncio.create_task(lock.acquire())
    second = asyncio.create_task(lock.acquire())
    await asyncio.sleep(0)
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    lock.release()
    await second  # the lock went to the one still waiting
    assert lock.locked()
    lock.release()
    assert not lock.locked()


async def test_a_waiter_cancelled_after_it_was_handed_the_lock_passes_it_on() -> None:
    lock = SessionLock()
    assert lock.take()
    first = asyncio.create_task(lock.acquire())
    second = asyncio.create_task(lock.acquire())
    await asyncio.sleep(0)
    lock.release()  # handed to ``first``, which has not run yet
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    await second
    assert lock.locked()
    lock.release()
    assert not lock.locked() and lock.take()


async def test_a_waiter_cancelled_after_a_release_skipped_it_leaves_no_trace() -> None:
    lock = SessionLock()
    assert lock.take()
    waiter = asyncio.create_task(lock.acquire())
    await asyncio.sleep(0)
    waiter.cancel()  # its future is cancelled now; the task sees it on its next step
    lock.release()  # skips the cancelled waiter: the lock is free
    assert not lock.locked()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert not lock.locked() and lock.take()
