"""ReadSet.overlaps agrees with a brute-force model of half-open intervals."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyconvex.database.reads import ReadSet, key_successor
from pyconvex.database.write_log import WriteLog

pytestmark = pytest.mark.one_backend  # pure structures: no database

keys = st.binary(min_size=0, max_size=4)
bounds = st.tuples(keys, st.one_of(st.none(), keys))
intervals = st.lists(st.tuples(st.integers(0, 2), bounds), max_size=12)
written = st.lists(st.tuples(st.integers(0, 2), keys), max_size=12)


def brute(ivs: list[tuple[int, tuple[bytes, bytes | None]]], w: list[tuple[int, bytes]]) -> bool:
    return any(
        index == wi and lo <= key and (hi is None or key < hi)
        for index, (lo, hi) in ivs
        for wi, key in w
    )


@settings(max_examples=400, deadline=None)
@given(intervals, written)
def test_overlaps_matches_brute_force(ivs, w):
    reads = ReadSet()
    for index, (lo, hi) in ivs:
        reads.add(index, lo, hi)
    hit = reads.overlaps(w)
    assert (hit is not None) == brute(ivs, w)
    if hit is not None:
        assert brute(ivs, [hit])


@settings(max_examples=200, deadline=None)
@given(intervals, st.integers(0, 2), keys)
def test_contains_matches_brute_force(ivs, index, key):
    reads = ReadSet()
    for i, (lo, hi) in ivs:
        reads.add(i, lo, hi)
    assert reads.contains(index, key) == brute(ivs, [(index, key)])


def test_point_read_is_exactly_one_key():
    reads = ReadSet()
    reads.add_point(1, b"abc")
    assert reads.overlaps([(1, b"abc")]) == (1, b"abc")
    assert reads.overlaps([(1, b"ab"), (1, b"abc\x00"), (1, b"abd"), (2, b"abc")]) is None
    assert key_successor(b"abc") == b"abc\x00"


def test_intervals_can_widen_after_being_added():
    reads = ReadSet()
    interval = reads.add(1, b"b", b"b")  # empty, as a scan starts
    assert reads.overlaps([(1, b"b")]) is None
    interval.hi = b"d"
    reads.freeze()
    assert reads.overlaps([(1, b"c")]) == (1, b"c")


@settings(max_examples=300, deadline=None)
@given(intervals, st.lists(written, max_size=8), st.integers(0, 8))
def test_write_log_first_conflict_is_the_earliest_overlapping_commit(ivs, commits, begin):
    """The write log skips commits that wrote none of the read set's indexes without
    looking at their keys; its answer is still the brute-force earliest commit after
    ``begin`` that wrote a key inside the read set."""
    log = WriteLog(0)
    for ts, w in enumerate(commits, start=1):
        log.append(ts, tuple(w))
    reads = ReadSet()
    for index, (lo, hi) in ivs:
        reads.add(index, lo, hi)
    expected = next(
        (ts for ts, w in enumerate(commits, start=1) if ts > begin and brute(ivs, w)), None
    )
    hit = log.first_conflict(begin, reads)
    assert (hit[0] if hit is not None else None) == expected
    if hit is not None:
        assert brute(ivs, [hit[1]])
