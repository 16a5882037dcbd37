"""Scheduled-job throughput: jobs/s the executor runs, no-op scheduled mutations.

Each job is a real scheduled mutation: the executor finds it through the
``by_next_ts`` index, runs the function and commits the job's ``success`` in the same
durable transaction (group commit shares fsyncs between concurrent jobs).

    .venv/bin/python bench/scheduler.py --runs 3 --jobs 5000
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pyconvex.deployment import Deployment

APP = Path(__file__).resolve().parent / "app" / "convex"


async def one_run(jobs: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        d = await Deployment.open(f"sqlite:///{tmp}/db.sqlite3", APP)
        try:
            for _ in range(jobs // 1000):
                await d.runner.run_mutation("bench:schedule_noops", {"n": 1000})
            start = time.perf_counter()
            ran = await d.scheduler.run_until_idle()
            elapsed = time.perf_counter() - start
            assert ran == jobs, ran
            return jobs / elapsed
        finally:
            await d.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=5000)
    args = parser.parse_args()
    rates = [asyncio.run(one_run(args.jobs)) for _ in range(args.runs)]
    print("| figure | median | runs |")
    print("|---|---|---|")
    print(f"| scheduled no-op mutations executed/s (goal >= 1,000) | {statistics.median(rates):,.0f} | "
          f"{', '.join(f'{r:,.0f}' for r in rates)} |")


if __name__ == "__main__":
    main()
