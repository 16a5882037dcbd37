"""IntervalIndex agrees with a brute-force list of intervals, and a stab costs what it
finds (plus a logarithmic walk), not the number of intervals held."""

from __future__ import annotations

import math
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from pyconvex.sync import IntervalIndex

keys = st.binary(min_size=0, max_size=3)
add = st.tuples(st.just("add"), st.integers(0, 7), keys, st.one_of(st.none(), keys))
remove = st.tuples(st.just("remove"), st.integers(0, 7))
stab = st.tuples(st.just("stab"), keys)
programs = st.lists(st.one_of(add, remove, stab), max_size=60)


def brute(model: list[tuple[int, bytes, bytes | None]], key: bytes) -> set[int]:
    return {item for item, lo, hi in model if lo <= key and (hi is None or key < hi)}


@settings(max_examples=400, deadline=None)
@given(programs, st.lists(keys, min_size=1, max_size=8))
def test_stab_matches_brute_force(program, probes):
    index: IntervalIndex[int] = IntervalIndex()
    model: list[tuple[int, bytes, bytes | None]] = []
    for op in program:
        if op[0] == "add":
            _, item, lo, hi = op
            index.add(lo, hi, item)
            model.append((item, lo, hi))
        elif op[0] == "remove":
            index.remove(op[1])
            model = [m for m in model if m[0] != op[1]]
        else:
            found: set[int] = set()
            index.stab(op[1], found)
            assert found == brute(model, op[1])
        assert len(index) == len(model)
    for key in probes:
        found = set()
        index.stab(key, found)
        assert found == brute(model, key)


def test_a_stab_visits_a_logarithmic_number_of_intervals():
    """10,000 subscriptions on one key each, one whole-index read, churn: a stab of one
    key looks at a few dozen tree nodes, not thousands (a running-maximum array walked
    every interval back to the whole-index read)."""
    rng = random.Random(7)
    index: IntervalIndex[int] = IntervalIndex()
    n = 10_000
    for i in range(n):
        key = f"k{i:06d}".encode()
        index.add(key, key + b"\x00", i)
    index.add(b"", None, -1)  # a query reading the whole index
    for _ in range(2_000):  # re-runs moving intervals around
        i = rng.randrange(n)
        index.remove(i)
        key = f"k{i:06d}".encode()
        index.add(key, key + b"\x00", i)
    assert index.depth() <= 4 * math.log2(n)
    for i in rng.sample(range(n), 50):
        found: set[int] = set()
        before = index.visits
        index.stab(f"k{i:06d}".encode(), found)
        assert found == {i, -1}
        assert index.visits - before <= 3 * index.depth()
    found = set()
    index.stab(b"zzz", found)  # past every point: only the whole-index read
    assert found == {-1}
