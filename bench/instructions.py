"""Instructions per insert mutation, counted by valgrind (callgrind): a figure that the
machine's speed does not move, for comparing source trees where timings are noise.

    .venv/bin/python bench/instructions.py [TREE ...] [--mutations 1600] [--repeat 2]
                                           [--session] [--writer] [--server] [--sync]

For each tree (default: this checkout), it runs 16 concurrent tasks inserting documents
through ``ConvexTest`` (the engine path of bench/engine.py, SQLite, durable) under
``valgrind --tool=callgrind``, once with 0 and once with ``--mutations`` mutations after
the same start-up, and reports the difference divided by the count. Only the server's own
process is counted unless ``--writer`` is given (then the SQLite writer process is traced
too and counted in a column of its own). ``--session``: each task is a sync session and
its mutations run as the WebSocket path runs them (``run_session_mutation``: the durable
session record (a ``session_requests`` row) in each transaction), without the socket. ``--server``: the
mutation HTTP and WebSocket calls share, as ``pyconvex serve`` runs it: bench/channels_app's
``channels:post`` (a schema and an index), with the server's execution listeners (log
buffer, metrics, log streams) and its garbage collector settings, without the HTTP layer;
with ``--session`` too, that mutation as the WebSocket path runs it; ``--sync``: sent by
16 ``SyncSession``s as ``server/ws.py`` feeds them (the text taken, the record, the
MutationResponse and the covering Transition encoded), without the socket. Group sizes depend
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
server = sys.argv[4] in ("server", "sync")
sync = sys.argv[4] == "sync"
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

        if sync:  # whole sync sessions, as server/ws.py feeds them, without the socket
            from pyconvex.protocol import encode_server_frame
            from pyconvex.sync import SyncSession
            from pyconvex.sync.errors import format_function_error
            from pyconvex.sync.subscriptions import SubscriptionManager
            manager = SubscriptionManager(t.deployment.db, runner, format_function_error)
            manager.start()
            sessions = {}

        async def sync_session(name):
            done = asyncio.Event()
            answered = [False]

            async def send(message, more):
                encode_server_frame(message)  # what the shell writes
                if message["type"] == "MutationResponse":
                    assert message["success"], message
                    answered[0] = True
                elif message["type"] == "Transition" and answered[0]:
                    answered[0] = False
                    done.set()

            session = SyncSession(manager, runner, send)
            await session.handle({"type": "Connect", "sessionId": name, "connectionCount": 0,
                                  "lastCloseReason": "InitialConnect", "clientTs": 0})
            session.receiving = True  # the shell waits for a frame: mutations are taken
            sessions[name] = (session, done, [0])

        async def insert(session):
            if sync:
                if session not in sessions:
                    await sync_session(session)
                s, done, count = sessions[session]
                count[0] += 1
                done.clear()
                assert s.take_text(
                    '{"type":"Mutation","requestId":%d,"udfPath":"channels:post",'
                    '"args":[{"channel":"hot","body":"%s"}]}' % (count[0], "x" * 100))
                return await done.wait()
            path, args = (("channels:post", {"channel": "hot", "body": "x" * 100}) if server
                          else ("bench:insert", {"body": "x" * 100}))
            if not session:
                return await t.mutation(path, args)
            request = sent[session] = sent.get(session, -1) + 1
            await run_session_mutation(runner, session, request, path, args, None,
                                       is_admin=False, may_be_resent=False)

        for _ in range(50):  # tables created, caches warm
            await insert("warm-up" if session else "")

        async def worker(k, count):
            for _ in range(count):
                await insert(f"session-{k:02d}-0000-0000-0000-000000000000" if session else "")

        await asyncio.gather(*(worker(k, n // 16) for k in range(16)))

asyncio.run(main())
"""


def instructions(
    tree: str, mutations: int, session: bool, writer: bool, server: bool = False,
    sync: bool = False,
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
             "sync" if sync else "server" if server else "-"],
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
    parser.add_argument("--sync", action="store_true",
                        help="--server's mutation sent by 16 sync sessions (SyncSession: the "
                             "Mutation text taken, its record, MutationResponse and Transition "
                             "encoded), the WebSocket path without the socket")
    args = parser.parse_args()
    args.server = args.server or args.sync
    args.session = args.session or args.sync
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (apt-get install valgrind)")
    what = ("channels:post with the server's listeners" if args.server else "insert mutation")
    what = f"session {what}" if args.session else what
    what = f"sync {what}" if args.sync else what
    head = f"| tree | instructions per {what} (median of {args.repeat}) | runs |"
    print(head + (" writer's (median) | writer's runs |" if args.writer else ""))
    print("|---|---|---|" + ("---|---|" if args.writer else ""))
    for tree in (str(Path(t).resolve()) for t in args.trees):
        base = instructions(tree, 0, args.session, args.writer, args.server, args.sync)
        runs = [instructions(tree, args.mutations, args.session, args.writer, args.server, args.sync)
                for _ in range(args.repeat)]
        own = [(m - base[0]) / args.mutations for m, _ in runs]
        line = f"| {tree} | {statistics.median(own):,.0f} | {', '.join(f'{r:,.0f}' for r in own)} |"
        if args.writer:
            kid = [(w - base[1]) / args.mutations for _, w in runs]
            line += f" {statistics.median(kid):,.0f} | {', '.join(f'{r:,.0f}' for r in kid)} |"
        print(line, flush=True)


if __name__ == "__main__":
    main()
