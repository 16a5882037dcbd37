"""What the dashboard's per-execution bookkeeping costs (``server/insights.py``).

    .venv/bin/python bench/insights.py [--calls 200000] [--runs 5] [--mutations 2000]

Feeds ``Insights.on_execution`` records shaped like a server's (20 functions, reads,
some errors and conflicts) and reports the median µs per call over ``--runs`` runs,
next to what the metrics listener it rides in already did per execution (a Prometheus
counter and histogram), measured in the same run; what ``TableCounts`` (the counts
kept from commits once the dashboard asks for one) costs per published commit; and the
server-process CPU per insert mutation through the runner with the insights hook and
without it, alternated on one deployment (the A/B of the hook, free of another
process's noise).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram

from pyconvex.database import CommitRequest, Committed, ReadSet
from pyconvex.database.table_counts import TableCounts, _Count
from pyconvex.deployment import Deployment
from pyconvex.functions import ExecutionRecord
from pyconvex.server.insights import Insights
from pyconvex.server.metrics import DURATION_BUCKETS

APP = Path(__file__).resolve().parent / "app" / "convex"


def records(n: int) -> list[ExecutionRecord]:
    now = time.time() * 1000
    out = []
    for i in range(n):
        out.append(ExecutionRecord(
            f"module{i % 20}:fn", "mutation" if i % 3 else "query", [],
            "boom" if i % 50 == 0 else None, now + i * 0.01, 0.2 + (i % 97) / 10,
            docs_read=i % 40, bytes_read=(i % 40) * 120, docs_written=i % 2,
            bytes_written=(i % 2) * 100, docs_read_unindexed=(i % 40) if i % 7 == 0 else 0,
            conflicts=((5, b"k%d" % (i % 3)),) if i % 100 == 0 else (),
        ))
    return out


def prometheus_series() -> Any:
    """What ``Metrics.on_execution`` did per execution before insights: one labelled
    counter and one labelled histogram, looked up once per (path, kind, status)."""
    registry = CollectorRegistry()
    executions = Counter("e", "e", ["path", "kind", "status"], registry=registry)
    duration = Histogram("d", "d", ["path", "kind"], buckets=DURATION_BUCKETS, registry=registry)
    series: dict[tuple[str, str, bool], tuple[Any, Any]] = {}

    def observe(record: ExecutionRecord) -> None:
        key = (record.path, record.kind, record.error is not None)
        found = series.get(key)
        if found is None:
            found = series[key] = (executions.labels(record.path, record.kind, str(key[2])),
                                   duration.labels(record.path, record.kind))
        found[0].inc()
        found[1].observe(record.duration_ms / 1000)

    return observe


def per_call_us(fn: Any, batch: list[ExecutionRecord]) -> float:
    start = time.perf_counter()
    for record in batch:
        fn(record)
    return (time.perf_counter() - start) / len(batch) * 1e6


class _NoDatabase:
    """Enough of a Database for ``TableCounts`` to subscribe to (the commits are fed by
    hand here)."""

    def add_listener(self, listener: Any) -> Any:
        return lambda: None


def commit_us(batch: int) -> float:
    """``TableCounts``' listener per published commit of one inserted document, for a
    table being counted (the dashboard opened it)."""
    counts = TableCounts(_NoDatabase())  # type: ignore[arg-type]
    counts._counts[10001] = _Count(0, 0)
    commits = [[Committed(ts, CommitRequest(ts - 1, ReadSet(), [("id", 10001, b"{}", None)],
                                            [], ()))] for ts in range(1, batch + 1)]
    start = time.perf_counter()
    for published in commits:
        counts._on_commits(published)
    return (time.perf_counter() - start) / batch * 1e6


async def mutations_cpu_us(n: int, rounds: int) -> tuple[float, float]:
    """Server-process CPU per ``bench:insert`` mutation through the FunctionRunner, with
    the metrics listener's insights hook and with it as a no-op, alternated in rounds on
    one deployment (the SQLite writer, a child process, is not counted)."""
    with tempfile.TemporaryDirectory() as tmp:
        deployment = await Deployment.open(f"sqlite:///{tmp}/db.sqlite3", APP)
        runner = deployment.runner
        insights = Insights()
        hook: list[Any] = [insights.on_execution]
        runner.listeners.append(lambda record: hook[0](record))
        with_us: list[float] = []
        without_us: list[float] = []
        try:
            for i in range(rounds * 2):
                on = i % 2 == 0
                hook[0] = insights.on_execution if on else (lambda record: None)
                start = time.process_time()
                for k in range(n):
                    await runner.run_mutation("bench:insert", {"body": f"x{k}"})
                (with_us if on else without_us).append((time.process_time() - start) / n * 1e6)
        finally:
            await deployment.close()
    return statistics.median(with_us), statistics.median(without_us)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--mutations", type=int, default=2000)
    args = parser.parse_args()
    batch = records(args.calls)
    insights_us, prometheus_us = [], []
    for _ in range(args.runs):
        insights_us.append(per_call_us(Insights().on_execution, batch))
        prometheus_us.append(per_call_us(prometheus_series(), batch))
    counting = statistics.median(commit_us(args.calls) for _ in range(args.runs))
    print(f"TableCounts per commit of one insert: {counting:.2f} µs")
    with_us, without_us = asyncio.run(mutations_cpu_us(args.mutations, args.runs))
    print(f"bench:insert through the runner: {with_us:.1f} µs CPU/mutation with insights, "
          f"{without_us:.1f} without ({with_us / without_us:.3f}x; median of {args.runs} rounds "
          f"of {args.mutations})")
    print(f"Insights.on_execution: {statistics.median(insights_us):.2f} µs/call "
          f"(median of {args.runs}); the Prometheus series it rides with: "
          f"{statistics.median(prometheus_us):.2f} µs/call")


if __name__ == "__main__":
    main()
