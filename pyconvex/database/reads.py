"""Read sets: what a transaction (or a live query) read, as key intervals per index.

One routine, :meth:`ReadSet.overlaps`, decides both whether a commit conflicts with a
transaction (OCC) and whether it invalidates a subscription. An interval is recorded
exactly as far as a scan went: ``take(10)`` covers keys up to its 10th result, not the
whole range, so unrelated inserts further along neither conflict nor re-run queries.

Intervals are half-open ``[lo, hi)`` over index-key bytes; ``hi is None`` means
unbounded. A point read of key ``k`` is ``[k, k + b"\\x00")``: the smallest key above
``k`` in byte order is ``k`` followed by a zero byte.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Iterator, KeysView

WrittenKey = tuple[int, bytes]
"""``(index_id, key)``: one index key written by a commit (old or new position)."""


def key_successor(key: bytes) -> bytes:
    """The smallest key strictly greater than ``key``."""
    return key + b"\x00"


class Interval:
    """A mutable ``[lo, hi)``: a scan in progress widens it as it yields rows."""

    __slots__ = ("hi", "lo")

    def __init__(self, lo: bytes, hi: bytes | None) -> None:
        self.lo = lo
        self.hi = hi

    def contains(self, key: bytes) -> bool:
        return self.lo <= key and (self.hi is None or key < self.hi)

    def is_empty(self) -> bool:
        return self.hi is not None and self.hi <= self.lo

    def __repr__(self) -> str:
        return f"Interval({self.lo!r}, {self.hi!r})"


class ReadSet:
    """Intervals read per index id, plus search reads (added by the search layer)."""

    __slots__ = ("_by_index", "_frozen")

    def __init__(self) -> None:
        self._by_index: dict[int, list[Interval]] = {}
        self._frozen: dict[int, tuple[list[bytes], list[bytes | None]]] | None = None

    def add(self, index_id: int, lo: bytes, hi: bytes | None) -> Interval:
        """Record an interval; the caller may still move its bounds until ``freeze``."""
        interval = Interval(lo, hi)
        self._by_index.setdefault(index_id, []).append(interval)
        self._frozen = None
        return interval

    def add_interval(self, index_id: int, interval: Interval) -> None:
        """Record an interval that nobody moves (it may be shared by read sets)."""
        self._by_index.setdefault(index_id, []).append(interval)
        self._frozen = None

    def add_point(self, index_id: int, key: bytes) -> None:
        self.add(index_id, key, key_successor(key))

    def index_ids(self) -> KeysView[int]:
        return self._by_index.keys()

    def intervals(self, index_id: int) -> list[Interval]:
        return [i for i in self._by_index.get(index_id, ()) if not i.is_empty()]

    def items(self) -> Iterator[tuple[int, Interval]]:
        for index_id, intervals in self._by_index.items():
            for interval in intervals:
                if not interval.is_empty():
                    yield index_id, interval

    def __len__(self) -> int:
        return sum(len(v) for v in self._by_index.values())

    def freeze(self) -> None:
        """Merge overlapping intervals per index into sorted, disjoint lists for bisect."""
        frozen: dict[int, tuple[list[bytes], list[bytes | None]]] = {}
        for index_id, intervals in self._by_index.items():
            spans = sorted(
                ((i.lo, i.hi) for i in intervals if not i.is_empty()), key=lambda s: s[0]
            )
            los: list[bytes] = []
            his: list[bytes | None] = []
            for lo, hi in spans:
                if his and (his[-1] is None or lo <= his[-1]):
                    last = his[-1]
                    if last is not None and (hi is None or hi > last):
                        his[-1] = hi
                    continue
                los.append(lo)
                his.append(hi)
            if los:
                frozen[index_id] = (los, his)
        self._frozen = frozen

    def contains(self, index_id: int, key: bytes) -> bool:
        if self._frozen is None:
            self.freeze()
        assert self._frozen is not None
        spans = self._frozen.get(index_id)
        if spans is None:
            return False
        los, his = spans
        pos = bisect_right(los, key) - 1
        if pos < 0:
            return False
        hi = his[pos]
        return hi is None or key < hi

    def overlaps(self, written: Iterable[WrittenKey]) -> WrittenKey | None:
        """The first written key that falls inside this read set, or None.

        The same check serves OCC validation (committer) and invalidation (sync).
        """
        if self._frozen is None:
            self.freeze()
        assert self._frozen is not None
        frozen = self._frozen
        for index_id, key in written:
            spans = frozen.get(index_id)
            if spans is None:
                continue
            los, his = spans
            pos = bisect_right(los, key) - 1
            if pos >= 0:
                hi = his[pos]
                if hi is None or key < hi:
                    return (index_id, key)
        return None
