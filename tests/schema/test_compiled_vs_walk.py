"""Compiled checks agree with the naive walk (``walk.py``) on generated validators and values.

Both must return equal normalised values (with equal Python types) or fail with the
same message. Values are drawn both from the validator (mostly valid, with mutations)
and from arbitrary Convex values (mostly invalid).
"""

from __future__ import annotations

from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from pyconvex.schema import ValidationFailure, Validator, v, validator_from_json
from pyconvex.schema.scalars import (
    AnyValidator,
    BooleanValidator,
    BytesValidator,
    IdValidator,
    Int64Validator,
    LiteralValidator,
    NullValidator,
    NumberValidator,
    StringValidator,
)
from pyconvex.schema.validators import ArrayValidator, ObjectValidator, RecordValidator, UnionValidator
from pyconvex.values import INT64_MAX, INT64_MIN, encode_id
from tests.schema.walk import walk
from tests.values.strategies import values as convex_values

USER_IDS = [encode_id(10002, bytes([i]) * 16) for i in range(3)]
OTHER_IDS = [encode_id(10001, bytes([i]) * 16) for i in range(2)]


class Ids:
    def table_number(self, name: str) -> int | None:
        return {"users": 10002, "channels": 10001}.get(name)


names = st.sampled_from(["a", "b", "c", "metadata", "x_1"])
leaves = st.sampled_from(
    [
        v.string(), v.number(), v.float64(), v.int64(), v.boolean(), v.null(), v.bytes(), v.any(),
        v.id("users"), v.literal("x"), v.literal(""), v.literal(2.5), v.literal(2.0), v.literal(2),
        v.literal(True), v.literal(False),
    ]
)


def _fields(inner: st.SearchStrategy[Validator]) -> st.SearchStrategy[Validator]:
    field = st.one_of(inner, inner.map(v.optional))
    return st.dictionaries(names, field, max_size=4).map(v.object)


validators = st.recursive(
    leaves,
    lambda inner: st.one_of(
        inner.map(v.array),
        _fields(inner),
        st.lists(inner, min_size=1, max_size=4).map(lambda ms: v.union(*ms)),
        st.tuples(st.sampled_from([v.string(), v.id("users")]), inner).map(lambda kv: v.record(*kv)),
    ),
    max_leaves=10,
)


def _values_for(validator: Validator) -> st.SearchStrategy[Any]:
    if isinstance(validator, StringValidator):
        return st.text(max_size=5)
    if isinstance(validator, NumberValidator):
        return st.one_of(st.floats(), st.integers(-(2**60), 2**60))
    if isinstance(validator, Int64Validator):
        return st.integers(INT64_MIN, INT64_MAX)
    if isinstance(validator, BooleanValidator):
        return st.booleans()
    if isinstance(validator, NullValidator):
        return st.none()
    if isinstance(validator, BytesValidator):
        return st.binary(max_size=4)
    if isinstance(validator, AnyValidator):
        return convex_values
    if isinstance(validator, IdValidator):
        return st.sampled_from(USER_IDS + OTHER_IDS)
    if isinstance(validator, LiteralValidator):
        return st.just(validator.value)
    if isinstance(validator, ArrayValidator):
        return st.lists(_values_for(validator.element), max_size=4)
    if isinstance(validator, ObjectValidator):
        required = {n: _values_for(f) for n, f in validator.fields.items() if not f.is_optional}
        optional = {n: _values_for(f.inner) for n, f in validator.fields.items() if f.is_optional}  # type: ignore[attr-defined]
        return st.fixed_dictionaries(required, optional=optional)
    if isinstance(validator, RecordValidator):
        keys = st.sampled_from(USER_IDS) if isinstance(validator.keys, IdValidator) else names
        return st.dictionaries(keys, _values_for(validator.values), max_size=3)
    if isinstance(validator, UnionValidator):
        return st.one_of([_values_for(m) for m in validator.members])
    raise AssertionError(validator)


def _run(check: Any, value: Any) -> tuple[str, Any]:
    try:
        return ("ok", check(value))
    except ValidationFailure as e:
        return ("fail", (e.path, e.message))


def _typed(x: Any) -> Any:
    """A structure that compares Python types too (1 != 1.0 != True)."""
    if isinstance(x, list):
        return ("list", [_typed(i) for i in x])
    if isinstance(x, dict):
        return ("dict", {k: _typed(i) for k, i in x.items()})
    if isinstance(x, float) and x != x:
        return ("nan",)
    return (type(x).__name__, x)


def _agree(validator: Validator, value: Any, ids: Any) -> None:
    compiled = _run(lambda x: validator.compile()(x, "args", ids), value)
    walked = _run(lambda x: walk(validator, x, "args", ids), value)
    assert compiled[0] == walked[0], (compiled, walked)
    if compiled[0] == "ok":
        assert _typed(compiled[1]) == _typed(walked[1])
    else:
        assert compiled[1] == walked[1]


@settings(max_examples=300, deadline=None)
@given(st.data(), validators, st.booleans())
def test_compiled_agrees_with_walk_on_matching_values(data, validator, with_ids):
    value = data.draw(_values_for(validator))
    _agree(validator, value, Ids() if with_ids else None)


@settings(max_examples=300, deadline=None)
@given(validators, convex_values, st.booleans())
@example(v.union(v.int64()), 0.0, False)  # an integral float for an int64: the hint
@example(v.int64(), -3.0, False)
def test_compiled_agrees_with_walk_on_arbitrary_values(validator, value, with_ids):
    _agree(validator, value, Ids() if with_ids else None)


@settings(max_examples=300, deadline=None)
@given(validators)
def test_json_round_trip(validator):
    again = validator_from_json(validator.to_json())
    assert again == validator
    assert again.to_json() == validator.to_json()
    assert hash(again) == hash(validator)
