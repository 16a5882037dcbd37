"""A hot document under many writers: no increment is lost, and once the document is
known to be hot a new run of the function lines up before its first run, so each
increment costs about one handler run (database/conflict_lines.py). A run that lined up
for a key it then does not read hands the turn on and the guess is dropped."""

from __future__ import annotations

import asyncio
import contextvars
from typing import Any

from pyconvex import api
from pyconvex.database.conflict_lines import PROBE_EVERY
from pyconvex.testing import ConvexTest

WRITERS = 16
EACH = 10


async def test_a_hot_counter_costs_about_one_run_per_increment(app_dir: Any) -> None:
    async with ConvexTest(app_dir) as t:
        runner = t.deployment.runner
        lines = runner.conflict_lines
        counter = await t.run(lambda ctx: ctx.db.insert("counters", {"name": "n", "value": 0}))
        n = WRITERS * EACH
        left = [n]  # increments not yet started: callers take the next as each returns
        start_runs = runner.executions

        async def closed_loop() -> None:
            while left[0]:
                left[0] -= 1
                await t.mutation(api.counters.bump, {"id": counter})

        await asyncio.gather(*(closed_loop() for _ in range(WRITERS)))
        runs = runner.executions - start_runs
        final = await t.run(lambda ctx: ctx.db.get(counter))
        assert final["value"] == n  # serializable: no increment lost
        # Only the first round runs side by side (one wins, the others lose once and
        # line up); later calls wait in line before running. Had every newcomer run
        # beside the front of the line, it would be two runs per increment.
        assert runs < 1.5 * n, runs
        assert lines.lined_first > 0 and lines.wrong_guesses == 0
        assert len(lines) == 0  # every turn was handed back


async def test_a_run_that_does_not_read_the_guessed_key_hands_it_on(app_dir: Any) -> None:
    async with ConvexTest(app_dir) as t:
        hot = await t.run(lambda ctx: ctx.db.insert("counters", {"name": "hot", "value": 0}))
        cold = await t.run(lambda ctx: ctx.db.insert("counters", {"name": "cold", "value": 0}))
        runner = t.deployment.runner
        lines = runner.conflict_lines
        name = "test:bump_either"
        target = {"id": hot}

        async def bump_either(ctx: Any, txn: Any) -> None:
            doc = await ctx.db.get(target["id"])
            await ctx.db.patch(target["id"], {"value": doc["value"] + 1})

        # Contention on the hot document: the function learns its key.
        await asyncio.gather(
            *(runner.run_in_transaction(bump_either, name) for _ in range(WRITERS))
        )
        key = lines.guess(name)
        assert key is not None and runner.occ_retries > 0

        # While that key's line is busy, a new run lines up before running ...
        await lines.take_turn(key)
        target["id"] = cold
        first = lines.lined_first
        waiting = asyncio.create_task(runner.run_in_transaction(bump_either, name))
        for _ in range(20):
            await asyncio.sleep(0)
        assert lines.lined_first == first + 1 and lines.waiting(key) == 1
        assert not waiting.done()
        lines.release(key)
        await waiting
        # ... but it read the cold document only: the guess is dropped,
        assert lines.wrong_guesses == 1 and lines.guess(name) is None
        # and the next run does not wait, though the hot key's line is busy again.
        await lines.take_turn(key)
        await runner.run_in_transaction(bump_either, name)
        assert lines.lined_first == first + 1
        lines.release(key)
        assert len(lines) == 0
        hot_doc = await t.run(lambda ctx: ctx.db.get(hot))
        cold_doc = await t.run(lambda ctx: ctx.db.get(cold))
        assert (hot_doc["value"], cold_doc["value"]) == (WRITERS, 2)


async def test_a_guess_no_lost_race_confirms_is_dropped(app_dir: Any) -> None:
    """A function lost once on a key it then only reads (as every insert reads its
    table's catalog entry): lining up must not outlive the race, or a closed loop of
    callers would keep the line busy and go one commit per fsync for good."""
    async with ConvexTest(app_dir) as t:
        hot = await t.run(lambda ctx: ctx.db.insert("counters", {"name": "hot", "value": 0}))
        own = [
            await t.run(lambda ctx, n=n: ctx.db.insert("counters", {"name": f"c{n}", "value": 0}))
            for n in range(WRITERS)
        ]
        runner = t.deployment.runner
        lines = runner.conflict_lines
        name = "test:read_hot_write_own"
        mine: contextvars.ContextVar[int | None] = contextvars.ContextVar("mine", default=None)

        async def step(ctx: Any, txn: Any) -> None:
            doc = await ctx.db.get(hot)
            n = mine.get()
            if n is None:  # the race: everyone writes the hot document
                await ctx.db.patch(hot, {"value": doc["value"] + 1})
                return
            target = own[n]
            row = await ctx.db.get(target)
            await ctx.db.patch(target, {"value": row["value"] + 1})

        await asyncio.gather(*(runner.run_in_transaction(step, name) for _ in range(WRITERS)))
        key = lines.guess(name)
        assert key is not None

        # Now each run only reads the hot document. Its line is busy (held here): the
        # first PROBE_EVERY runs line up, the next runs without waiting, commits at
        # once, and the guess is dropped; the rest run freely.
        lines.learn(name, key)  # as a lost race would: a fresh guess
        await lines.take_turn(key)
        first = lines.lined_first

        async def caller(n: int) -> None:
            mine.set(n)  # this task's own document
            for _ in range(5):
                await runner.run_in_transaction(step, name)

        tasks = [asyncio.create_task(caller(n)) for n in range(WRITERS)]
        for _ in range(20):
            await asyncio.sleep(0)
        assert lines.lined_first == first + PROBE_EVERY
        assert lines.guess(name) is None or lines.waiting(key) == PROBE_EVERY
        lines.release(key)
        await asyncio.gather(*tasks)
        assert lines.lined_first == first + PROBE_EVERY and lines.guess(name) is None
        assert len(lines) == 0
        for target in own:
            row = await t.run(lambda ctx, target=target: ctx.db.get(target))
            assert row["value"] == 5
