"""One execution's bookkeeping and the context it runs in: what ``executor.py``'s
``FunctionRunner`` sets around every query, mutation and action (log lines, the I/O
guard, the request id, the frozen clock, the meter). Kept apart from the runner, which
decides what runs when; this is how each run is dressed.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable
from typing import Any

from pyconvex.database import Transaction
from pyconvex.database.system_work import current_meter
from pyconvex.functions.registry import display_path
from pyconvex.functions.runtime.ctx_impl import MutationCtx
from pyconvex.functions.runtime.determinism import Frozen, frozen, real_time
from pyconvex.functions.runtime.failures import new_request_id, request_id_var
from pyconvex.functions.runtime.guard import forbid_io
from pyconvex.functions.runtime.limits import Budget
from pyconvex.functions.runtime.logs import current_log


class Run:
    """One execution's bookkeeping: request id, log lines, start time, and the context
    variables set while it runs."""

    __slots__ = ("conflicts", "display", "kind", "lines", "path", "perf", "request_id",
                 "started_ms")

    def __init__(self, path: str, kind: str) -> None:
        self.path = path
        self.display = display_path(path)
        self.kind = kind
        self.lines: list[str] = []
        self.request_id = request_id_var.get() or new_request_id()
        self.started_ms = real_time() * 1000
        self.perf = time.perf_counter()
        self.conflicts: list[tuple[int, bytes]] | None = None  # made on a first conflict


Start = Callable[[Any, Any, MutationCtx, Transaction, Run], tuple[bool, Any]]
"""One attempt of a mutation, started on its transaction: ``(True, result)``, or
``(False, an awaitable of the result)``: ``FunctionRunner._start_handler`` on a
function and its arguments, or ``start_body`` on a body (and no arguments). (Passed
separately, not bound with ``functools.partial``: the partial and its bound method cost
a client's mutation more instructions than the extra arguments.)"""


def start_body(
    body: Callable[[MutationCtx, Transaction], Awaitable[Any]], args: None, ctx: MutationCtx,
    txn: Transaction, run: Run,
) -> tuple[bool, Any]:
    return False, _scoped(body, ctx, txn, run)


async def _scoped(
    body: Callable[[MutationCtx, Transaction], Awaitable[Any]], ctx: MutationCtx,
    txn: Transaction, run: Run,
) -> Any:
    with Scope(run, run.display):
        return await body(ctx, txn)


def enter_mutation(
    lines: list[str] | None, state: Frozen, budget: Budget, handler: Callable[..., Any],
    ctx: MutationCtx, checked: dict[str, Any],
) -> Any:
    """A mutation's handler called (its coroutine made) in the execution's own context,
    once its context variables are set there: the log lines, the frozen state (which
    also carries ``Scope``'s I/O guard and request id: see ``Frozen``) and the meter
    (one ``Context.run`` for all of it, not one for the variables, one for the meter and
    one for the call)."""
    current_log.set(lines)
    return enter_call(state, budget, handler, ctx, checked)


def enter_call(
    state: Frozen, budget: Budget, handler: Callable[..., Any], ctx: MutationCtx,
    checked: dict[str, Any],
) -> Any:
    """``enter_mutation`` for ``call_in_transaction``: the log lines, I/O guard and
    request id are the caller's execution's, already in the copied context."""
    frozen.set(state)
    current_meter.set(budget)  # system_work() pauses this budget
    return handler(ctx, **checked)


@functools.lru_cache(maxsize=4096)
def arguments_of(path: str) -> str:
    """How errors about a function's arguments name them (made once per function, not
    per call)."""
    return f"the arguments of {display_path(path)}"


class Scope:
    """The context variables set while an execution runs (a class: a generator-based
    context manager costs several times more, on every function call)."""

    __slots__ = ("_forbid", "_run", "_tokens")

    def __init__(self, run: Run, forbid: str | None) -> None:
        self._run = run
        self._forbid = forbid

    def __enter__(self) -> None:
        self._tokens = (current_log.set(self._run.lines), forbid_io.set(self._forbid),
                        request_id_var.set(self._run.request_id))

    def __exit__(self, *exc: object) -> None:
        log_token, io_token, rid_token = self._tokens
        request_id_var.reset(rid_token)
        forbid_io.reset(io_token)
        current_log.reset(log_token)
