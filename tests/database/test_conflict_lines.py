"""Lines of re-runs on a hot key: first come, first served; a turn is held until
released; a cancelled waiter neither blocks the line nor loses a turn it was given."""

from __future__ import annotations

import asyncio

import pytest

from pyconvex.database.conflict_lines import ConflictLines

pytestmark = pytest.mark.one_backend

KEY = (7, b"hot")
OTHER = (7, b"cold")


async def test_turns_go_in_the_order_the_losers_arrived() -> None:
    lines = ConflictLines()
    assert await lines.take_turn(KEY) is False  # nobody ahead: at once
    order: list[int] = []

    async def waiter(n: int) -> None:
        assert await lines.take_turn(KEY) is True
        order.append(n)
        lines.release(KEY)

    tasks = [asyncio.create_task(waiter(n)) for n in range(5)]
    await asyncio.sleep(0)
    assert lines.waiting(KEY) == 5 and order == []
    # Another key's line is its own.
    assert await lines.take_turn(OTHER) is False
    lines.release(OTHER)
    lines.release(KEY)
    await asyncio.gather(*tasks)
    assert order == [0, 1, 2, 3, 4]
    assert len(lines) == 0


async def test_a_turn_is_held_until_released() -> None:
    lines = ConflictLines()
    await lines.take_turn(KEY)
    second = asyncio.create_task(lines.take_turn(KEY))
    for _ in range(10):
        await asyncio.sleep(0)
    assert not second.done()
    lines.release(KEY)
    assert await second is True
    assert len(lines) == 1  # the second holds it now
    lines.release(KEY)
    assert len(lines) == 0


async def test_a_cancelled_waiter_leaves_the_line() -> None:
    lines = ConflictLines()
    await lines.take_turn(KEY)
    gone = asyncio.create_task(lines.take_turn(KEY))
    after = asyncio.create_task(lines.take_turn(KEY))
    await asyncio.sleep(0)
    gone.cancel()
    with pytest.raises(asyncio.CancelledError):
        await gone
    lines.release(KEY)
    assert await after is True  # the cancelled one was skipped
    lines.release(KEY)
    assert len(lines) == 0


async def test_a_turn_given_to_a_waiter_being_cancelled_passes_on() -> None:
    lines = ConflictLines()
    await lines.take_turn(KEY)
    cancelled = asyncio.create_task(lines.take_turn(KEY))
    after = asyncio.create_task(lines.take_turn(KEY))
    await asyncio.sleep(0)
    lines.release(KEY)  # the turn is the first waiter's ...
    cancelled.cancel()  # ... which is cancelled before it resumes
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    assert await after is True
    lines.release(KEY)
    assert len(lines) == 0
