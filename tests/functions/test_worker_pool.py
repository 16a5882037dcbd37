"""The worker pool in this process (the server's side traced, the workers real): actions
run in another process, call back, fail with their own error types, and the pool
replaces a worker that died."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable

import pytest

from pyconvex.deployment import Deployment
from pyconvex.errors import ActionWorkerError
from tests.conftest import FIXTURES

pytestmark = [
    pytest.mark.one_backend,
    # A spare worker still starting when the deployment closes is killed with the loop
    # about to end; its transport is collected after the test (not a leak of a server,
    # whose process ends there). Everything else here is checked as strictly as ever.
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]

APP = FIXTURES / "isolation" / "convex"


async def test_actions_run_in_workers_and_call_back(make_db_url: Callable[[], str]) -> None:
    async with await Deployment.open(make_db_url(), APP, isolate_actions=True) as d:
        runner = d.runner
        pid = (await runner.run_action("limits:pid", {})).value
        assert pid != os.getpid()
        value = (await runner.run_action("limits:calls_back", {})).value
        assert "from-action" in value["labels"] and value["data"] == "hello"
        with pytest.raises(KeyError) as info:  # a builtin error crosses as itself
            await runner.run_action("limits:action_fails", {"key": "b"})
        assert "in action_fails" in getattr(info.value, "remote_traceback", "")
        assert d.workers is not None and d.workers.started >= 1


async def test_a_dead_worker_fails_its_action_and_is_replaced(
    make_db_url: Callable[[], str],
) -> None:
    async with await Deployment.open(make_db_url(), APP, isolate_actions=True) as d:
        pid = (await d.runner.run_action("limits:pid", {})).value
        os.kill(pid, signal.SIGKILL)  # idle: the next action must not be sent to it
        again = (await d.runner.run_action("limits:pid", {})).value
        assert again != pid
        import asyncio

        task = asyncio.ensure_future(
            d.runner.run_action("limits:report_pid_then_block", {"seconds": 30})
        )
        for _ in range(200):
            marks = (await d.runner.run_query("limits:marks", {})).value
            pids = [int(m[4:]) for m in marks if m.startswith("pid:")]
            if pids:
                break
            await asyncio.sleep(0.05)
        os.kill(pids[-1], signal.SIGKILL)
        with pytest.raises(ActionWorkerError) as info:
            await task
        assert "killed by signal SIGKILL" in str(info.value)


def _children() -> set[int]:
    """This process's child processes, running or exited but not reaped."""
    me = str(os.getpid())
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[1] == me:
                found.add(int(entry))
    return found


async def test_a_worker_started_for_an_action_is_reaped_when_the_pool_closes(
    make_db_url: Callable[[], str],
) -> None:
    import asyncio

    before = _children()
    d = await Deployment.open(make_db_url(), APP, isolate_actions=True)
    assert d.workers is not None
    d.workers.spare = 0  # no spare: the action starts a worker of its own
    task = asyncio.ensure_future(d.runner.run_action("limits:pid", {}))
    for _ in range(400):
        if d.workers._own_starts:
            break
        await asyncio.sleep(0.005)
    assert d.workers._own_starts, "the action did not start a worker of its own"
    await d.close()  # while that worker is still starting
    try:
        assert _children() - before == set()  # killed and reaped by close(), not later
    finally:
        with pytest.raises((ActionWorkerError, asyncio.CancelledError)):
            await task
