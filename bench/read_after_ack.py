"""What reading every acknowledged commit costs a query on PostgreSQL: the head read
before each HTTP query (``Database.catch_up_to_head``, shared by the queries arriving
while one is in flight), against the same query without it, in the same run.

    .venv/bin/python bench/read_after_ack.py --runs 5 --seconds 2

Queries/s of ``bench:latest`` through the function runner on the server's event loop,
from 1 and from 16 concurrent tasks; each run measures both variants back to back and
the ratio is the median over the runs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pyconvex.deployment import Deployment
from pyconvex.persistence.postgres import drop_schema
from pyconvex.server.runner import run_on_server_loop
from tests.pg import pg_url

APP = Path(__file__).resolve().parent / "app" / "convex"


async def rate(d: Deployment, tasks: int, seconds: float, head: bool) -> float:
    done = 0
    stop = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done
        while time.perf_counter() < stop:
            if head:
                await d.db.catch_up_to_head()
            await d.runner.run_query("bench:latest", {})
            done += 1

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(tasks)))
    return done / (time.perf_counter() - start)


async def main(runs: int, seconds: float) -> None:
    url = pg_url(f"bench_head_{os.getpid()}")
    d = await Deployment.open(url, APP)
    try:
        for i in range(20):
            await d.runner.run_mutation("bench:insert", {"body": f"x{i}"})
        for tasks in (1, 16):
            without, with_head = [], []
            for _ in range(runs):
                without.append(await rate(d, tasks, seconds, head=False))
                with_head.append(await rate(d, tasks, seconds, head=True))
            ratio = statistics.median(w / o for w, o in zip(with_head, without, strict=True))
            print(f"{tasks:>2} tasks: without {statistics.median(without):7.0f} q/s, "
                  f"with the head read {statistics.median(with_head):7.0f} q/s, "
                  f"ratio {ratio:.2f}", flush=True)
    finally:
        await d.close()
        await drop_schema(url)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()
    run_on_server_loop(main(args.runs, args.seconds))
