"""The per-call series of /metrics are plain counters turned into Prometheus' families at
scrape time: the text must be what ``prometheus_client``'s own ``Counter`` and
``Histogram`` would have written for the same observations (names, labels, buckets with
``le`` inclusive, sums, counts)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from pyconvex.functions import ExecutionRecord
from pyconvex.server.insights import Insights
from pyconvex.server.metrics import COMMIT_BUCKETS, DURATION_BUCKETS, Metrics, _Calls


def _samples(text: bytes) -> list[str]:
    """The text's lines, ``_created`` timestamps without their values (they differ)."""
    return [line.split(" ")[0] if "_created" in line else line
            for line in text.decode().splitlines()]


def test_call_series_are_what_prometheus_client_writes() -> None:
    calls = [("a:b", "mutation", None, 3.0), ("a:b", "mutation", "boom", 0.5),
             ("a:c", "query", None, 70_000.0), ("a:b", "mutation", None, 1.0),
             ("a:c", "query", None, 2.5)]  # 1.0 and 2.5 ms fall on bounds: inclusive
    commits = [0.0005, 0.0001, 7.0, 0.003, 1.0]

    ours = Metrics.__new__(Metrics)  # only the per-call part: no server state to sample
    ours.calls, ours.insights = _Calls(), Insights()
    registry = CollectorRegistry()
    registry.register(ours.calls)

    theirs = CollectorRegistry()
    executions = Counter("pyconvex_function_executions",
                         "Function executions, by function, kind and outcome.",
                         ["path", "kind", "status"], registry=theirs)
    duration = Histogram("pyconvex_function_duration_seconds",
                         "Function execution time, by function and kind.",
                         ["path", "kind"], buckets=DURATION_BUCKETS, registry=theirs)
    commit_seconds = Histogram(
        "pyconvex_commit_duration_seconds",
        "Time from handing a transaction's writes to the committer until they are durable.",
        buckets=COMMIT_BUCKETS, registry=theirs)

    for path, kind, error, ms in calls:
        ours.on_execution(ExecutionRecord(path, kind, [], error, 0.0, ms))
        executions.labels(path, kind, "failure" if error else "success").inc()
        duration.labels(path, kind).observe(ms / 1000)
    for seconds in commits:
        ours.on_commit(seconds)
        commit_seconds.observe(seconds)

    assert _samples(generate_latest(registry)) == _samples(generate_latest(theirs))
