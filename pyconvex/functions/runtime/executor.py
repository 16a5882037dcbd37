"""Running functions: resolve, validate arguments, execute, validate the result.

- Queries run read-only at the latest snapshot (or a given one) and return their read
  set with the result, so the sync layer can tell when to re-run them.
- Mutations run in one transaction and commit through the committer. If the commit
  loses an OCC race the whole handler re-runs on a fresh snapshot, up to
  ``MAX_OCC_ATTEMPTS``; then a :class:`ConflictError`. It re-runs once the commit it
  lost to is published if that one is still being written, else after a jittered
  exponential backoff. A handler that raises commits nothing.
- Actions run outside any transaction; each ``ctx.run_*`` is its own.

Log lines are captured per execution and travel with the result, or with the error as
``error.log_lines``.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from pyconvex.database import Catalog, Database, ReadSet, Transaction
from pyconvex.database.query.pagination import QueryJournal, current_journal
from pyconvex.errors import (
    ArgumentValidationError,
    ConflictError,
    InvalidValueError,
    NotFoundError,
    OccConflict,
    ReturnValueValidationError,
)
from pyconvex.functions.api import function_path
from pyconvex.functions.registration import FunctionKind, RegisteredFunction
from pyconvex.functions.registry import Registry, canonicalize_path, display_path
from pyconvex.functions.runtime.ctx_impl import ActionCtx, MutationCtx, QueryCtx
from pyconvex.functions.runtime.guard import forbid_io, install_io_guard
from pyconvex.functions.runtime.logs import current_log, install_log_capture
from pyconvex.functions.runtime.storage import StorageService
from pyconvex.schema import ValidationFailure
from pyconvex.values import convex_to_json

MAX_OCC_ATTEMPTS = 64
BACKOFF_BASE_S = 0.0005
BACKOFF_CAP_S = 0.05
UNPUBLISHED_WAIT_S = 1.0  # a failed write is never published: then retry anyway


@dataclass(slots=True)
class FunctionResult:
    value: Any
    log_lines: list[str] = field(default_factory=list)
    ts: int | None = None
    """Snapshot timestamp (queries) or commit timestamp (mutations)."""
    reads: ReadSet | None = None
    """What a query read (for subscriptions)."""
    journal: str | None = None
    """The query journal this run produced (where its page ended; see
    ``database/query/pagination.py``): pass it to the next run of the same subscription."""


@dataclass(slots=True, frozen=True)
class ExecutionRecord:
    """One finished execution, for log followers (``pyconvex logs``, the dev console)."""

    path: str
    kind: str
    log_lines: list[str]
    error: str | None
    started_ms: float
    duration_ms: float


ExecutionListener = Callable[[ExecutionRecord], None]


class _Ids:
    """Table numbers for id validators: the transaction's catalog, or (actions, which
    have no transaction) the latest one."""

    __slots__ = ("_catalog",)

    def __init__(self, txn: Transaction | None, catalog: Catalog | None = None) -> None:
        self._catalog = txn.catalog if txn is not None else catalog

    def table_number(self, name: str) -> int | None:
        if self._catalog is None:
            return None
        table = self._catalog.table(name)
        return table.number if table is not None else None


class FunctionRunner:
    """Executes registered functions against one database. ``registry`` may be swapped
    (hot reload) between calls; a call keeps the registry it started with."""

    def __init__(self, db: Database, registry: Registry) -> None:
        self.db = db
        self.registry = registry
        self.clock = db.clock
        self.executions = 0
        self.occ_retries = 0
        self.listeners: list[ExecutionListener] = []
        self.storage = StorageService()
        install_log_capture()
        install_io_guard()

    def _report(
        self, path: str, kind: str, lines: list[str], error: BaseException | None, start: float
    ) -> None:
        if not self.listeners:
            return
        message = None
        if error is not None:
            message = f"{type(error).__name__}: {error}"
        record = ExecutionRecord(
            display_path(path), kind, list(lines), message, start * 1000,
            (time.time() - start) * 1000,
        )
        for listener in list(self.listeners):
            listener(record)

    # ----------------------------------------------------------------- resolve
    def resolve(self, ref: Any, kind: FunctionKind, internal_ok: bool) -> RegisteredFunction:
        path = canonicalize_path(function_path(ref))
        fn = self.registry.lookup(path)
        if fn is None or (not fn.is_public and not internal_ok):
            hint = self.registry.did_you_mean(path, internal_ok=internal_ok)
            raise NotFoundError(
                f"Could not find public function for '{display_path(path)}'."
                + (hint or " Did you forget to run `pyconvex dev` or `pyconvex deploy`?")
                if not internal_ok
                else f"Could not find function for '{display_path(path)}'.{hint}",
                short_msg="FunctionNotFound",
            )
        if fn.kind is not kind:
            raise NotFoundError(
                f"Trying to execute {display_path(path)} as {kind.title}, but it is defined "
                f"as {fn.kind.title}.",
                short_msg="FunctionKindMismatch",
            )
        return fn

    def _args(
        self, fn: RegisteredFunction, args: Any, txn: Transaction | None
    ) -> dict[str, Any]:
        path = display_path(fn.path or "?")
        if args is None:
            args = {}
        if not isinstance(args, dict):
            raise ArgumentValidationError(
                f"{path}: args must be an object (dict), got {type(args).__name__}"
            )
        if fn.args_check is None:
            try:
                convex_to_json(args)
            except InvalidValueError as e:
                raise ArgumentValidationError(f"{path}: args: {e}") from None
            return args
        try:
            checked = fn.args_check(args, "args", _Ids(txn, self.db.catalog))
        except ValidationFailure as e:
            raise ArgumentValidationError(f"{path}: {e.message}") from None
        assert isinstance(checked, dict)
        return checked

    def _returns(self, fn: RegisteredFunction, value: Any, txn: Transaction | None) -> Any:
        path = display_path(fn.path or "?")
        if fn.returns_check is not None:
            try:
                value = fn.returns_check(value, "returns", _Ids(txn, self.db.catalog))
            except ValidationFailure as e:
                raise ReturnValueValidationError(f"{path}: {e.message}") from None
        if value is not None and not isinstance(value, (str, float, bool)):
            try:
                convex_to_json(value)
            except InvalidValueError as e:
                raise ReturnValueValidationError(
                    f"{path}: the return value is not a Convex value: {e}"
                ) from None
        return value

    async def call_in_transaction(
        self, fn: RegisteredFunction, args: Any, ctx: MutationCtx, txn: Transaction
    ) -> Any:
        """Validate, run and check a mutation handler inside a caller's transaction (the
        scheduler commits a job's state change with the mutation's own writes)."""
        checked = self._args(fn, args, txn)
        value = await fn.handler(ctx, **checked)
        return self._returns(fn, value, txn)

    # ----------------------------------------------------------------- queries
    async def run_query(
        self,
        ref: Any,
        args: Any = None,
        identity: dict[str, Any] | None = None,
        *,
        internal_ok: bool = False,
        ts: int | None = None,
        journal: str | None = None,
    ) -> FunctionResult:
        fn = self.resolve(ref, FunctionKind.QUERY, internal_ok)
        txn = self.db.begin(writable=False, ts=ts)
        lines: list[str] = []
        log_token = current_log.set(lines)
        query_journal = QueryJournal(journal)  # a live page re-run ends where it ended
        journal_token = current_journal.set(query_journal)
        io_token = forbid_io.set(display_path(fn.path or "?"))
        start = time.time()
        try:
            checked = self._args(fn, args, txn)
            self.executions += 1
            value = await fn.handler(QueryCtx(txn, identity, self.storage), **checked)
            value = self._returns(fn, value, txn)
        except BaseException as e:
            e.log_lines = lines  # type: ignore[attr-defined]
            e.reads = txn.reads  # type: ignore[attr-defined]  # a failed query is live too
            self._report(fn.path or "?", "query", lines, e, start)
            raise
        finally:
            forbid_io.reset(io_token)
            current_log.reset(log_token)
            current_journal.reset(journal_token)
        self._report(fn.path or "?", "query", lines, None, start)
        return FunctionResult(value, lines, txn.begin_ts, txn.reads, query_journal.serialize())

    # --------------------------------------------------------------- mutations
    async def run_mutation(
        self,
        ref: Any,
        args: Any = None,
        identity: dict[str, Any] | None = None,
        *,
        internal_ok: bool = False,
    ) -> FunctionResult:
        fn = self.resolve(ref, FunctionKind.MUTATION, internal_ok)

        async def body(ctx: MutationCtx, txn: Transaction) -> Any:
            checked = self._args(fn, args, txn)
            value = await fn.handler(ctx, **checked)
            return self._returns(fn, value, txn)

        return await self.run_in_transaction(body, fn.path or "?", identity)

    async def run_in_transaction(
        self,
        body: Callable[[MutationCtx, Transaction], Awaitable[Any]],
        name: str,
        identity: dict[str, Any] | None = None,
    ) -> FunctionResult:
        """Run ``body`` as a mutation: one transaction, re-run on OCC conflicts."""
        start = time.time()
        for attempt in range(MAX_OCC_ATTEMPTS):
            txn = self.db.begin()
            lines: list[str] = []
            log_token = current_log.set(lines)
            io_token = forbid_io.set(display_path(name))
            try:
                self.executions += 1
                value = await body(MutationCtx(txn, identity, self.registry, self.storage), txn)
            except BaseException as e:
                e.log_lines = lines  # type: ignore[attr-defined]
                self._report(name, "mutation", lines, e, start)
                raise
            finally:
                forbid_io.reset(io_token)
                current_log.reset(log_token)
            try:
                ts = await self.db.commit(txn)
            except OccConflict as e:
                self.occ_retries += 1
                conflicting = e.conflicting_ts
                if conflicting is not None and conflicting > self.db.latest_ts:
                    # The write it lost to is accepted but not yet published: a retry
                    # now would begin without it and lose again. Retry once it is
                    # visible (a hot document then changes hands once per commit
                    # instead of starving the unlucky on random sleeps).
                    await self.db.wait_published(conflicting, UNPUBLISHED_WAIT_S)
                    continue
                delay = min(BACKOFF_CAP_S, BACKOFF_BASE_S * (2 ** min(attempt, 16)))
                await asyncio.sleep(random.uniform(0, delay))
                continue
            self._report(name, "mutation", lines, None, start)
            return FunctionResult(value, lines, ts)
        raise ConflictError(
            f"{display_path(name)}: gave up after {MAX_OCC_ATTEMPTS} attempts: the "
            "documents it reads kept being changed by concurrent mutations. Reduce contention "
            "(e.g. shard a hot counter) or retry later."
        )

    # ------------------------------------------------------------ http actions
    async def run_http_action(
        self, handler: Callable[[Any, Any], Awaitable[Any]], request: Any,
        identity: dict[str, Any] | None, name: str,
    ) -> Any:
        """An HTTP action: an action's ctx, network allowed, logs captured and reported."""
        lines: list[str] = []
        log_token = current_log.set(lines)
        io_token = forbid_io.set(None)
        start = time.time()
        try:
            self.executions += 1
            response = await handler(ActionCtx(self, identity, lines), request)
        except BaseException as e:
            e.log_lines = lines  # type: ignore[attr-defined]
            self._report(name, "http", lines, e, start)
            raise
        finally:
            forbid_io.reset(io_token)
            current_log.reset(log_token)
        self._report(name, "http", lines, None, start)
        return response

    # ----------------------------------------------------------------- actions
    async def run_action(
        self,
        ref: Any,
        args: Any = None,
        identity: dict[str, Any] | None = None,
        *,
        internal_ok: bool = False,
    ) -> FunctionResult:
        fn = self.resolve(ref, FunctionKind.ACTION, internal_ok)
        lines: list[str] = []
        log_token = current_log.set(lines)
        io_token = forbid_io.set(None)
        start = time.time()
        try:
            checked = self._args(fn, args, None)
            self.executions += 1
            value = await fn.handler(ActionCtx(self, identity, lines), **checked)
            value = self._returns(fn, value, None)
        except BaseException as e:
            e.log_lines = lines  # type: ignore[attr-defined]
            self._report(fn.path or "?", "action", lines, e, start)
            raise
        finally:
            forbid_io.reset(io_token)
            current_log.reset(log_token)
        self._report(fn.path or "?", "action", lines, None, start)
        return FunctionResult(value, lines)
