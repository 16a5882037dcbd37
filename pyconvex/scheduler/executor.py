"""The scheduler's executor: finds due jobs in ``_scheduled_functions`` and runs them.

- A scheduled **mutation** runs in one transaction together with its job's change to
  ``success``: the function's writes and "it ran" commit atomically, so it runs exactly
  once (an OCC conflict re-runs both; a crash before the commit leaves it pending).
  If it throws, its writes are discarded and the job is marked ``failed``.
- A scheduled **action** is first claimed (``pending`` -> ``inProgress``, its own
  commit), then run, then marked ``success``/``failed``. Actions run at most once: on
  start, a job still ``inProgress`` (the process died mid-action) is marked ``failed``,
  never re-run.
- Finished jobs are kept 7 days (``nextTs`` is then their deletion time), then removed.
- Crons (``_cron_jobs``): when a job's ``nextRun`` is due, one transaction schedules its
  function and moves ``nextRun`` to the next due time after now, so a restart never runs
  a cron twice and a run missed while down happens once, not as a burst.

Every state change goes through the committer, so two executors can never both claim a
job (the second one's transaction conflicts). On SQLite one process owns the database
file (the persistence holds an exclusive lock), so there is one executor per database.

The clock is injected: the server runs :meth:`run_forever`; ``ConvexTest.advance_time``
calls :meth:`run_until_idle` after moving its virtual clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from typing import Any

import orjson

from pyconvex.database import SCHEDULED_FUNCTIONS_TABLE, Committed, Database, Query, Transaction
from pyconvex.database.catalog import CRON_JOBS_TABLE
from pyconvex.errors import ConvexError, OccConflict, PyConvexError
from pyconvex.functions import CronJob, FunctionKind, FunctionRunner, Registry, next_run
from pyconvex.functions.runtime.request_meta import RequestOrigin, origin_scope
from pyconvex.functions.runtime.retention import finished
from pyconvex.persistence import SharedLog
from pyconvex.values import convex_to_json

log = logging.getLogger("pyconvex.scheduler")

RECOVERY_EVERY_S = 30.0
BATCH = 256
CONCURRENCY = 64
MAX_SLEEP_S = 5.0
RESTART_ERROR = (
    "The server stopped while this action was running; actions run at most once, so it "
    "was not retried."
)


class SchedulerExecutor:
    def __init__(self, db: Database, runner: FunctionRunner) -> None:
        self.db = db
        self.runner = runner
        self.clock = db.clock
        self._wake = asyncio.Event()
        self._watched: set[int] = set()
        self._remove_listener = db.add_listener(self._on_commit)
        self._task: asyncio.Task[None] | None = None
        self.executed = 0
        # Who claims actions: a process whose instance lock is gone died mid-action.
        self.instance = secrets.token_hex(8)
        shared = db.persistence
        self._shared: SharedLog | None = shared if isinstance(shared, SharedLog) else None

    # ------------------------------------------------------------ lifecycle
    def _on_commit(self, committed: list[Committed]) -> None:
        if not self._watched:
            catalog = self.db.catalog
            for name in (SCHEDULED_FUNCTIONS_TABLE, CRON_JOBS_TABLE):
                self._watched.update(i.id for i in catalog.tables_by_name[name].indexes.values())
        watched = self._watched
        for item in committed:  # this runs for every commit: one set test each
            if not watched.isdisjoint(item.request.written_indexes):
                self._wake.set()
                return

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self.run_forever(), name="scheduler")

    async def stop(self) -> None:
        self._remove_listener()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def run_forever(self) -> None:
        if self._shared is not None:
            await self._shared.hold_instance_lock(self.instance)
        await self.recover()
        last_recovery = time.monotonic()
        while True:
            try:
                if self._shared is not None and time.monotonic() - last_recovery > RECOVERY_EVERY_S:
                    await self.recover()  # another process may have died mid-action
                    last_recovery = time.monotonic()
                await self.run_until_idle()
                delay = await self._seconds_to_next()
            except Exception:  # a bad round must not stop the scheduler
                log.exception("scheduler round failed")
                delay = 1.0
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)

    async def _seconds_to_next(self) -> float:
        txn = self.db.begin(writable=False, limits=None)
        first = await Query(txn, SCHEDULED_FUNCTIONS_TABLE).with_index(
            "by_next_ts", lambda q: q.gte("nextTs", 0.0)
        ).first()
        times = [_number(first["nextTs"])] if first is not None else []
        async for _, cron in txn.scan(txn.catalog.tables_by_name[CRON_JOBS_TABLE].by_id, b"", None):
            times.append(_number(cron["nextRun"]))
        if not times:
            return MAX_SLEEP_S
        return max(0.0, min(MAX_SLEEP_S, (min(times) - self.clock()) / 1000))

    # ------------------------------------------------------------- recovery
    async def recover(self) -> int:
        """Mark actions left ``inProgress`` by a dead process as failed (never re-run).

        On SQLite only this process can have claimed anything still running (the file
        is locked); with several processes, a claim whose process still holds its
        instance lock is left alone.
        """
        txn = self.db.begin(limits=None)
        running = await Query(txn, SCHEDULED_FUNCTIONS_TABLE).with_index(
            "by_state", lambda q: q.eq("state.kind", "inProgress")
        ).collect()
        stuck = []
        for job in running:
            claimer = str(job.get("claimedBy", ""))
            if claimer == self.instance and self._task is not None:
                continue  # ours, still running
            other = self._shared is not None and claimer and claimer != self.instance
            if other and self._shared is not None and await self._shared.instance_alive(claimer):
                continue  # its process is alive: the action is still running there
            stuck.append(job)
        for job in stuck:
            await txn.update_system(
                str(job["_id"]), finished(job, {"kind": "failed", "error": RESTART_ERROR}, self.clock())
            )
        await self.db.commit(txn)
        return len(stuck)

    # ------------------------------------------------------------------ runs
    async def run_until_idle(self) -> int:
        """Run crons and jobs due at the clock's now, until none is left; returns how many."""
        total = 0
        while True:
            ran = await self.run_crons() + await self.run_due()
            total += ran
            if not ran:
                return total

    async def run_due(self) -> int:
        now = self.clock()
        txn = self.db.begin(writable=False, limits=None)
        due = await Query(txn, SCHEDULED_FUNCTIONS_TABLE).with_index(
            "by_next_ts", lambda q: q.gte("nextTs", 0.0).lte("nextTs", float(now))
        ).take(BATCH)
        if not due:
            return 0
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one(job: dict[str, Any]) -> None:
            async with gate:
                try:
                    await self._handle(job)
                except Exception:
                    log.exception("scheduled job %s failed to run", job.get("_id"))

        await asyncio.gather(*(one(job) for job in due))
        return len(due)

    async def _handle(self, job: dict[str, Any]) -> None:
        kind = job["state"]["kind"]
        job_id = str(job["_id"])
        if kind != "pending":  # a finished job whose retention ended
            await self._transact(lambda txn: self._delete_if_finished(txn, job_id))
            return
        path = str(job["name"])
        args = job["args"][0] if job.get("args") else {}
        fn = self.runner.registry.lookup(path)
        if fn is None or fn.kind is FunctionKind.QUERY:
            why = (f"Could not find function for '{path}'" if fn is None
                   else f"'{path}' is a query; only mutations and actions can be scheduled")
            await self._transact(lambda txn: self._finish(txn, job_id, "failed", why))
            return
        self.executed += 1
        # ctx.meta: this job's id, and no client address (whoever woke the scheduler
        # is not who scheduled the job).
        with origin_scope(RequestOrigin(scheduled_function_id=job_id)):
            if fn.kind is FunctionKind.MUTATION:
                await self._run_mutation(job_id, fn, args)
            else:
                await self._run_action(job_id, path, args)

    async def _run_mutation(self, job_id: str, fn: Any, args: Any) -> None:
        async def body(ctx: Any, txn: Transaction) -> Any:
            job: dict[str, Any] | None = await txn.get(job_id)
            if job is None or job["state"]["kind"] != "pending":
                return None  # someone else ran or cancelled it
            value = await self.runner.call_in_transaction(fn, args, ctx, txn)
            await txn.update_system(job_id, finished(job, {"kind": "success"}, txn.now_ms))
            return value

        try:
            await self.runner.run_in_transaction(body, fn.path or "scheduled")
        except Exception as e:
            detail = _detail(e)
            await self._transact(lambda txn: self._finish(txn, job_id, "failed", detail))

    async def _run_action(self, job_id: str, path: str, args: Any) -> None:
        claimed = await self._transact(lambda txn: self._claim(txn, job_id))
        if not claimed:
            return
        try:
            await self.runner.run_action(path, args, None, internal_ok=True)
        except Exception as e:
            detail = _detail(e)
            await self._transact(
                lambda txn: self._finish(txn, job_id, "failed", detail, expect="inProgress")
            )
        else:
            await self._transact(lambda txn: self._finish(txn, job_id, "success", None, expect="inProgress"))

    # --------------------------------------------------------- transactions
    async def _transact(self, fn: Any) -> Any:
        for _ in range(64):
            txn = self.db.begin(limits=None)
            result = await fn(txn)
            try:
                await self.db.commit(txn)
            except OccConflict:
                continue
            return result
        raise OccConflict("scheduler: a job kept conflicting")

    async def _claim(self, txn: Transaction, job_id: str) -> bool:
        job: dict[str, Any] | None = await txn.get(job_id)
        if job is None or job["state"]["kind"] != "pending":
            return False
        claimed = dict(job)
        claimed["state"] = {"kind": "inProgress"}
        claimed["claimedBy"] = self.instance
        claimed.pop("nextTs", None)
        await txn.update_system(job_id, claimed)
        return True

    async def _finish(
        self, txn: Transaction, job_id: str, kind: str, error: str | None, expect: str = "pending"
    ) -> None:
        job: dict[str, Any] | None = await txn.get(job_id)
        if job is None or job["state"]["kind"] != expect:
            return
        state: dict[str, Any] = {"kind": kind}
        if error is not None:
            state["error"] = error
        await txn.update_system(job_id, finished(job, state, self.clock()))

    async def _delete_if_finished(self, txn: Transaction, job_id: str) -> None:
        job: dict[str, Any] | None = await txn.get(job_id)
        if job is None or job["state"]["kind"] not in ("success", "failed", "canceled"):
            return
        if float(job.get("nextTs", 0)) <= self.clock():
            await txn.update_system(job_id, None)

    # ----------------------------------------------------------------- crons
    async def sync_crons(self, registry: Registry) -> None:
        """Make ``_cron_jobs`` match the loaded ``crons.py``: add, change, remove."""
        crons = registry.crons
        jobs: dict[str, CronJob] = dict(crons.jobs) if crons is not None else {}

        async def sync(txn: Transaction) -> None:
            table = txn.catalog.tables_by_name[CRON_JOBS_TABLE]
            existing: dict[str, dict[str, Any]] = {}
            async for _, found in txn.scan(table.by_id, b"", None):
                existing[str(found["name"])] = found
            now = self.clock()
            for name, job in jobs.items():
                fields: dict[str, Any] = {
                    "name": name, "path": job.path, "args": job.args, "schedule": job.spec()
                }
                doc = existing.pop(name, None)
                if doc is None:
                    txn.insert_system(CRON_JOBS_TABLE, {**fields, "nextRun": next_run(job, now)})
                elif any(doc.get(k) != v for k, v in fields.items()):
                    await txn.update_system(str(doc["_id"]), {**doc, **fields, "nextRun": next_run(job, now)})
            for doc in existing.values():
                await txn.update_system(str(doc["_id"]), None)

        await self._transact(sync)
        self._wake.set()

    async def run_crons(self) -> int:
        crons = self.runner.registry.crons
        jobs: dict[str, CronJob] = dict(crons.jobs) if crons is not None else {}
        if not jobs:
            return 0
        now = self.clock()
        txn = self.db.begin(writable=False, limits=None)
        due = [doc async for _, doc in txn.scan(txn.catalog.tables_by_name[CRON_JOBS_TABLE].by_id, b"", None)
               if _number(doc["nextRun"]) <= now and str(doc["name"]) in jobs]
        for doc in due:
            job = jobs[str(doc["name"])]
            await self._transact(lambda txn, doc=doc, job=job: self._fire(txn, str(doc["_id"]), job, now))
        return len(due)

    async def _fire(self, txn: Transaction, cron_id: str, job: CronJob, now: float) -> None:
        doc: dict[str, Any] | None = await txn.get(cron_id)
        if doc is None or float(doc["nextRun"]) > now:
            return  # fired already (by another round) or rescheduled
        txn.insert_system(SCHEDULED_FUNCTIONS_TABLE, {
            "name": job.path, "args": [job.args], "scheduledTime": float(now),
            "state": {"kind": "pending"}, "nextTs": float(now),
        })
        await txn.update_system(cron_id, {
            **doc, "lastRun": float(now),
            "nextRun": next_run(job, now, float(doc["nextRun"]) if job.interval_ms else None),
        })


def _number(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) else 0.0


def _detail(e: BaseException) -> str:
    """The error as the job's ``state.error`` records it."""
    if isinstance(e, ConvexError):
        return f"Uncaught ConvexError: {orjson.dumps(convex_to_json(e.data)).decode()}"
    if isinstance(e, PyConvexError):
        return e.message
    return f"Uncaught {type(e).__name__}: {e}"
