"""Time and memory limits for queries and mutations, which run on the server's loop.

Queries and mutations run in-process (they read the snapshot inline: a hop to another
process per read would cost more than the whole function). So their limits are kept by
metering the handler's coroutine step by step (:class:`Budget`, :func:`metered`):

- **User code time** is the sum of the coroutine's synchronous steps, plus any wait on
  something that is not pyconvex's own work (``await asyncio.sleep(5)`` in a query is
  user time; awaiting ``ctx.db.get`` on PostgreSQL is not). Convex gives queries and
  mutations 1 s of it.
- **A step that runs past the budget is interrupted.** A watchdog thread looks at the
  step in progress every ``TICK_S``; once it is over its deadline it signals the main
  thread (``SIGUSR2``), whose handler raises :class:`_Interrupted` inside the user code,
  which also breaks ``time.sleep``. It only raises while that same step is still
  running, so it never lands in the server's own code between steps. (A C call that
  never returns to Python, such as ``sum(range(10**12))``, cannot be interrupted; the
  function still fails when it returns. Only the main thread can take signals: a loop
  on another thread gets the check at the end of each step alone.)
- **Memory**: while a step has run longer than ``MEMORY_CHECK_AFTER_S``, the watchdog
  compares the process's resident size with its size before the step; growth past the
  limit interrupts it the same way. Allocation spread over many short steps is not
  seen (documented in docs/functions.md).

A wait on user code arms a loop timer for the remaining budget that cancels the task;
the cancellation is turned into :class:`FunctionTimeoutError`.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from collections.abc import Awaitable, Coroutine, Generator
from contextvars import Context, copy_context
from dataclasses import dataclass
from pathlib import Path
from types import CoroutineType
from types import coroutine as types_coroutine
from typing import Any

from pyconvex.database.system_work import current_meter
from pyconvex.errors import FunctionMemoryError, FunctionTimeoutError, LimitExceededError

TICK_S = 0.02
MEMORY_CHECK_AFTER_S = 0.05
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_PYCONVEX_DIR = str(Path(__file__).resolve().parents[2]) + os.sep
MiB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class FunctionLimits:
    """Per-deployment limits (Convex's numbers by default)."""

    query_mutation_s: float = 1.0
    action_s: float = 600.0
    query_mutation_memory: int = 64 * MiB
    action_memory: int = 512 * MiB


DEFAULT_FUNCTION_LIMITS = FunctionLimits()


class _Interrupted(BaseException):
    """Raised inside user code by the watchdog's signal. A ``BaseException``, so that an
    ``except Exception`` in the handler does not swallow it."""


class Budget:
    """One execution's allowance of user code time and memory growth."""

    __slots__ = ("deadline", "fired", "kind", "limit_s", "memory", "over_memory", "path",
                 "paused", "paused_at", "step_started", "used_s")

    def __init__(self, path: str, kind: str, limit_s: float, memory: int) -> None:
        self.path = path
        self.kind = kind
        self.limit_s = limit_s
        self.memory = memory
        self.used_s = 0.0
        self.deadline = 0.0
        self.step_started = 0.0
        self.fired = 0.0
        self.over_memory = 0
        self.paused = 0
        self.paused_at = 0.0

    def pause(self) -> None:
        """The server's own work starts inside this execution (``system_work``)."""
        self.paused += 1
        if self.paused == 1:
            self.paused_at = time.perf_counter()

    def resume(self) -> None:
        self.paused -= 1
        if self.paused == 0:
            self._exclude(time.perf_counter())

    def _exclude(self, now: float) -> None:
        """Take the server's work since ``paused_at`` out of the user's time."""
        excluded = now - self.paused_at
        self.used_s -= excluded
        self.deadline += excluded
        self.paused_at = now

    def error(self) -> LimitExceededError:
        if self.over_memory:
            return FunctionMemoryError(
                f"{self.path}: the {self.kind} grew memory by {self.over_memory // MiB} MiB in "
                f"one stretch of code, past its limit of {self.memory // MiB} MiB, and was "
                "stopped. Read less at once (paginate) or move the work to an action."
            )
        return FunctionTimeoutError(
            f"{self.path}: function execution timed out: the {self.kind}'s code ran for more "
            f"than {self.limit_s:g} s (the limit for {self.kind.replace('y', 'ie')}s) and was stopped"
            + (" before committing anything." if self.kind == "mutation" else ".")
            + " Move slow work to an action, or read less (paginate)."
        )


class _Watchdog:
    """The thread that interrupts a step past its deadline (one per process)."""

    def __init__(self) -> None:
        self.active: Budget | None = None
        self.baseline_rss = 0
        """Resident size when no function step was running, sampled by the thread (no
        cost on the loop); growth past it during one long step is that step's."""
        self.main_ident = threading.main_thread().ident
        self.can_signal = False
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def ensure_started(self) -> None:
        if self._thread is not None:
            return
        with self._lock:
            if self._thread is not None:
                return
            if threading.current_thread() is threading.main_thread():
                signal.signal(signal.SIGUSR2, _on_signal)
                self.can_signal = True
            self._thread = threading.Thread(target=self._run, name="pyconvex-limits",
                                            daemon=True)
            self._thread.start()

    def _run(self) -> None:
        idle_ticks = 0
        while True:
            time.sleep(TICK_S)
            step = self.active
            if step is None:
                idle_ticks += 1
                if idle_ticks % 5 == 1 or not self.baseline_rss:
                    self.baseline_rss = _rss()
                continue
            now = time.perf_counter()
            if now - step.step_started > MEMORY_CHECK_AFTER_S and self.baseline_rss:
                grown = _rss() - self.baseline_rss
                if grown > step.memory:
                    step.over_memory = grown
            if step.paused:
                continue
            if (now > step.deadline or step.over_memory) and now - step.fired > 0.1:
                step.fired = now
                if self.can_signal and self.main_ident is not None:
                    signal.pthread_kill(self.main_ident, signal.SIGUSR2)


_watchdog = _Watchdog()


def _on_signal(signum: int, frame: Any) -> None:
    step = _watchdog.active
    if step is not None and step.fired and threading.get_ident() == _watchdog.main_ident:
        raise _Interrupted()


def _rss() -> int:
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return 0


def start_watchdog() -> None:
    _watchdog.ensure_started()


def _waits_on_user_code(coro: Any) -> bool:
    """Whether a suspended handler awaits something other than pyconvex's own work."""
    awaited = coro.cr_await
    while awaited is not None:
        code = getattr(awaited, "cr_code", None) or getattr(awaited, "gi_code", None)
        if code is None:
            return True
        if code.co_filename.startswith(_PYCONVEX_DIR):
            return False
        awaited = getattr(awaited, "cr_await", None) or getattr(awaited, "gi_yieldfrom", None)
    return True


def _on_main() -> bool:
    """Whether the watchdog can interrupt this thread's steps (only the main thread
    takes signals)."""
    watchdog = _watchdog
    return watchdog.can_signal and threading.get_ident() == watchdog.main_ident


_RETURNED = object()
"""What a driver yields once its coroutine has returned (the value is in its box)."""

_IDLE_DRIVERS = 64
"""Idle drivers kept for reuse (one per handler in flight at once, up to this)."""

_idle: list[tuple[Generator[Any, Any, None], list[Any]]] = []


@types_coroutine
def _drive(box: list[Any]) -> Generator[Any, Any, None]:
    """Runs handler coroutines one after another, each sent in at its idle ``yield``:
    their steps go through its ``yield from``, and a returned value is put in ``box``
    while it yields :data:`_RETURNED`.

    Why: a coroutine driven by ``send`` ends by raising ``StopIteration``, whose
    catching in :func:`_step` costs an exception object, a frame object for the
    traceback and its entry (~2,500 instructions a handler, more than the step's
    bookkeeping). ``yield from`` takes a return value without any exception, and the
    driver itself never returns. (A generator of the runtime directory: its frame is
    left out of a user's traceback, as the executor's are.)"""
    coro = yield None
    while True:
        box[0] = yield from coro
        coro = yield _RETURNED


def _driver() -> tuple[Generator[Any, Any, None], list[Any]]:
    """An idle driver (reused, or new and at its first ``yield``)."""
    try:
        return _idle.pop()
    except IndexError:  # (pop, not a test first: another thread may take the last)
        box: list[Any] = [None]
        gen = _drive(box)
        gen.send(None)
        return gen, box


def _step(driver: tuple[Generator[Any, Any, None], list[Any]], budget: Budget,
          context: Context, value: Any, thrown: BaseException | None,
          on_main: bool) -> tuple[bool, Any]:
    """One synchronous step of the coroutine ``driver`` runs (see :func:`_drive`; its
    first step is the coroutine itself sent in as ``value``) within ``budget``, run in
    ``context``: ``(True, result)`` when it returned, ``(False, what it yielded)`` when
    it suspended. A driver whose coroutine returned is idle again and kept for reuse;
    one that raised is done with."""
    watchdog = _watchdog
    start = time.perf_counter()
    budget.step_started = start
    budget.deadline = start + budget.limit_s - budget.used_s
    if budget.paused:  # the wait between steps was never counted
        budget.paused_at = start
    outer = watchdog.active  # a function called inside another's step
    if on_main:
        watchdog.active = budget
    gen = driver[0]
    try:
        try:
            yielded = (context.run(gen.send, value) if thrown is None
                       else context.run(gen.throw, thrown))
        finally:
            watchdog.active = outer
            end = time.perf_counter()
            budget.used_s += end - start
            if budget.paused:  # suspended inside the server's own work
                budget._exclude(end)
    except _Interrupted:
        gen.close()
        raise budget.error() from None
    except BaseException:
        if budget.used_s > budget.limit_s or budget.over_memory:
            raise budget.error() from None
        raise
    if yielded is _RETURNED:
        box = driver[1]
        result = box[0]
        box[0] = None
        if len(_idle) < _IDLE_DRIVERS:
            _idle.append(driver)
        if budget.used_s > budget.limit_s or budget.over_memory:
            raise budget.error() from None
        return True, result
    if budget.used_s > budget.limit_s or budget.over_memory:
        gen.close()  # (and the coroutine it runs)
        raise budget.error()
    return False, yielded


class _Metered:
    """The rest of a handler that suspended in its first step: yields what that step
    yielded, then runs each further step as :func:`_step`, through the same driver."""

    __slots__ = ("_budget", "_context", "_coro", "_driver", "_yielded")

    def __init__(self, coro: Coroutine[Any, Any, Any],
                 driver: tuple[Generator[Any, Any, None], list[Any]], budget: Budget,
                 context: Context, yielded: Any) -> None:
        self._coro = coro
        self._driver = driver
        self._budget = budget
        self._context = context
        self._yielded = yielded

    def __await__(self) -> Generator[Any, Any, Any]:
        coro, driver, budget, context, yielded = (
            self._coro, self._driver, self._budget, self._context, self._yielded)
        on_main = _on_main()
        while True:
            timer = None
            if _waits_on_user_code(coro):
                task = asyncio.current_task()
                if task is not None:
                    timer = asyncio.get_running_loop().call_later(
                        max(0.0, budget.limit_s - budget.used_s), _expire, budget, task
                    )
            waited = time.perf_counter()
            thrown: BaseException | None
            try:
                value, thrown = (yield yielded), None
            except BaseException as e:
                value, thrown = None, e
            if timer is not None:
                timer.cancel()
                budget.used_s += time.perf_counter() - waited
                if (budget.used_s > budget.limit_s) and isinstance(thrown, asyncio.CancelledError):
                    task = asyncio.current_task()
                    if task is not None:
                        task.uncancel()
                    driver[0].close()  # (and the coroutine it runs)
                    raise budget.error()
            done, out = _step(driver, budget, context, value, thrown, on_main)
            if done:
                return out
            yielded = out


def _expire(budget: Budget, task: asyncio.Task[Any]) -> None:
    budget.used_s = max(budget.used_s, budget.limit_s) + 1e-9
    task.cancel()


def start_metered(awaitable: Awaitable[Any], budget: Budget,
                  context: Context | None = None) -> tuple[bool, Any]:
    """Run the first step of ``awaitable`` (a handler's coroutine) within ``budget``
    (see the module docstring) now: ``(True, its result)`` if it returned without
    suspending, as most handlers of queries and mutations do, else ``(False, an
    awaitable for the rest, metered the same way)``. Anything but a coroutine comes back
    as ``(False, awaitable)``, unmetered. (One plain call for a handler that never
    suspends: no generator to make and drive.)

    Every step runs in ``context`` (by default a copy of the current one), the
    execution's own: ``current_meter`` is set there once, to ``budget``, and never
    reset, as nothing else runs in that context. (A context variable set and reset
    around each step cost about as much as the rest of the step's bookkeeping.)"""
    if context is None:
        context = copy_context()
    context.run(current_meter.set, budget)  # system_work() pauses this budget
    return start_metered_in(context, budget, awaitable)


def start_metered_in(context: Context, budget: Budget, awaitable: Awaitable[Any]) -> tuple[bool, Any]:
    """:func:`start_metered` in ``context``, where ``current_meter`` is already
    ``budget`` (set by the caller along with its own variables, in one ``Context.run``)."""
    if type(awaitable) is not CoroutineType:
        return False, awaitable
    driver = _driver()
    done, out = _step(driver, budget, context, awaitable, None, _on_main())
    return (True, out) if done else (False, _Metered(awaitable, driver, budget, context, out))


def interrupted_error(e: BaseException, budget: Budget) -> BaseException:
    """The error to report for ``e``: an interrupt that escaped between steps is the
    budget's error."""
    return budget.error() if isinstance(e, _Interrupted) else e
