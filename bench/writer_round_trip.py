"""One durable insert at a time: the mutation's latency and its SQLite writer round
trip (from the commit's hand-over to the writer child until its reply), in process.

    .venv/bin/python bench/writer_round_trip.py [--n 600]
    cd /tmp && PYTHONPATH=<tree> /work/main/.venv/bin/python /work/main/bench/writer_round_trip.py

What a hot document's serial increments and a WebSocket mutation's round trip wait on;
bench/baselines.py's raw single-document SQLite commit, measured in the same run, is the
floor. Prints p50s (the first 100 inserts are warm-up).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from baselines import raw_sqlite_single_doc_commits

from pyconvex.persistence import sqlite_writer
from pyconvex.testing import ConvexTest

APP = Path(__file__).resolve().parent / "app" / "convex"
WARM_UP = 100


def timed_writer_calls(into: list[float]) -> None:
    """Record each commit group's round trip (µs) through the call's own ``on_done``."""
    call_then = sqlite_writer.WriterProcess.call_then

    def timed(self: Any, op: str, args: Any, on_done: Any) -> None:
        start = time.perf_counter()

        def done(error: BaseException | None) -> None:
            into.append((time.perf_counter() - start) * 1e6)
            on_done(error)

        call_then(self, op, args, done)

    sqlite_writer.WriterProcess.call_then = timed  # type: ignore[method-assign]


async def inserts(n: int) -> list[float]:
    latencies = []
    async with ConvexTest(APP) as t:
        for _ in range(n):
            start = time.perf_counter()
            await t.mutation("bench:insert", {"body": "x"})
            latencies.append((time.perf_counter() - start) * 1e6)
    return latencies[WARM_UP:]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=600)
    args = parser.parse_args()
    round_trips: list[float] = []
    timed_writer_calls(round_trips)
    latencies = asyncio.run(inserts(args.n))
    with tempfile.TemporaryDirectory() as tmp:
        raw = 1e6 / raw_sqlite_single_doc_commits(Path(tmp) / "raw.db", 2000)
    print(f"insert mutation p50 {statistics.median(latencies):.0f} µs; writer round trip p50 "
          f"{statistics.median(round_trips[WARM_UP:]):.0f} µs; raw SQLite commit {raw:.0f} µs")


if __name__ == "__main__":
    main()
