"""Instructions per insert mutation, counted by valgrind (callgrind): a figure that the
machine's speed does not move, for comparing source trees where timings are noise.

    .venv/bin/python bench/instructions.py [TREE ...] [--mutations 1600] [--repeat 2]
                                           [--session] [--writer] [--server]

For each tree (default: this checkout), it runs 16 concurrent tasks inserting documents
through ``ConvexTest`` (the engine path of bench/engine.py, SQLite, durable) under
``valgrind --tool=callgrind``, once with 0 and once with ``--mutations`` mutations after
the same start-up, and reports the difference divided by the count. Only the server's own
process is counted unless ``--writer`` is given (then the SQLite writer process is traced
too and counted in a column of its own). ``--session``: each task is a sync session and
its mutations run as the WebSocket path runs them (``run_session_mutation``: the durable
``_session_requests`` record in each transaction), without the socket. ``--server``: the
mutation HTTP and WebSocket calls share, as ``pyconvex serve`` runs it: bench/channels_app's
``channels:post`` (a schema and an index), with the server's execution listeners (log
buffer, metrics, log streams) and its garbage collector settings, without the HTTP layer. Group sizes depend
on timing, so repeated counts differ by about 0.2% (more with ``--writer``: the writer's
transactions carry as many commits as were waiting); ``--repeat`` shows the spread.
Needs valgrind (Debian's package ``valgrind``); it runs about 50 times slower than native.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent

WORKLOAD = """
import asyncio, sys
tree, n, session = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "session"
server = sys.argv[4] == "server"
sys.path.insert(0, tree + "/bench")
import pyconvex
assert pyconvex.__file__.startswith(tree), pyconvex.__file__
from pyconvex.testing import ConvexTest
from pyconvex.sync.requests import run_session_mutation

async def main():
    app = "/bench/channels_app/convex" if server else "/bench/app/convex"
    async with ConvexTest(tree + app) as t:
        runner = t.deployment.runner
        sent = {}
        if server:  # the listeners `pyconvex serve` adds (server/state.py)
            from pyconvex.server.log_buffer import LogBuffer
            from pyconvex.server.log_streams import LogStreams
            from pyconvex.server.metrics import Metrics
            from pyconvex.server.state import ServerState
            metrics = Metrics(ServerState(t.deployment))
            runner.listeners.append(LogBuffer().append)
            runner.listeners.append(metrics.on_execution)
            t.deployment.db.commit_observers.append(metrics.on_commit)
            runner.listeners.append(LogStreams(t.deployment.db, []).on_execution)
            from pyconvex.server.runner import tune_gc
            tune_gc()  # as the server does once started

        async def insert(session):
            if server:
                return await t.mutation("channels:post", {"channel": "hot", "body": "x" * 100})
            if not session:
                return await t.mutation("bench:insert", {"body": "x" * 100})
            request = sent[session] = sent.get(session, -1) + 1
            await run_session_mutation(runner, session, request, "bench:insert",
                                       {"body": "x" * 100}, None, is_admin=False,
                                       may_be_resent=False)

        for _ in range(50):  # tables created, caches warm
            await insert("warm-up" if session else "")

        async def worker(k, count):
            for _ in range(count):
                await insert(f"session-{k:02d}-0000-0000-0000-000000000000" if session else "")

        await asyncio.gather(*(worker(k, n // 16) for k in range(16)))

asyncio.run(main())
"""


def instructions(
    tree: str, mutations: int, session: bool, writer: bool, server: bool = False
) -> tuple[int, int]:
    """Instructions of the workload's process, and of its SQLite writer (0 unless
    ``writer``)."""
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "workload.py"
        script.write_text(WORKLOAD)
        env = dict(os.environ, PYTHONPATH=tree)
        children = ["--trace-children=yes"] if writer else []
        proc = subprocess.Popen(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={tmp}/out.%p", *children,
             sys.executable, str(script), tree, str(mutations), "session" if session else "-",
             "server" if server else "-"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp,
        )
        _, err = proc.communicate()
        if proc.returncode:
            raise SystemExit(f"the workload failed:\n{err[-2000:]}")
    counts = {int(p): int(n) for p, n in re.findall(r"==(\d+)== Collected : (\d+)", err)}
    if proc.pid not in counts:
        raise SystemExit(f"no instruction count in valgrind's output:\n{err[-2000:]}")
    main_count = counts.pop(proc.pid)
    # The writer is the traced child that did the most work (a child may also run a
    # short command, which valgrind traces as well).
    return main_count, max(counts.values(), default=0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("trees", nargs="*", default=[str(BENCH.parent)])
    parser.add_argument("--mutations", type=int, default=1600)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--session", action="store_true",
                        help="sync-session mutations, with their durable record")
    parser.add_argument("--writer", action="store_true",
                        help="count the SQLite writer process too")
    parser.add_argument("--server", action="store_true",
                        help="as `pyconvex serve` runs an HTTP insert: bench/channels_app "
                             "(a schema, an index) with the server's execution listeners")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (apt-get install valgrind)")
    what = ("session insert mutation" if args.session else
            "channels:post with the server's listeners" if args.server else "insert mutation")
    head = f"| tree | instructions per {what} (median of {args.repeat}) | runs |"
    print(head + (" writer's (median) | writer's runs |" if args.writer else ""))
    print("|---|---|---|" + ("---|---|" if args.writer else ""))
    for tree in (str(Path(t).resolve()) for t in args.trees):
        base = instructions(tree, 0, args.session, args.writer, args.server)
        runs = [instructions(tree, args.mutations, args.session, args.writer, args.server)
                for _ in range(args.repeat)]
        own = [(m - base[0]) / args.mutations for m, _ in runs]
        line = f"| {tree} | {statistics.median(own):,.0f} | {', '.join(f'{r:,.0f}' for r in own)} |"
        if args.writer:
            kid = [(w - base[1]) / args.mutations for _, w in runs]
            line += f" {statistics.median(kid):,.0f} | {', '.join(f'{r:,.0f}' for r in kid)} |"
        print(line, flush=True)


if __name__ == "__main__":
    main()
