"""``ctx.scheduler``: scheduling is a write to ``_scheduled_functions``.

In a mutation the job document is inserted in the mutation's own transaction, so a
mutation that schedules and then fails (or loses an OCC race and re-runs) schedules
nothing, or exactly once. In an action, each call is its own small mutation.

A job document, as Convex shapes it: ``name`` (the function path), ``args`` (a
one-element list), ``scheduledTime`` (ms), ``state`` (``{"kind": "pending"}``,
``inProgress``, ``success``, ``failed`` with ``error``, ``canceled``) and
``completedTime``. ``nextTs`` is pyconvex's own: when the executor next has to act on
the job (run it when pending; delete it when its result's retention ends), one index
for both.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from pyconvex.database import SCHEDULED_FUNCTIONS_TABLE, Transaction
from pyconvex.errors import InvalidValueError, LimitExceededError, NotFoundError
from pyconvex.functions.api import function_path
from pyconvex.functions.registry import Registry, canonicalize_path, display_path
from pyconvex.functions.runtime.retention import finished
from pyconvex.functions.runtime.runner_api import Runner
from pyconvex.values import Id, convex_to_json, value_size

MAX_SCHEDULED_PER_MUTATION = 1_000
MAX_ARGS_BYTES = 8 * 1024 * 1024
MAX_TOTAL_ARGS_BYTES = 16 * 1024 * 1024
PENDING = {"kind": "pending"}


def job_document(registry: Registry, when_ms: float, ref: Any, args: Any) -> dict[str, Any]:
    """A pending job; the reference, arguments and time are checked here, at scheduling."""
    path = canonicalize_path(function_path(ref))
    if registry.lookup(path) is None:
        raise NotFoundError(
            f"Attempted to schedule {display_path(path)}, which does not exist.",
            short_msg="FunctionNotFound",
        )
    if args is None:
        args = {}
    if not isinstance(args, dict):
        raise InvalidValueError(f"scheduler: args of {display_path(path)} must be a dict.")
    convex_to_json(args)  # raises a clear error on non-Convex values
    size = value_size(args)
    if size > MAX_ARGS_BYTES:
        raise LimitExceededError(
            f"scheduler: arguments of {display_path(path)} are {size} bytes "
            f"(limit {MAX_ARGS_BYTES})."
        )
    if not isinstance(when_ms, (int, float)) or when_ms != when_ms:
        raise InvalidValueError(f"scheduler: invalid time {when_ms!r}.")
    when = float(when_ms)
    return {"name": path, "args": [args], "scheduledTime": when, "state": dict(PENDING),
            "nextTs": when}


class MutationScheduler:
    """``ctx.scheduler`` in mutations: jobs commit with the mutation, or not at all."""

    __slots__ = ("_bytes", "_count", "_registry", "_txn")

    def __init__(self, txn: Transaction, registry: Registry) -> None:
        self._txn = txn
        self._registry = registry
        self._count = 0
        self._bytes = 0

    async def run_after(self, delay_ms: float, ref: Any, args: dict[str, Any] | None = None) -> Id:
        """Run ``ref(args)`` ``delay_ms`` after this mutation's time; returns the job id."""
        return await self.run_at(self._txn.now_ms + max(0.0, float(delay_ms)), ref, args)

    async def run_at(self, timestamp_ms: float, ref: Any, args: dict[str, Any] | None = None) -> Id:
        """Run ``ref(args)`` at ``timestamp_ms`` (ms since the epoch; past times run now)."""
        doc = job_document(self._registry, timestamp_ms, ref, args)
        self._count += 1
        self._bytes += value_size(doc["args"])
        if self._count > MAX_SCHEDULED_PER_MUTATION:
            raise LimitExceededError(
                f"A mutation can schedule at most {MAX_SCHEDULED_PER_MUTATION} functions."
            )
        if self._bytes > MAX_TOTAL_ARGS_BYTES:
            raise LimitExceededError(
                f"Scheduled arguments of one mutation exceed {MAX_TOTAL_ARGS_BYTES} bytes."
            )
        return Id(self._txn.insert_system(SCHEDULED_FUNCTIONS_TABLE, doc),
                  SCHEDULED_FUNCTIONS_TABLE)

    async def cancel(self, job_id: str) -> None:
        """Cancel a job that has not started; a finished or running job is left as is."""
        await cancel_job(self._txn, job_id)


async def cancel_job(txn: Transaction, job_id: str) -> None:
    table = txn._table_of_id(job_id) if isinstance(job_id, str) else None
    if table is None or table.name != SCHEDULED_FUNCTIONS_TABLE:
        raise InvalidValueError(f"scheduler.cancel: {job_id!r} is not a scheduled function id.")
    doc = await txn.get(job_id)
    if doc is None:
        raise NotFoundError(f"scheduler.cancel: no scheduled function {job_id}.",
                            short_msg="DocumentNotFound")
    state = doc.get("state")
    if isinstance(state, dict) and state.get("kind") == "pending":
        await txn.update_system(job_id, finished(doc, {"kind": "canceled"}, txn.now_ms))


class ActionScheduler:
    """``ctx.scheduler`` in actions: every call is its own mutation."""

    __slots__ = ("_runner",)

    def __init__(self, runner: Runner) -> None:
        self._runner = runner

    async def _in_mutation(self, body: Callable[[Transaction], Awaitable[Any]]) -> Any:
        async def run(ctx: Any, txn: Transaction) -> Any:
            return await body(txn)

        return (await self._runner.run_in_transaction(run, "scheduler")).value

    async def run_after(self, delay_ms: float, ref: Any, args: dict[str, Any] | None = None) -> Id:
        return await self.run_at(self._runner.clock() + max(0.0, float(delay_ms)), ref, args)

    async def run_at(self, timestamp_ms: float, ref: Any, args: dict[str, Any] | None = None) -> Id:
        doc = job_document(self._runner.registry, timestamp_ms, ref, args)

        async def insert(txn: Transaction) -> Id:
            return Id(txn.insert_system(SCHEDULED_FUNCTIONS_TABLE, doc), SCHEDULED_FUNCTIONS_TABLE)

        result: Id = await self._in_mutation(insert)
        return result

    async def cancel(self, job_id: str) -> None:
        async def cancel(txn: Transaction) -> None:
            await cancel_job(txn, job_id)

        await self._in_mutation(cancel)
