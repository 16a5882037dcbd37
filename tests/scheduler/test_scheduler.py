"""The scheduler and crons on the real engine, driven by the virtual clock."""

from __future__ import annotations

from pathlib import Path

import pytest

from pyconvex import ConvexError
from pyconvex.errors import LimitExceededError, NotFoundError
from pyconvex.functions.runtime.retention import RESULT_RETENTION_MS
from pyconvex.scheduler import RESTART_ERROR
from pyconvex.testing import ConvexTest

APP = Path(__file__).resolve().parents[1] / "fixtures" / "schedapp" / "convex"


def _texts(log: list[str]) -> list[str]:
    return [t for t in log if t not in ("tick", "noon")]


async def test_run_after_runs_once_when_due() -> None:
    async with ConvexTest(APP) as t:
        job_id = await t.mutation("tasks:schedule", {"delay": 5000, "text": "later"})
        job = await t.query("tasks:job", {"id": job_id})
        assert job["name"] == "tasks:record" and job["args"] == [{"text": "later"}]
        assert job["state"] == {"kind": "pending"}
        await t.advance_time(4000)
        assert _texts(await t.query("tasks:log", {})) == []
        await t.advance_time(1001)
        assert _texts(await t.query("tasks:log", {})) == ["later"]
        job = await t.query("tasks:job", {"id": job_id})
        assert job["state"] == {"kind": "success"} and job["completedTime"] >= job["scheduledTime"]
        await t.advance_time(10)
        assert _texts(await t.query("tasks:log", {})) == ["later"]  # exactly once


async def test_run_at_and_chains_scheduled_from_actions() -> None:
    async with ConvexTest(APP) as t:
        await t.mutation("tasks:schedule_at", {"at": 0, "text": "past"})  # a past time runs now
        await t.advance_time(0)
        await t.action("tasks:schedule_from_action", {"text": "from action"})
        await t.advance_time(1000)
        assert _texts(await t.query("tasks:log", {})) == ["past", "from action"]


async def test_cancel_before_due_prevents_the_run() -> None:
    async with ConvexTest(APP) as t:
        job_id = await t.mutation("tasks:schedule", {"delay": 1000, "text": "nope"})
        await t.mutation("tasks:cancel", {"id": job_id})
        await t.advance_time(2000)
        assert _texts(await t.query("tasks:log", {})) == []
        assert (await t.query("tasks:job", {"id": job_id}))["state"] == {"kind": "canceled"}


async def test_a_mutation_that_schedules_then_throws_schedules_nothing() -> None:
    async with ConvexTest(APP) as t:
        with pytest.raises(ConvexError):
            await t.mutation("tasks:schedule_then_fail", {"text": "ghost"})
        assert await t.query("tasks:jobs", {}) == []
        await t.advance_time(100)
        assert _texts(await t.query("tasks:log", {})) == []


async def test_a_failing_job_is_failed_and_its_writes_discarded() -> None:
    async with ConvexTest(APP) as t:
        job_id = await t.mutation("tasks:schedule_failing", {})
        await t.advance_time(0)
        job = await t.query("tasks:job", {"id": job_id})
        assert job["state"]["kind"] == "failed" and "Boom" in job["state"]["error"]
        assert _texts(await t.query("tasks:log", {})) == []


async def test_scheduled_actions_run() -> None:
    async with ConvexTest(APP) as t:
        job_id = await t.mutation("tasks:schedule_action", {"delay": 10, "text": "x"})
        await t.advance_time(10)
        assert _texts(await t.query("tasks:log", {})) == ["action:x"]
        assert (await t.query("tasks:job", {"id": job_id}))["state"] == {"kind": "success"}


async def test_an_action_cut_off_by_a_crash_is_failed_not_rerun() -> None:
    async with ConvexTest(APP) as t:
        job_id = await t.mutation("tasks:schedule_action", {"delay": 0, "text": "x"})
        executor = t.deployment.scheduler
        assert await executor._transact(lambda txn: executor._claim(txn, job_id))  # as if it had started
        assert await executor.recover() == 1  # what a restart does first
        job = await t.query("tasks:job", {"id": job_id})
        assert job["state"] == {"kind": "failed", "error": RESTART_ERROR}
        await t.advance_time(100)
        assert _texts(await t.query("tasks:log", {})) == []


async def test_limits_and_bad_references() -> None:
    async with ConvexTest(APP) as t:
        await t.mutation("tasks:schedule_many", {"n": 1000})
        with pytest.raises(LimitExceededError, match="at most 1000"):
            await t.mutation("tasks:schedule_many", {"n": 1001})
        assert len(await t.query("tasks:jobs", {})) == 1000
        with pytest.raises(NotFoundError, match="does not exist"):
            await t.run(lambda ctx: ctx.scheduler.run_after(0, "tasks:missing", {}))
        assert await t.finish_scheduled() == 1000


async def test_finished_jobs_are_kept_seven_days() -> None:
    async with ConvexTest(APP) as t:
        job_id = await t.mutation("tasks:schedule", {"delay": 0, "text": "x"})
        await t.advance_time(0)
        await t.advance_time(RESULT_RETENTION_MS - 60_000)
        assert await t.query("tasks:job", {"id": job_id}) is not None
        await t.advance_time(120_000)
        assert await t.query("tasks:job", {"id": job_id}) is None


async def test_crons_fire_on_the_virtual_clock() -> None:
    async with ConvexTest(APP) as t:
        await t.advance_time(59_000)
        assert (await t.query("tasks:log", {})).count("tick") == 0
        await t.advance_time(1_000)
        assert (await t.query("tasks:log", {})).count("tick") == 1
        # five minutes pass at once (as if the server was down): one run, not a burst
        await t.advance_time(5 * 60_000)
        assert (await t.query("tasks:log", {})).count("tick") == 2
        await t.advance_time(60_000)
        assert (await t.query("tasks:log", {})).count("tick") == 3
        # the daily job fires once a day at 12:00 UTC
        await t.advance_time(24 * 3600_000)
        assert (await t.query("tasks:log", {})).count("noon") == 1
        await t.advance_time(24 * 3600_000)
        assert (await t.query("tasks:log", {})).count("noon") == 2


async def test_crons_follow_reloads(tmp_path: Path, db_url: str) -> None:
    import shutil

    from pyconvex.database.catalog import CRON_JOBS_TABLE
    from pyconvex.deployment import Deployment

    app = tmp_path / "convex"
    shutil.copytree(APP, app)
    d = await Deployment.open(db_url, app)

    async def jobs() -> dict[str, object]:
        txn = d.db.begin(writable=False)
        table = txn.catalog.tables_by_name[CRON_JOBS_TABLE]
        return {str(doc["name"]): doc["schedule"] async for _, doc in txn.scan(table.by_id, b"", None)}

    try:
        assert await jobs() == {"tick": {"intervalMs": 60_000.0}, "noon": {"cron": "0 12 * * *"}}
        (app / "crons.py").write_text(
            "from pyconvex import Crons, internal\n\ncrons = Crons()\n"
            'crons.interval("tick", internal.tasks.record, {"text": "tick"}, minutes=2)\n'
        )
        await d.load(app)
        assert await jobs() == {"tick": {"intervalMs": 120_000.0}}  # changed, and noon removed
        (app / "crons.py").write_text(
            "from pyconvex import Crons, internal\n\ncrons = Crons()\n"
            'crons.hourly("bad", internal.tasks.missing)\n'
        )
        with pytest.raises(Exception, match="'bad' runs tasks:missing, which does not exist"):
            await d.load(app)
        assert await jobs() == {"tick": {"intervalMs": 120_000.0}}  # the old code keeps serving
    finally:
        await d.close()
