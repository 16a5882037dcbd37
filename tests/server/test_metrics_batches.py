"""Metrics and insights take a runner's executions in batches (the journal,
``functions/runtime/journal.py``) and sum a batch by C iterators: the figures must be
exactly those of the same executions recorded one at a time, in order (counts,
duration buckets and sums, reads, the largest read sets with their ties, conflicts),
whether a batch holds one function or many, one minute or several."""

from __future__ import annotations

import random

from prometheus_client import CollectorRegistry, generate_latest

from pyconvex.database import Catalog
from pyconvex.functions import ExecutionRecord
from pyconvex.server.insights import MINUTE_MS, Insights
from pyconvex.server.metrics import Metrics, _Calls

NOW = 1_700_000_000_000.0


def executions(seed: int, n: int, minutes: int) -> list[ExecutionRecord]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        path = rng.choice(["a:f", "a:g", "b:h", "_system/frontend:x"])
        read = rng.choice([0, 0, 0, 1, 5, 5, 40])
        written = rng.choice([0, 1, 2])
        out.append(ExecutionRecord(
            path, "query" if path == "b:h" else "mutation", [],
            rng.choice([None, None, None, "Error: boom"]),
            NOW - rng.randrange(minutes) * MINUTE_MS + i,
            rng.choice([0.0005, 0.001, 1.0, 2.5, rng.uniform(0, 3000), rng.uniform(0, 2)]),
            f"r{i}", None, read, read * 100, written,
            written * rng.randrange(50, 90) if written else rng.choice([0, 7]),
            read if read and rng.random() < 0.3 else 0,
            ((7, b"k" + bytes([rng.randrange(3)])),) if rng.random() < 0.1 else (),
            (("t", read),) if read and rng.random() < 0.3 else (),
        ))
    return out


def figures(insights: Insights) -> object:
    return (insights.series(NOW), insights.totals(NOW), insights.latency(NOW),
            insights.report(NOW, Catalog({}, {})))


def text(registry: CollectorRegistry) -> list[str]:
    """The samples; the commit histogram's ``_created`` (when ``_Calls`` was made) left
    out, every function's kept (when its first execution finished)."""
    return [line for line in generate_latest(registry).decode().splitlines()
            if not line.startswith("pyconvex_commit_duration_seconds_created")]


def metrics() -> tuple[Metrics, CollectorRegistry]:
    ours = Metrics.__new__(Metrics)  # only the per-call part: no server state to sample
    ours.calls, ours.insights = _Calls(), Insights()
    registry = CollectorRegistry()
    registry.register(ours.calls)
    return ours, registry


def test_batches_give_the_figures_of_one_at_a_time() -> None:
    for seed, n, minutes in ((1, 300, 1), (2, 300, 3), (3, 50, 70), (4, 1, 1)):
        records = executions(seed, n, minutes)
        one, one_registry = metrics()
        for record in records:
            one.on_execution(record)
        for size in (1, 7, 64, n):
            batched, registry = metrics()
            for start in range(0, n, size):
                batched.on_executions(records[start:start + size])
            assert text(registry) == text(one_registry), (seed, size)
            assert figures(batched.insights) == figures(one.insights), (seed, size)
    assert figures(one.insights) != figures(Insights())  # the executions are counted


def test_one_function_in_one_minute_takes_the_batch_path() -> None:
    records = [ExecutionRecord("a:f", "mutation", [], None, NOW, ms, docs_written=1,
                               bytes_written=80) for ms in (0.0002, 0.5, 0.5, 12.0)]
    insights = Insights()
    insights.on_executions(records)
    totals = insights.totals(NOW)["a:f"]
    assert (totals["calls"], totals["documentsWritten"], totals["bytesWritten"]) == (4, 4, 320)
    assert totals["p50Ms"] is not None and 0.45 < totals["p50Ms"] < 0.55
