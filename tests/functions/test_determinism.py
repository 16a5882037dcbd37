"""Determinism of queries and mutations (runtime/determinism.py), on each backend.

Random draws are seeded from the function, its arguments and its snapshot; the clock
is frozen at the execution's start; actions and the code around functions keep the
real clock and real randomness.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from pathlib import Path

from pyconvex.deployment import Deployment
from pyconvex.errors import NondeterminismError
from pyconvex.testing import ConvexTest
from tests.conftest import FIXTURES

APP = FIXTURES / "isolation" / "convex"


async def test_two_runs_at_one_snapshot_draw_the_same_numbers() -> None:
    async with ConvexTest(APP) as t:
        first = await t.query("limits:dice", {})
        second = await t.query("limits:dice", {})
        assert first[:2] == second[:2]  # same snapshot: the same draws
        assert first[2] <= second[2]  # the clock is each execution's start
        await t.mutation("limits:mark", {"label": "x"})
        third = await t.query("limits:dice", {})
        assert third[:2] != first[:2]  # a new snapshot seeds anew


async def test_the_clock_is_frozen_at_the_start_and_time_and_datetime_agree() -> None:
    async with ConvexTest(APP) as t:
        await t.advance_time(12_345)
        first, second, now_ms = await t.mutation("limits:stamp", {})
        assert first == second == now_ms / 1000
        dice = await t.query("limits:dice", {})
        assert abs(dice[2] - dice[3]) < 1e-5  # time.time() and datetime.now() agree


async def test_at_a_given_snapshot_on_a_real_deployment(make_db_url: Callable[[], str]) -> None:
    async with await Deployment.open(make_db_url(), APP) as d:
        await d.runner.run_mutation("limits:mark", {"label": "x"}, internal_ok=True)
        ts = d.db.latest_ts
        one = await d.runner.run_query("limits:dice", {}, ts=ts)
        two = await d.runner.run_query("limits:dice", {}, ts=ts)
        assert one.value[:2] == two.value[:2]
        assert abs(one.value[2] - one.value[3]) < 1e-5  # frozen (datetime keeps µs)


async def test_concurrent_functions_and_code_outside_them_are_unaffected(
    make_db_url: Callable[[], str],
) -> None:
    async with await Deployment.open(make_db_url(), APP) as d:
        outside = [random.random() for _ in range(3)]
        assert len(set(outside)) == 3
        before = time.time()
        results = await asyncio.gather(
            *(d.runner.run_query("limits:dice", {}) for _ in range(5))
        )
        assert len({r.value[0] for r in results}) == 1  # one snapshot, one seed
        assert time.time() >= before and random.random() not in outside


async def test_file_writes_in_a_query_are_refused_but_not_outside(tmp_path: Path) -> None:
    target = tmp_path / "written.txt"
    async with ConvexTest(APP) as t:
        try:
            await t.query("limits:write_file", {"path": str(target)})
        except NondeterminismError as e:
            assert "limits:write_file: writing a file" in str(e)
        else:
            raise AssertionError("a query wrote a file")
        assert not target.exists()
    target.write_text("outside functions, files are writable")
    assert target.read_text().startswith("outside")


async def test_building_a_search_index_is_not_the_searching_querys_time(db_url: str) -> None:
    """A search index is built from the log on its first search (after a restart): that is
    the server's work, which a query's time limit does not count."""
    from pyconvex.functions import FunctionLimits

    search_app = FIXTURES / "searchapp" / "convex"
    d = await Deployment.open(db_url, search_app)
    try:
        for i in range(150):  # building the index takes several times the limit below
            await d.runner.run_mutation("messages:send", {
                "body": " ".join(f"word{i}x{j}" for j in range(300)), "channel": "a"})
    finally:
        await d.close()
    d = await Deployment.open(db_url, search_app, limits=FunctionLimits(query_mutation_s=0.05))
    try:
        found = await d.runner.run_query("messages:search", {"text": "word7x3"})
        assert len(found.value) == 1
    finally:
        await d.close()
