"""The hour of per-minute figures behind the dashboard's charts and insights: quantiles
within the histogram's 5%, minutes leaving the window, a late record (an action that
started minutes ago) landing in its own minute, the largest read sets kept."""

from __future__ import annotations

from pyconvex.database import Catalog
from pyconvex.functions import ExecutionRecord
from pyconvex.server.insights import MINUTE_MS, RATIO, TOP, Insights

NOW = 1_000 * MINUTE_MS + 30_000.0  # half a minute into minute 1000


def record(path: str, started_ms: float, duration_ms: float = 1.0, read: int = 0,
           error: str | None = None) -> ExecutionRecord:
    return ExecutionRecord(path, "query", [], error, started_ms, duration_ms, docs_read=read)


def test_quantiles_are_within_the_histograms_precision() -> None:
    insights = Insights()
    for ms in range(1, 1001):
        insights.on_execution(record("m:f", NOW, duration_ms=ms / 10))  # 0.1 .. 100 ms
    figures = insights.totals(NOW)["m:f"]
    assert figures["calls"] == 1000
    assert abs(figures["p50Ms"] - 50.0) <= 50.0 * (RATIO - 1)
    assert abs(figures["p99Ms"] - 99.0) <= 99.0 * (RATIO - 1)


def test_the_window_is_the_last_hour_and_late_records_land_in_their_minute() -> None:
    insights = Insights()
    insights.on_execution(record("m:f", NOW - 61 * MINUTE_MS))  # out of the window
    insights.on_execution(record("m:f", NOW, error="boom"))
    insights.on_execution(record("m:f", NOW - 3 * MINUTE_MS))  # reported late
    buckets = insights.series(NOW)["functions"]["m:f"]["buckets"]
    assert [i for i, b in enumerate(buckets) if b["calls"]] == [56, 59]
    assert buckets[59]["errors"] == 1
    later = NOW + 60 * MINUTE_MS  # an hour on: every minute left the window
    insights.on_execution(record("m:g", later))
    assert set(insights.series(later)["functions"]) == {"m:g"}


def test_the_largest_read_sets_are_kept() -> None:
    insights = Insights()
    for n in range(100):
        insights.on_execution(record(f"m:f{n % 3}", NOW, read=n))
    largest = insights.report(NOW, Catalog.bootstrap())["largestReadSets"]
    assert [r["documentsRead"] for r in largest] == list(range(99, 99 - TOP, -1))
