"""The Convex JSON codec: round trips, the wire's exact forms, clear errors."""

from __future__ import annotations

import re
import struct

import orjson
import pytest
from hypothesis import given, settings

from pyconvex.errors import InvalidValueError
from pyconvex.values import (
    INT64_MAX,
    INT64_MIN,
    convex_to_clean_json,
    convex_to_json,
    dumps,
    json_to_convex,
    loads,
)

from .strategies import values
from .test_ordering_props import same


@settings(max_examples=800, deadline=None)
@given(values)
def test_round_trip_through_bytes(value):
    assert same(loads(dumps(value)), value)


def test_protocol_examples_byte_for_byte():
    assert convex_to_json(42) == {"$integer": "KgAAAAAAAAA="}
    assert convex_to_json(-1) == {"$integer": "//////////8="}
    assert convex_to_json(0) == {"$integer": "AAAAAAAAAAA="}
    assert convex_to_json(float("nan")) == {"$float": "AAAAAAAA+H8="}
    assert convex_to_json(float("inf")) == {"$float": "AAAAAAAA8H8="}
    assert convex_to_json(float("-inf")) == {"$float": "AAAAAAAA8P8="}
    assert convex_to_json(-0.0) == {"$float": "AAAAAAAAAIA="}
    assert convex_to_json(b"hello") == {"$bytes": "aGVsbG8="}
    assert dumps({"n": 5.0}) == b'{"n":5.0}'  # numbers stay floats on the wire


def test_json_integers_are_float64():
    assert json_to_convex(orjson.loads(b"[5, 5.0]")) == [5.0, 5.0]
    assert type(json_to_convex(5)) is float


def test_int64_bounds_and_deep_nesting():
    for n in (INT64_MIN, INT64_MAX):
        assert loads(dumps(n)) == n
    deep: object = "x"
    for _ in range(60):
        deep = {"a": [deep]}
    assert loads(dumps(deep)) == deep


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (2**63, "does not fit in int64"),
        ({"$bad": 1}, "must not start with '$'"),
        ({"a": {1: 2}}, "a: object keys must be strings"),
        ({"é": 1}, "printable ASCII"),
        ({"x": (1, 2)}, "x: tuple is not a Convex value"),
        ({"s": {1, 2}}, "s: set is not a Convex value"),
    ],
)
def test_encode_errors_name_the_cause(value, message):
    with pytest.raises(InvalidValueError, match=re.escape(message)):
        convex_to_json(value)


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        ({"$float": "AAAAAAAA8D8="}, "only for NaN"),  # 1.0 must be a plain number
        ({"$integer": "AAA="}, "8 bytes"),
        ({"$set": []}, "unsupported special value"),
        ({"a": {"$bytes": "***"}}, "invalid base64"),
        ({"$x": 1, "y": 2}, "must not start with '$'"),
    ],
)
def test_decode_errors_name_the_cause(obj, message):
    with pytest.raises(InvalidValueError, match=re.escape(message)):
        json_to_convex(obj)


def test_clean_json_export():
    assert convex_to_clean_json({"i": 7, "b": b"hi", "n": float("nan"), "f": 1.5}) == {
        "i": "7", "b": "aGk=", "n": "NaN", "f": 1.5,
    }
    assert struct.pack("<d", loads(dumps(-0.0))) == struct.pack("<d", -0.0)
