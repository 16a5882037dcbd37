"""The value order is defined twice (compare_values, encode_key bytes); they agree."""

from __future__ import annotations

import itertools
import math
import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from pyconvex.values import MISSING, compare_values, decode_key, encode_key, encode_value, prefix_end
from pyconvex.values.keys import encode_element, int64_element

from .strategies import key_elements, values


def sign(x: int) -> int:
    return (x > 0) - (x < 0)


def byte_cmp(a: bytes, b: bytes) -> int:
    return sign((a > b) - (a < b))


def same(a, b) -> bool:
    """Structural equality where NaN equals NaN of the same bits."""
    if isinstance(a, float) and isinstance(b, float):
        return struct.pack("<d", a) == struct.pack("<d", b)
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return a == b


@settings(max_examples=1500, deadline=None)
@given(key_elements, key_elements)
def test_compare_values_matches_byte_order(a, b):
    assert compare_values(a, b) == byte_cmp(encode_value(a), encode_value(b))


@settings(max_examples=600, deadline=None)
@given(st.lists(key_elements, max_size=4), st.lists(key_elements, max_size=4))
def test_tuples_compare_lexicographically(xs, ys):
    expected = 0
    for x, y in zip(xs, ys, strict=False):
        expected = compare_values(x, y)
        if expected:
            break
    else:
        expected = sign(len(xs) - len(ys))
    assert byte_cmp(encode_key(xs), encode_key(ys)) == expected


@settings(max_examples=600, deadline=None)
@given(st.lists(key_elements, max_size=4))
def test_decode_key_round_trips(xs):
    decoded = decode_key(encode_key(xs))
    assert len(decoded) == len(xs)
    assert all(same(x, y) or (x is MISSING and y is MISSING) for x, y in zip(xs, decoded, strict=True))


@settings(max_examples=400, deadline=None)
@given(st.lists(key_elements, min_size=1, max_size=3), st.lists(key_elements, max_size=2))
def test_prefix_end_bounds_every_extension(prefix, rest):
    p = encode_key(prefix)
    assert p <= encode_key(prefix + rest) < prefix_end(p)


@settings(max_examples=300, deadline=None)
@given(values, values, values)
def test_order_is_transitive(a, b, c):
    if compare_values(a, b) <= 0 and compare_values(b, c) <= 0:
        assert compare_values(a, c) <= 0


def test_type_order_and_float_edges():
    ordered = [MISSING, None, -(2**63), 2**63 - 1, float("-inf"), -0.0, 0.0, math.inf, math.nan,
               False, True, "", "a", b"", [], {}]
    for x, y in itertools.pairwise(ordered):
        assert compare_values(x, y) == -1, (x, y)
        assert encode_value(x) < encode_value(y)


@given(st.integers(min_value=-(2**63), max_value=2**63 - 1))
def test_int64_element_is_encode_element_of_the_int(n: int) -> None:
    """The packed form a hot caller uses is byte for byte the general encoding."""
    assert int64_element(n) == encode_element(n)
