"""Mutations that lose their OCC race on one hot document re-run in line, one per
commit, instead of all at once: the work per increment stays flat as writers are added,
and no update is lost (database/conflict_lines.py)."""

from __future__ import annotations

import asyncio

from pyconvex import api
from pyconvex.testing import ConvexTest

WRITERS = 16
EACH = 10


async def test_a_hot_document_is_re_run_about_once_per_commit(app_dir):
    async with ConvexTest(app_dir) as t:
        cid = await t.run(lambda ctx: ctx.db.insert("counters", {"name": "hot", "value": 0}))
        runner = t.deployment.runner
        before = runner.executions

        async def writer() -> None:
            for _ in range(EACH):
                await t.mutation(api.counters.bump, {"id": cid})

        await asyncio.gather(*(writer() for _ in range(WRITERS)))
        n = WRITERS * EACH
        doc = await t.run(lambda ctx: ctx.db.get(cid))
        assert doc["value"] == n  # serializable: no increment lost
        # Each commit is followed by one re-run from the line, plus at most a newcomer
        # that loses to it (and joins the line); the first round's losers line up once.
        # Without the lines every loser re-ran on every commit: about 15 runs each.
        assert runner.executions - before <= 3 * n + WRITERS
        assert len(runner.conflict_lines) == 0  # every turn was handed back


async def test_a_failing_re_run_hands_its_turn_on(app_dir):
    """A re-run at the front of a line that raises must not leave the line stuck."""
    async with ConvexTest(app_dir) as t:
        cid = await t.run(lambda ctx: ctx.db.insert("counters", {"name": "hot", "value": 0}))
        runner = t.deployment.runner
        state = {"fail": 3}

        async def bump_or_fail(ctx, txn):  # type: ignore[no-untyped-def]
            doc = await ctx.db.get(cid)
            await ctx.db.patch(cid, {"value": doc["value"] + 1})
            if state["fail"] and runner.occ_retries:
                state["fail"] -= 1
                raise RuntimeError("handler failed on its re-run")

        async def one() -> bool:
            try:
                await runner.run_in_transaction(bump_or_fail, "test:bump_or_fail")
            except RuntimeError:
                return False
            return True

        done = await asyncio.gather(*(one() for _ in range(WRITERS)))
        doc = await t.run(lambda ctx: ctx.db.get(cid))
        assert doc["value"] == sum(done) and sum(done) >= WRITERS - 3
        assert len(runner.conflict_lines) == 0
