"""Instructions per client call in the layers above the commit, counted by valgrind
(callgrind): ``FunctionCalls.answer`` for bench/channels_app's ``channels:post`` (HTTP
body parsing, the call, argument checks, metering, the handler and its insert, the
execution record and the server's listeners, the response), one call at a time in one
task, with the database's commit replaced by a counter (no writer, no I/O: the count
is the same run to run, within 0.2%, where the full path's moves by a percent or two
with commit grouping).

    .venv/bin/python bench/layers_instructions.py TREE [TREE ...] [--count 400]

Only the main thread is counted (the limits watchdog and any BLAS threads wake with
wall time, which valgrind stretches), with ``PYTHONHASHSEED=0``; the figure is the
difference between runs of 0 and ``--calls`` calls after the same warm-up. Needs
valgrind (Debian's package ``valgrind``).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

WORKLOAD = r"""
import asyncio, sys
tree, n = sys.argv[1], int(sys.argv[2])
sys.path.insert(0, tree)
import pyconvex
assert pyconvex.__file__.startswith(tree), pyconvex.__file__
from pyconvex.functions import FunctionKind
from pyconvex.server.fast_path import FunctionCalls, call_routes
from pyconvex.server.log_buffer import LogBuffer
from pyconvex.server.log_streams import LogStreams
from pyconvex.server.metrics import Metrics
from pyconvex.server.runner import tune_gc
from pyconvex.server.state import ServerState
from pyconvex.testing import ConvexTest

BODY = (b'{"path":"channels:post","args":{"channel":"hot","body":"' + b"x" * 100
        + b'"},"format":"convex_encoded_json"}')
SCOPE = {"type": "http", "method": "POST", "path": "/api/mutation", "query_string": b"",
         "client": ("127.0.0.1", 5555),
         "headers": [(b"host", b"127.0.0.1:3210"), (b"content-type", b"application/json"),
                     (b"user-agent", b"node"), (b"content-length", str(len(BODY)).encode())]}

async def main():
    async with ConvexTest(tree + "/bench/channels_app/convex") as t:
        runner, db = t.deployment.runner, t.deployment.db
        state = ServerState(t.deployment)
        metrics = Metrics(state)  # the observers `pyconvex serve` adds (server/state.py)
        observers = (LogBuffer(), metrics, LogStreams(db, []))
        journal = getattr(runner, "journal", None)  # the records in batches, where there is one
        for observer in observers:
            if journal is not None:
                observer.attach(journal)
            else:
                runner.listeners.append(observer.append if isinstance(observer, LogBuffer)
                                        else observer.on_execution)
        tune_gc()
        calls = FunctionCalls(None, state, call_routes())
        ts = [db.latest_ts]

        async def commit(txn):
            ts[0] += 1
            return ts[0]

        db.commit = commit

        async def call():
            status, _, content = await calls.answer(FunctionKind.MUTATION, SCOPE, [BODY], len(BODY))
            assert status == 200 and b'"success"' in content, content

        for _ in range(50):
            await call()
        for _ in range(n):
            await call()
        if journal is not None:
            journal.flush()  # what a reader takes: every record's work is counted

asyncio.run(main())
"""


def main_thread_instructions(tree: str, count: int, workload: str = WORKLOAD) -> int:
    """Instructions of the main thread of ``workload`` run with ``tree count``."""
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "workload.py"
        script.write_text(workload)
        env = dict(os.environ, PYTHONHASHSEED="0", OPENBLAS_NUM_THREADS="1")
        out = f"{tmp}/cg.out"
        subprocess.run(
            ["valgrind", "--tool=callgrind", "--separate-threads=yes",
             f"--callgrind-out-file={out}", sys.executable, str(script), tree, str(count)],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=tmp,
        )
        for line in Path(out + "-01").read_text().splitlines():
            if line.startswith(("totals:", "summary:")):
                return int(line.split()[1])
    raise SystemExit("no totals in callgrind's output")


def compare(workload: str, what: str, default_count: int) -> None:
    """The command line both instruction scripts share: per tree, the difference of a
    run of 0 and ``--count`` units of ``workload``, divided by the count."""
    parser = argparse.ArgumentParser()
    parser.add_argument("trees", nargs="+")
    parser.add_argument("--count", "--calls", "--requests", dest="count", type=int,
                        default=default_count)
    args = parser.parse_args()
    print(f"| tree | instructions per {what} |")
    print("|---|---|")
    for tree in (str(Path(t).resolve()) for t in args.trees):
        base = main_thread_instructions(tree, 0, workload)
        total = main_thread_instructions(tree, args.count, workload)
        print(f"| {tree} | {(total - base) / args.count:,.0f} |", flush=True)


if __name__ == "__main__":
    compare(WORKLOAD, "call above the commit", 400)
