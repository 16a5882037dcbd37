"""Worker processes for actions: started ahead, reused, ended when they overrun.

Each worker runs one action (or HTTP action) at a time, so an action that blocks
(``time.sleep``, a synchronous SDK) or spins holds up nobody else, and its limits are
kept by ending its process: past ``FunctionLimits.action_s`` of wall time, or past
``action_memory`` of growth in resident memory (polled every ``MEMORY_POLL_S``), the
worker is killed and the action fails with an error that says which. A worker that
dies on its own (a crash, ``kill -9``) fails its action the same way; the deployment
keeps serving. Mutations an action already committed through ``ctx.run_mutation``
stay committed, as in Convex.

Workers run at a lower CPU priority (``nice``) than the server: on a machine with
fewer cores than busy actions, the loop that answers every client still gets the CPU
the moment it has work (bench/isolation.py measures it). Code or environment changes
start a new generation: idle workers of the old one exit, busy ones after their action.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
from pathlib import Path
from typing import Any

from pyconvex.errors import ActionWorkerError, FunctionMemoryError, FunctionTimeoutError
from pyconvex.functions.isolation.channel import ChannelClosed, read_frame, write_frame
from pyconvex.functions.isolation.crossing import from_remote, to_remote
from pyconvex.functions.isolation.host import answer
from pyconvex.functions.registration import RegisteredFunction
from pyconvex.functions.registry import display_path
from pyconvex.functions.runtime.executor import FunctionRunner
from pyconvex.functions.runtime.failures import describe, request_id_var, user_traceback
from pyconvex.functions.runtime.limits import MiB
from pyconvex.functions.runtime.logs import outside_functions
from pyconvex.functions.runtime.request_meta import request_origin_var

log = logging.getLogger("pyconvex.actions")

STARTUP_TIMEOUT_S = 60.0
MEMORY_POLL_S = 0.1
DEFAULT_SPARE = 1
DEFAULT_MAX_WORKERS = 64
WORKER_NICE = int(os.environ.get("PYCONVEX_WORKER_NICE", "19"))
_PAGE = os.sysconf("SC_PAGE_SIZE")


def _rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return 0


class _Worker:
    def __init__(self, proc: asyncio.subprocess.Process, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter, generation: int) -> None:
        self.proc = proc
        self.reader = reader
        self.writer = writer
        self.generation = generation
        self.healthy = True
        self.over_memory = 0
        self.proc_done: asyncio.Future[int] | None = None

    @property
    def pid(self) -> int:
        return self.proc.pid

    def kill(self) -> None:
        self.healthy = False
        with contextlib.suppress(ProcessLookupError):
            self.proc.kill()

    def close(self) -> None:
        """Let it exit (its socket closes), and reap it."""
        self.healthy = False
        with contextlib.suppress(Exception):
            self.writer.close()
        asyncio.get_running_loop().create_task(self._reap())

    async def _reap(self) -> None:
        try:
            await asyncio.wait_for(self.proc.wait(), 5)
        except TimeoutError:
            self.kill()
            await self.proc.wait()

    async def _watch_memory(self, limit: int) -> None:
        baseline = _rss(self.pid)
        while True:
            await asyncio.sleep(MEMORY_POLL_S)
            grown = _rss(self.pid) - baseline
            if baseline and grown > limit:
                self.over_memory = grown
                self.kill()
                return

    async def execute(
        self, pool: WorkerPool, kind: str, payload: tuple[Any, ...], lines: list[str],
        identity: dict[str, Any] | None, name: str,
    ) -> Any:
        limits = pool.runner.limits
        loop = asyncio.get_running_loop()
        write_frame(self.writer, ("run", kind, payload))
        await self.writer.drain()
        deadline = loop.time() + limits.action_s
        watcher = loop.create_task(self._watch_memory(limits.action_memory))
        calls: set[asyncio.Task[None]] = set()
        done = started = False
        try:
            while True:
                try:
                    message = await asyncio.wait_for(
                        read_frame(self.reader), max(0.0, deadline - loop.time())
                    )
                except TimeoutError:
                    self.kill()
                    raise FunctionTimeoutError(
                        f"{name}: function execution timed out: the action ran for more than "
                        f"{limits.action_s:g} s (the limit for actions) and was stopped. "
                        "Mutations it already ran stay committed."
                    ) from None
                except ChannelClosed:
                    if not started:  # it died idle: the action never began anywhere
                        self.healthy = False
                        raise _NeverStarted() from None
                    raise await self._lost(name, limits.action_memory) from None
                if message[0] == "started":
                    started = True
                    continue
                if message[0] == "call":
                    task = loop.create_task(self._answer(pool, identity, message))
                    calls.add(task)
                    task.add_done_callback(calls.discard)
                elif message[0] == "done":
                    done = True
                    _, ok, value, worker_lines = message
                    lines.extend(worker_lines)
                    if not ok:
                        raise from_remote(value)
                    return value
        finally:
            watcher.cancel()
            if not done:  # never reuse a worker that may still be running something
                self.kill()
            if not self.healthy:
                for task in calls:
                    task.cancel()

    async def _answer(self, pool: WorkerPool, identity: dict[str, Any] | None,
                      message: tuple[Any, ...]) -> None:
        _, call_id, method, args, kwargs = message
        lines: list[str] = []
        try:
            value = await answer(pool.runner, identity, method, args, kwargs, lines)
            reply: tuple[Any, ...] = ("reply", call_id, True, value, lines)
        except Exception as e:
            reply = ("reply", call_id, False, to_remote(e), lines)
        if not self.writer.is_closing():
            write_frame(self.writer, reply)

    async def _lost(self, name: str, memory_limit: int) -> Exception:
        self.healthy = False
        code = await self.proc.wait()
        if self.over_memory:
            return FunctionMemoryError(
                f"{name}: the action grew its worker's memory by {self.over_memory // MiB} MiB, "
                f"past its limit of {memory_limit // MiB} MiB, and was stopped. Mutations it "
                "already ran stay committed."
            )
        how = (f"was killed by signal {signal.Signals(-code).name}" if code < 0
               else f"exited with status {code}")
        with outside_functions():
            log.error("the worker process running %s (pid %d) %s", name, self.pid, how)
        return ActionWorkerError(
            f"{name}: the process running this action {how} before it finished. Mutations "
            "it already ran stay committed; the deployment keeps serving."
        )


class WorkerPool:
    """The deployment's action workers (an ``ActionBackend`` for ``FunctionRunner``)."""

    def __init__(self, runner: FunctionRunner, *, spare: int = DEFAULT_SPARE,
                 max_workers: int = DEFAULT_MAX_WORKERS) -> None:
        self.runner = runner
        self.spare = spare
        self.max_workers = max_workers
        self._functions_dir: Path | None = None
        self._generation = 0
        self._idle: list[_Worker] = []
        self._starting: set[asyncio.Task[_Worker]] = set()
        """Spares starting (they join ``_idle``)."""
        self._own_starts: set[asyncio.Task[_Worker]] = set()
        """Workers started for one action, when no spare was idle."""
        self._busy: set[_Worker] = set()
        self._retired: set[_Worker] = set()
        self._slots: asyncio.Semaphore | None = None
        self._closed = False
        self.started = 0

    @property
    def busy(self) -> int:
        return len(self._busy)

    def set_code(self, functions_dir: Path) -> None:
        """New code or environment variables: workers from now on load these."""
        self._functions_dir = functions_dir
        self._generation += 1
        idle, self._idle = self._idle, []
        for worker in idle:
            self._retire(worker)
        self._fill()

    def _fill(self) -> None:
        if self._closed or self._functions_dir is None:
            return
        while len(self._idle) + len(self._starting) < self.spare:
            task = asyncio.get_running_loop().create_task(self._spawn())
            self._starting.add(task)
            task.add_done_callback(self._started)

    def _started(self, task: asyncio.Task[_Worker]) -> None:
        self._starting.discard(task)
        if task.cancelled():
            return
        error = task.exception()
        if error is not None:
            log.error("starting an action worker failed: %s", error)
            return
        worker = task.result()
        if self._closed or worker.generation != self._generation:
            self._retire(worker)
        else:
            self._idle.append(worker)

    async def _spawn(self) -> _Worker:
        functions_dir, generation = self._functions_dir, self._generation
        if functions_dir is None:
            raise ActionWorkerError("no functions are loaded")
        parent, child = socket.socketpair()
        try:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-c", _BOOT, str(child.fileno()), str(functions_dir),
                pass_fds=(child.fileno(),), stdin=asyncio.subprocess.DEVNULL,
            )
        finally:
            child.close()
        try:
            reader, writer = await asyncio.open_unix_connection(sock=parent)
        except BaseException:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
            raise
        worker = _Worker(proc, reader, writer, generation)
        try:
            message = await asyncio.wait_for(read_frame(reader), STARTUP_TIMEOUT_S)
        except BaseException as e:  # cancelled (the pool closing), timed out, or died
            worker.kill()
            await proc.wait()
            writer.close()
            if isinstance(e, (TimeoutError, ChannelClosed)):
                raise ActionWorkerError("an action worker did not start") from None
            raise
        if message[0] != "ready":
            self._retire(worker)
            raise ActionWorkerError(
                f"an action worker could not load the functions: {message[1].description}"
            )
        self.started += 1
        return worker

    async def _acquire(self) -> _Worker:
        while self._idle:
            worker = self._idle.pop()
            if worker.healthy and worker.proc.returncode is None:
                return worker
            self._retire(worker)
        # started for this action: tracked like a spare's start, so a pool closing
        # meanwhile cancels it (and the start kills and reaps its process)
        task = asyncio.get_running_loop().create_task(self._spawn())
        self._own_starts.add(task)
        try:
            worker = await task
        finally:
            self._own_starts.discard(task)
        if self._closed:  # started just as the pool closed: close() no longer sees it
            worker.kill()
            await worker.proc.wait()
            worker.writer.close()
            raise ActionWorkerError("the deployment is shutting down")
        return worker

    async def _execute(self, kind: str, payload: tuple[Any, ...], lines: list[str],
                       identity: dict[str, Any] | None, name: str) -> Any:
        """An action goes on when its caller goes away (a closed socket), as in Convex:
        the caller's cancellation does not reach the execution, and the worker is
        returned to the pool only once its action is done."""
        execution = asyncio.get_running_loop().create_task(
            self._execute_on_worker(kind, payload, lines, identity, name)
        )
        try:
            return await asyncio.shield(execution)
        except asyncio.CancelledError:
            execution.add_done_callback(_orphaned)
            raise

    async def _execute_on_worker(self, kind: str, payload: tuple[Any, ...], lines: list[str],
                                 identity: dict[str, Any] | None, name: str) -> Any:
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.max_workers)
        async with self._slots:
            for attempt in range(3):
                worker = await self._acquire()
                self._busy.add(worker)
                self._fill()
                try:
                    return await worker.execute(self, kind, payload, lines, identity, name)
                except _NeverStarted:
                    if attempt == 2:
                        raise ActionWorkerError(f"{name}: no action worker could start it") from None
                finally:
                    self._busy.discard(worker)
                    if (worker.healthy and worker.generation == self._generation
                            and not self._closed):
                        self._idle.append(worker)
                    else:
                        self._retire(worker)
            raise AssertionError("unreachable")

    async def run_action(self, fn: RegisteredFunction, args: dict[str, Any],
                         identity: dict[str, Any] | None, lines: list[str]) -> Any:
        path = fn.path or "?"
        payload = (path, args, identity, _origin(), request_id_var.get() or "")
        return await self._execute("action", payload, lines, identity, display_path(path))

    async def run_http_action(self, route: tuple[str, str], request: Any,
                              identity: dict[str, Any] | None, lines: list[str]) -> Any:
        from starlette.responses import Response

        scope = {k: v for k, v in request.scope.items() if k in _SCOPE_KEYS}
        body = await request.body()
        payload = (route, scope, body, identity, _origin(), request_id_var.get() or "")
        status, headers, content = await self._execute(
            "http", payload, lines, identity, f"http:{route[0]} {route[1]}"
        )
        response = Response(content=content, status_code=status)
        response.raw_headers = [(bytes(k), bytes(v)) for k, v in headers]
        return response

    def _retire(self, worker: _Worker) -> None:
        """Let an old or broken worker exit; ``close`` waits for it."""
        worker.close()
        self._retired.add(worker)
        worker.proc_done = asyncio.ensure_future(worker.proc.wait())
        worker.proc_done.add_done_callback(lambda _: self._retired.discard(worker))

    async def close(self) -> None:
        self._closed = True
        starting = [*self._starting, *self._own_starts]
        for task in starting:
            task.cancel()
        await asyncio.gather(*starting, return_exceptions=True)  # each kills its process
        everyone = self._idle + list(self._busy) + list(self._retired)
        for worker in everyone:
            worker.kill()
        for worker in everyone:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(worker.proc.wait(), 5)
            worker.writer.close()
        self._idle.clear()


# Lower the worker's priority before it imports anything: starting a worker costs more
# CPU than most actions, and that must not come out of the server's share either.
_BOOT = (
    f"import os; os.nice({WORKER_NICE}) if {WORKER_NICE} else None; "
    "from pyconvex.functions.isolation.worker import main; main()"
)

class _NeverStarted(Exception):
    """The worker's channel closed before it took the action: safe to give it to another."""


def _origin() -> dict[str, Any] | None:
    """The request's origin (client address, ...), to cross with the action: the worker
    answers ``ctx.meta.get_request_metadata()`` from it."""
    origin = request_origin_var.get()
    return origin.to_wire() if origin is not None else None


def _orphaned(task: asyncio.Task[Any]) -> None:
    """A shielded execution whose caller left: nobody awaits its outcome, so a failure
    is logged here (with the worker's traceback), not dropped."""
    if task.cancelled():
        return
    error = task.exception()
    if error is not None:
        with outside_functions():
            log.error("an action whose caller had gone failed: %s\n%s", describe(error),
                      user_traceback(error))


_SCOPE_KEYS = frozenset({
    "type", "asgi", "http_version", "method", "scheme", "path", "raw_path", "root_path",
    "query_string", "headers", "server", "client", "path_params",
})
