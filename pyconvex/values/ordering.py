"""The total order of Convex values, defined directly (values/keys.py defines it again as
bytes; a property test proves the two agree).

MISSING < null < int64 < float64 < boolean < string < bytes < array < object. Floats
by IEEE total order; strings by code point; bytes and arrays lexicographically;
objects as their (key, value) pairs in key order, lexicographically.
"""

from __future__ import annotations

from typing import Any

from pyconvex.values.keys import float_sort_bits
from pyconvex.values.types import MISSING


def type_rank(value: Any) -> int:
    if value is MISSING:
        return 0
    if value is None:
        return 1
    if isinstance(value, bool):
        return 4
    if isinstance(value, int):
        return 2
    if isinstance(value, float):
        return 3
    if isinstance(value, str):
        return 5
    if isinstance(value, (bytes, bytearray)):
        return 6
    if isinstance(value, list):
        return 7
    if isinstance(value, dict):
        return 8
    raise TypeError(f"{type(value).__name__} is not a Convex value")


def _cmp(a: Any, b: Any) -> int:
    return int(a > b) - int(a < b)


def compare_values(a: Any, b: Any) -> int:
    """-1, 0 or 1 as ``a`` sorts before, with, or after ``b``."""
    ra, rb = type_rank(a), type_rank(b)
    if ra != rb:
        return -1 if ra < rb else 1
    if ra <= 1:
        return 0
    if ra == 3:
        return _cmp(float_sort_bits(a), float_sort_bits(b))
    if ra in (2, 4, 5, 6):
        return _cmp(a, b)
    if ra == 7:
        for x, y in zip(a, b, strict=False):
            c = compare_values(x, y)
            if c:
                return c
        return _cmp(len(a), len(b))
    ka, kb = sorted(a), sorted(b)
    for x, y in zip(ka, kb, strict=False):
        c = _cmp(x, y)
        if c:
            return c
        c = compare_values(a[x], b[y])
        if c:
            return c
    return _cmp(len(ka), len(kb))
