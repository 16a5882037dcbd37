"""The transition latency histogram: Prometheus' cumulative ``le`` buckets, a value on a
bound counted in it, a clock that stepped back counted as zero."""

from __future__ import annotations

import pytest

from pyconvex.sync.latency import LatencyHistogram

pytestmark = pytest.mark.one_backend  # no database


def test_buckets_are_cumulative_and_bounds_inclusive() -> None:
    h = LatencyHistogram((0.001, 0.01))
    for ns in (500_000, 1_000_000, 5_000_000, 50_000_000, -7):
        h.add(ns)
    assert h.cumulative() == [("0.001", 3.0), ("0.01", 4.0), ("+Inf", 5.0)]
    assert (h.count, h.sum_ns) == (5, 56_500_000)
