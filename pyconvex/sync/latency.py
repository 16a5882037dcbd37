"""A histogram cheap enough to feed once per Transition.

A commit can push a Transition to a thousand sessions in one fan-out pass; a
``prometheus_client`` observation (a lock and a bucket search in Python: with the
look for the oldest change, 3.3 µs against 0.4 µs here, measured on a busy machine) per
session would be a tenth of that pass's CPU. Everything here runs on the event loop's
thread, so the counts need no lock: a Transition adds to one bucket, and ``/metrics``
reads them at scrape time.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from collections.abc import Sequence
from functools import reduce
from itertools import repeat
from operator import add

# Commit-to-push: well under a millisecond idle, tens of milliseconds to a thousand clients.
TRANSITION_BUCKETS_S = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0)


class Histogram:
    """Counts per bucket, a count and a sum, in seconds: what ``prometheus_client``'s
    ``Histogram`` keeps, without its lock and per-bucket objects. ``/metrics`` turns it
    into a family at scrape time (``cumulative``, ``sum``)."""

    __slots__ = ("bounds", "count", "counts", "sum")

    def __init__(self, bounds_s: Sequence[float]) -> None:
        self.bounds = tuple(bounds_s)
        self.counts = [0] * (len(self.bounds) + 1)  # the last: above every bound
        self.count = 0
        self.sum = 0.0

    def observe(self, seconds: float) -> None:
        self.counts[bisect_left(self.bounds, seconds)] += 1  # a bucket holds value <= bound
        self.count += 1
        self.sum += seconds

    def observe_all(self, seconds: list[float]) -> None:
        """``observe`` each of ``seconds`` in turn (the same counts and sum), by C
        iterators: no Python step per value."""
        counts = self.counts
        for bucket, n in Counter(map(bisect_left, repeat(self.bounds), seconds)).items():
            counts[bucket] += n
        self.count += len(seconds)
        self.sum = reduce(add, seconds, self.sum)  # added in order, as ``observe`` adds

    def cumulative(self) -> list[tuple[str, float]]:
        """Prometheus' ``le`` buckets: how many took at most each bound, then ``+Inf``."""
        out, running = [], 0
        for bound, n in zip(self.bounds, self.counts, strict=False):
            running += n
            out.append((repr(float(bound)), float(running)))  # as prometheus_client writes them
        out.append(("+Inf", float(self.count)))
        return out


class LatencyHistogram(Histogram):
    """Fed differences of ``time.time_ns()``; one that went back (a clock step) counts as 0."""

    __slots__ = ()

    def add(self, ns: int) -> None:
        self.observe(max(ns, 0) / 1e9)

    @property
    def sum_ns(self) -> int:
        return round(self.sum * 1e9)
