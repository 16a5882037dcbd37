"""Running functions: resolve, validate arguments, execute, validate the result.

- Queries run read-only at the latest snapshot (or a given one) and return their read
  set with the result, so the sync layer can tell when to re-run them.
- Mutations run in one transaction and commit through the committer. If the commit
  loses an OCC race the whole handler re-runs on a fresh snapshot, up to
  ``MAX_OCC_ATTEMPTS``; then a :class:`ConflictError`. A run that lost on a key lines
  up behind the earlier losers on that key (``database/conflict_lines.py``): one
  re-run per commit of a hot document instead of all of them. It re-runs once the
  commit it lost to is published if that one is still being written; at the front of
  its line at once, else (a conflict without a key) after a jittered exponential
  backoff. A handler that raises commits nothing.
- Actions run outside any transaction; each ``ctx.run_*`` is its own.

Log lines are captured per execution and travel with the result, or with the error in
its :class:`~pyconvex.functions.runtime.failures.Failure` (``failure_of(error)``).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Coroutine
from contextvars import copy_context
from typing import Any, Protocol

from pyconvex.database import Catalog, Database, Transaction
from pyconvex.database.conflict_lines import ConflictLines
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
from pyconvex.functions.runtime.determinism import Frozen, frozen, install_determinism
from pyconvex.functions.runtime.execution import (
    Run,
    Scope,
    Start,
    arguments_of,
    enter_call,
    enter_mutation,
    start_body,
)
from pyconvex.functions.runtime.failures import (
    Failure,
    attach,
    describe,
    failure_of,
    log_failure,
    user_traceback,
)
from pyconvex.functions.runtime.guard import install_io_guard
from pyconvex.functions.runtime.journal import (
    ExecutionListener,
    ExecutionRecord,
    Journal,
)
from pyconvex.functions.runtime.limits import (
    DEFAULT_FUNCTION_LIMITS,
    Budget,
    FunctionLimits,
    interrupted_error,
    start_metered,
    start_metered_in,
    start_watchdog,
)
from pyconvex.functions.runtime.logs import install_log_capture, outside_functions
from pyconvex.functions.runtime.runner_api import FunctionResult
from pyconvex.functions.runtime.services import StorageService
from pyconvex.schema import ValidationFailure
from pyconvex.values import convex_to_json
from pyconvex.values.size import check_value_limits

MAX_OCC_ATTEMPTS = 64
BACKOFF_BASE_S = 0.0005
BACKOFF_CAP_S = 0.05
UNPUBLISHED_WAIT_S = 1.0  # a failed write is never published: then retry anyway
RESOLVED_PATHS = 4096  # path strings remembered by ``resolve`` (cleared when full)


_new_record = tuple.__new__

Then = Callable[[Transaction, Any, list[str]], None]
"""What ``run_mutation_then`` writes after a handler returned: ``then(txn, value,
log_lines)``, in the handler's transaction."""


class ActionBackend(Protocol):
    """Where actions run when not in the server's own process (``functions/isolation``)."""

    async def run_action(
        self, fn: RegisteredFunction, args: dict[str, Any], identity: dict[str, Any] | None,
        lines: list[str],
    ) -> Any: ...

    async def run_http_action(
        self, route: tuple[str, str], request: Any, identity: dict[str, Any] | None,
        lines: list[str],
    ) -> Any: ...


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
    (hot reload) between calls; a call keeps the registry it started with.

    Queries and mutations run here, metered (``limits.py``) and deterministic
    (``determinism.py``); actions run in ``actions`` (worker processes) when the server
    set one, else here."""

    def __init__(
        self, db: Database, registry: Registry, *,
        limits: FunctionLimits = DEFAULT_FUNCTION_LIMITS,
        actions: ActionBackend | None = None,
        storage: StorageService | None = None,
    ) -> None:
        self.db = db
        self.registry = registry
        self.clock = db.clock
        self.limits = limits
        self.actions = actions
        self.executions = 0
        self.occ_retries = 0
        self.conflict_lines = ConflictLines()
        """Re-runs that lost on one key wait their turn (database/conflict_lines.py)."""
        self._resolved: dict[str, tuple[Registry, RegisteredFunction, bool]] = {}
        """Path strings resolved before: the registry, the function, whether public."""
        self.listeners: list[ExecutionListener] = []
        """Called with each execution's record as it finishes (the dev console, tests)."""
        self.journal = Journal()
        """The server's observers take the records in batches (``journal.py``)."""
        self.storage = storage if storage is not None else StorageService()
        install_log_capture()
        install_io_guard()
        install_determinism()
        start_watchdog()

    def _finish(
        self, run: Run, error: BaseException | None, txn: Transaction | None = None,
    ) -> None:
        """Report one execution to the listeners; log and attach a failure."""
        duration_ms = (time.perf_counter() - run.perf) * 1000
        failure = None
        if error is not None:
            failure = failure_of(error)
            if failure is None:
                failure = Failure(
                    run.request_id, run.display, run.kind, describe(error),
                    user_traceback(error), list(run.lines),
                    txn.reads if txn is not None and not txn.writable else None,
                )
                attach(error, failure)
                with outside_functions():  # the server's record, not a function log line
                    log_failure(failure, duration_ms)
        listeners = self.listeners
        journal = self.journal
        if not listeners and not journal.consumers:
            return
        conflicts = tuple(run.conflicts) if run.conflicts else ()
        error_text = traceback = None
        if failure is not None:
            error_text, traceback = failure.error, failure.traceback
        # Every field given, the record is made as a tuple of them: no call of the named
        # tuple's __new__ (a Python function taking 15 arguments) per execution.
        if txn is None:
            record = _new_record(ExecutionRecord, (
                run.display, run.kind, list(run.lines), error_text, run.started_ms, duration_ms,
                run.request_id, traceback, 0, 0, 0, 0, 0, conflicts, (),
            ))
        else:
            tables = txn.unindexed_tables
            record = _new_record(ExecutionRecord, (
                run.display, run.kind, list(run.lines), error_text, run.started_ms, duration_ms,
                run.request_id, traceback, txn.docs_read, txn.bytes_read,
                txn.documents_written, txn.bytes_written, txn.docs_read_unindexed, conflicts,
                tuple(tables.items()) if tables else (),
            ))
        journal.add(record)
        for listener in listeners[:]:  # a listener may remove itself
            listener(record)

    # ----------------------------------------------------------------- resolve
    def resolve(self, ref: Any, kind: FunctionKind, internal_ok: bool) -> RegisteredFunction:
        """The function ``ref`` names, of ``kind`` (and public unless ``internal_ok``). A
        path string this registry resolved before comes from ``_resolved`` (a dict
        lookup in place of canonicalising, looking up and checking it again)."""
        if type(ref) is str:
            found = self._resolved.get(ref)
            if (found is not None and found[0] is self.registry and found[1].kind is kind
                    and (found[2] or internal_ok)):
                return found[1]
            fn = self._resolve(ref, kind, internal_ok)
            if len(self._resolved) >= RESOLVED_PATHS:
                self._resolved.clear()
            self._resolved[ref] = (self.registry, fn, fn.is_public)
            return fn
        return self._resolve(ref, kind, internal_ok)

    def _resolve(self, ref: Any, kind: FunctionKind, internal_ok: bool) -> RegisteredFunction:
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

    def check_args(
        self, fn: RegisteredFunction, args: Any, txn: Transaction | None
    ) -> dict[str, Any]:
        if args is None:
            args = {}
        path = fn.path or "?"
        if not isinstance(args, dict):
            raise ArgumentValidationError(
                f"{display_path(path)}: args must be an object (dict), got {type(args).__name__}"
            )
        check_value_limits(args, of=arguments_of(path))  # as documents' (values/)
        if fn.args_check is None:
            try:
                convex_to_json(args)
            except InvalidValueError as e:
                raise ArgumentValidationError(f"{display_path(path)}: args: {e}") from None
            return args
        try:
            checked = fn.args_check(
                args, "args", _Ids(txn, self.db.catalog) if fn.args_use_ids else None
            )
        except ValidationFailure as e:
            raise ArgumentValidationError(f"{display_path(path)}: {e.message}") from None
        assert isinstance(checked, dict)
        return checked

    def check_returns(self, fn: RegisteredFunction, value: Any, txn: Transaction | None) -> Any:
        if fn.returns_check is not None:
            try:
                value = fn.returns_check(value, "returns", _Ids(txn, self.db.catalog))
            except ValidationFailure as e:
                raise ReturnValueValidationError(
                    f"{display_path(fn.path or '?')}: {e.message}"
                ) from None
        if value is not None and not isinstance(value, (str, float, bool)):
            path = display_path(fn.path or "?")
            check_value_limits(value, of=f"the return value of {path}")
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
        scheduler commits a job's state change with the mutation's own writes). Its log
        lines and request id are the caller's execution's."""
        done, value = self._start_handler(fn, args, ctx, txn, None)
        return value if done else await value

    def _start_handler(
        self, fn: RegisteredFunction, args: Any, ctx: MutationCtx, txn: Transaction,
        run: Run | None,
    ) -> tuple[bool, Any]:
        """A mutation's handler, arguments checked, deterministic and metered, started as
        ``start_metered`` starts it: ``(True, its checked result)`` when it returned in its
        first step, else ``(False, an awaitable of the checked result)``. Its steps run in
        a context of their own where the execution's context variables (log lines, the
        I/O guard, request id, frozen clock, meter) are set once and never reset: the
        context is dropped with the attempt. (Set and reset in the caller's context, as
        ``Scope`` does, they were five pairs of context variable updates per mutation;
        the I/O guard and request id ride in the frozen state: three sets, not five.)
        ``run`` None: ``call_in_transaction``'s handler, which keeps its caller's log
        lines, I/O guard and request id (already in the copy) and sets the rest."""
        checked = self.check_args(fn, args, txn)
        path = fn.path or "?"
        shown = display_path(path) if run is None else run.display
        limits = self.limits
        budget = Budget(shown, "mutation", limits.query_mutation_s, limits.query_mutation_memory)
        context = copy_context()
        if run is None:
            state = Frozen(shown, txn.now_ms, (path, checked, txn.begin_ts))
            started = context.run(enter_call, state, budget, fn.handler, ctx, checked)
        else:
            state = Frozen(shown, txn.now_ms, (path, checked, txn.begin_ts), run.request_id)
            started = context.run(enter_mutation, run.lines, state, budget, fn.handler, ctx,
                                  checked)
        done, value = start_metered_in(context, budget, started)
        if done:
            return True, self.check_returns(fn, value, txn)
        return False, self._checked(fn, value, txn)

    async def _checked(self, fn: RegisteredFunction, rest: Awaitable[Any],
                       txn: Transaction) -> Any:
        """The result of a handler that suspended in its first step, checked."""
        return self.check_returns(fn, await rest, txn)

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
        path = fn.path or "?"
        txn = self.db.begin(writable=False, ts=ts)
        query_journal = QueryJournal(journal)  # a live page re-run ends where it ended
        run = Run(path, "query")
        budget = Budget(run.display, "query", self.limits.query_mutation_s,
                        self.limits.query_mutation_memory)
        with Scope(run, run.display):
            try:
                checked = self.check_args(fn, args, txn)
                self.executions += 1
                token = frozen.set(
                    Frozen(run.display, txn.now_ms, (path, checked, txn.begin_ts))
                )
                journal_token = current_journal.set(query_journal)
                try:
                    done, value = start_metered(
                        fn.handler(QueryCtx(txn, identity, self.storage, runner=self), **checked), budget
                    )
                    if not done:
                        value = await value
                finally:
                    frozen.reset(token)
                    current_journal.reset(journal_token)
                value = self.check_returns(fn, value, txn)
            except BaseException as e:
                error = interrupted_error(e, budget)
                self._finish(run, error, txn)
                if error is not e:
                    raise error from None
                raise
        self._finish(run, None, txn)
        return FunctionResult(value, run.lines, txn.begin_ts, txn.reads, query_journal.serialize())

    # --------------------------------------------------------------- mutations
    async def run_mutation(
        self,
        ref: Any,
        args: Any = None,
        identity: dict[str, Any] | None = None,
        *,
        internal_ok: bool = False,
    ) -> FunctionResult:
        """A client's mutation: its handler started straight from the OCC loop
        (``_transact``), with no coroutine between that loop and the handler."""
        fn = self.resolve(ref, FunctionKind.MUTATION, internal_ok)
        return await self._transact(fn.path or "?", identity, self._start_handler, fn, args)

    def run_mutation_then(
        self, fn: RegisteredFunction, args: Any, identity: dict[str, Any] | None,
        then: Then,
    ) -> Coroutine[Any, Any, FunctionResult]:
        """A resolved mutation, run as :meth:`run_mutation` runs it, with ``then(txn,
        value, log_lines)`` called in its transaction once the handler returned, before
        the commit (a sync session's exactly-once record, ``sync/requests.py``). Against
        :meth:`run_in_transaction` with a body calling :meth:`call_in_transaction`, it
        saves the body's coroutine, the caller's ``Scope`` and a second context copy per
        mutation: the handler starts straight from the OCC loop, as a client's does. (The
        OCC loop's coroutine itself is returned: no frame of this one stays suspended
        while it commits.)"""
        return self._transact(fn.path or "?", identity, self._start_then, (fn, then), args)

    def _start_then(
        self, what: tuple[RegisteredFunction, Then], args: Any, ctx: MutationCtx,
        txn: Transaction, run: Run,
    ) -> tuple[bool, Any]:
        fn, then = what
        done, value = self._start_handler(fn, args, ctx, txn, run)
        if done:
            then(txn, value, run.lines)
            return True, value
        return False, self._then(value, then, txn, run)

    @staticmethod
    async def _then(rest: Awaitable[Any], then: Then, txn: Transaction, run: Run) -> Any:
        value = await rest
        then(txn, value, run.lines)
        return value

    async def run_in_transaction(
        self,
        body: Callable[[MutationCtx, Transaction], Awaitable[Any]],
        name: str,
        identity: dict[str, Any] | None = None,
    ) -> FunctionResult:
        """Run ``body`` as a mutation: one transaction, re-run on OCC conflicts. It runs
        in the caller's context with the execution's log lines, I/O guard and request id
        set around it (``Scope``); a mutation handler it calls through
        :meth:`call_in_transaction` is checked, deterministic and metered."""
        return await self._transact(name, identity, start_body, body, None)

    async def _transact(
        self, name: str, identity: dict[str, Any] | None, start: Start, what: Any, args: Any,
    ) -> FunctionResult:
        """The OCC loop: each attempt begins a transaction and starts the mutation on it,
        ``start(what, args, ...)`` (see :data:`Start`), then commits; a lost commit
        re-runs it as the module docstring says."""
        run = Run(name, "mutation")
        lines = self.conflict_lines
        held: tuple[int, bytes] | None = None  # the key whose line this run is at the front of
        guessed = lines.busy_key(name)  # a key this function lost on, busy now: line up first
        free = guessed is None  # committing at its first run without waiting drops a guess
        try:
            if guessed is not None:
                lines.lined_first += 1
                await lines.take_turn(guessed)
                held = guessed
            for attempt in range(MAX_OCC_ATTEMPTS):
                txn = self.db.begin()
                run.lines = []
                try:
                    self.executions += 1
                    done, value = start(
                        what, args,
                        MutationCtx(txn, identity, self.registry, self.storage, runner=self),
                        txn, run,
                    )
                    if not done:
                        value = await value
                except BaseException as e:
                    self._finish(run, e, txn)
                    raise
                if guessed is not None:
                    if held == guessed and txn.reads.overlaps((guessed,)) is None:
                        lines.forget(name, guessed)  # waited for a key it does not read
                        lines.release(guessed)
                        held = None
                    guessed = None
                try:
                    ts = await self.db.commit(txn)
                except OccConflict as e:
                    self.occ_retries += 1
                    if e.key is not None:
                        lines.learn(name, e.key)
                        if run.conflicts is None:
                            run.conflicts = []
                        run.conflicts.append(e.key)
                        if held is None:
                            # Behind the re-runs that lost on this key before: one re-run
                            # per commit of a hot document, not all of them at once.
                            await lines.take_turn(e.key)
                            held = e.key
                    conflicting = e.conflicting_ts
                    if conflicting is not None and conflicting > self.db.latest_ts:
                        # The write it lost to is accepted but not yet published: a retry
                        # now would begin without it and lose again. Retry once it is
                        # visible.
                        await self.db.wait_published(conflicting, UNPUBLISHED_WAIT_S)
                        continue
                    if held is not None:
                        continue  # at the front of its line: nobody else re-runs now
                    delay = min(BACKOFF_CAP_S, BACKOFF_BASE_S * (2 ** min(attempt, 16)))
                    await asyncio.sleep(random.uniform(0, delay))
                    continue
                except BaseException as e:
                    self._finish(run, e, txn)
                    raise
                if free and attempt == 0:
                    lines.ran_free(name)
                self._finish(run, None, txn)
                return FunctionResult(value, run.lines, ts)
        finally:
            if held is not None:  # committed (and published), failed or gave up
                lines.release(held)
        error = ConflictError(
            f"{display_path(name)}: gave up after {MAX_OCC_ATTEMPTS} attempts: the "
            "documents it reads kept being changed by concurrent mutations. Reduce contention "
            "(e.g. shard a hot counter) or retry later."
        )
        self._finish(run, error)
        raise error

    # ------------------------------------------------------------ http actions
    async def run_http_action(
        self, handler: Callable[[Any, Any], Awaitable[Any]], request: Any,
        identity: dict[str, Any] | None, name: str, route: tuple[str, str] | None = None,
    ) -> Any:
        """An HTTP action: an action's ctx, network allowed, logs captured and reported.
        With worker processes, ``route`` (method, path) names the handler there."""
        run = Run(name, "http")
        with Scope(run, None):
            try:
                self.executions += 1
                if self.actions is not None and route is not None:
                    response = await self.actions.run_http_action(
                        route, request, identity, run.lines
                    )
                else:
                    response = await handler(ActionCtx(self, identity, run.lines), request)
            except BaseException as e:
                self._finish(run, e)
                raise
        self._finish(run, None)
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
        path = fn.path or "?"
        run = Run(path, "action")
        with Scope(run, None):
            try:
                checked = self.check_args(fn, args, None)
                self.executions += 1
                if self.actions is not None:
                    value = await self.actions.run_action(fn, checked, identity, run.lines)
                else:
                    value = await fn.handler(ActionCtx(self, identity, run.lines), **checked)
                value = self.check_returns(fn, value, None)
            except BaseException as e:
                self._finish(run, e)
                raise
        self._finish(run, None)
        return FunctionResult(value, run.lines)
