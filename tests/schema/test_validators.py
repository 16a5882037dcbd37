"""Validators: accept/reject with exact messages and paths, normalisation, ids, misuse."""

from __future__ import annotations

import math

import pytest

from pyconvex.schema import ValidationFailure, Validator, pagination_opts_validator, v
from pyconvex.values import INT64_MAX, INT64_MIN, Id, encode_id

CHANNELS, USERS = 10001, 10002
CHANNEL = encode_id(CHANNELS, bytes(range(16)))
USER = encode_id(USERS, bytes(range(16)))


class Ids:
    def table_number(self, name: str) -> int | None:
        return {"channels": CHANNELS, "users": USERS}.get(name)


def ok(validator: Validator, value, ids=None):
    return validator.compile()(value, "args", ids)


def fails(validator: Validator, value, path: str = "args", ids=None) -> str:
    with pytest.raises(ValidationFailure) as info:
        validator.compile()(value, path, ids)
    assert str(info.value) == info.value.message
    assert info.value.message.startswith(f"{info.value.path or 'value'}: ")
    return info.value.message


# --------------------------------------------------------------------- leaves


@pytest.mark.parametrize(
    ("validator", "good", "bad", "message"),
    [
        (v.string(), ["", "hé", CHANNEL], [3, None, b"x", ["a"]], "args: expected string, got 3"),
        (v.boolean(), [True, False], [1, 0, "true", None], "args: expected boolean, got 1"),
        (v.null(), [None], [0, "", False, []], "args: expected null, got 0"),
        (v.bytes(), [b"", b"\x00\xff"], ["ab", [1], None], 'args: expected bytes, got "ab"'),
        (v.int64(), [0, -5, INT64_MIN, INT64_MAX], [1.5, 2.0, True, INT64_MAX + 1, "1"],
         "args: expected int64, got 1.5"),
        (v.number(), [1.5, -0.0, math.inf], [True, "1", None, [1.0]], "args: expected number, got true"),
        (v.float64(), [1.5], [False, "x"], "args: expected float64, got false"),
    ],
)
def test_leaf_validators(validator, good, bad, message):
    for value in good:
        assert ok(validator, value) == value
    for value in bad:
        fails(validator, value)
    assert fails(validator, bad[0]) == message


def test_numbers_normalise_ints_to_floats_and_never_take_bools():
    for validator in (v.number(), v.float64()):
        out = ok(validator, 3)
        assert out == 3.0 and type(out) is float
        assert fails(validator, True).endswith("got true")
    assert math.isnan(ok(v.number(), math.nan))
    assert fails(v.number(), 10**400) == "args: expected number, got an integer of 1329 bits"
    out = ok(v.int64(), 7)
    assert out == 7 and type(out) is int
    assert fails(v.int64(), 2.0) == (
        "args: expected int64, got 2.0 (a float64, as JavaScript numbers are: pass 2n (BigInt) "
        "from JavaScript, or declare the argument float / v.float64())"
    )
    assert fails(v.int64(), 2.0, path="") == "value: expected int64, got 2.0"  # a document: no hint
    assert fails(v.int64(), INT64_MAX + 1) == f"args: expected int64, got {INT64_MAX + 1}"


def test_short_value_reprs_in_messages():
    s = v.string()
    assert fails(s, None) == "args: expected string, got null"
    assert fails(s, math.inf) == "args: expected string, got Infinity"
    assert fails(s, math.nan) == "args: expected string, got NaN"
    assert fails(s, b"abc") == "args: expected string, got bytes(3)"
    assert fails(s, [1, 2]) == "args: expected string, got array(2)"
    assert fails(s, {"a": 1}) == "args: expected string, got object"
    assert fails(s, {1, 2}) == "args: expected string, got set"
    assert fails(v.number(), "x" * 50) == 'args: expected number, got "' + "x" * 37 + '..."'
    assert fails(v.number(), 'say "hi"') == 'args: expected number, got "say \\"hi\\""'
    assert fails(s, 3, path="") == "value: expected string, got 3"


def test_any_accepts_every_convex_value_and_nothing_else():
    value = {"a": [1, 2.5, None, True, "x", b"y", {"b": []}], "c": INT64_MIN}
    assert ok(v.any(), value) == value
    assert fails(v.any(), {1, 2}) == "args: expected any Convex value, got set"
    assert fails(v.any(), {"a": [1, (2, 3)]}) == "args.a[1]: expected any Convex value, got tuple"
    assert fails(v.any(), {"a": {"$b": 1}}) == 'args.a: expected a valid field name, got "$b"'
    assert fails(v.any(), [INT64_MAX + 1]) == f"args[0]: expected any Convex value, got {INT64_MAX + 1}"
    assert fails(v.any(), {1: 2}) == "args: expected a valid field name, got 1"


# ------------------------------------------------------------------------ ids


def test_ids_decode_check_their_table_and_come_back_as_id():
    cid = v.id("channels")
    out = ok(cid, CHANNEL, Ids())
    assert out == CHANNEL and isinstance(out, Id) and out.table == "channels"
    assert ok(cid, CHANNEL) == CHANNEL  # no resolver: any valid id
    assert ok(cid, USER).table == "channels"
    assert fails(cid, USER, ids=Ids()) == f'args: expected Id("channels"), got "{USER}"'
    assert fails(cid, 42) == 'args: expected Id("channels"), got 42'
    assert fails(cid, "not-an-id") == 'args: expected Id("channels"), got "not-an-id"'
    assert fails(cid, CHANNEL[:-1] + ("0" if CHANNEL[-1] != "0" else "1")).startswith(
        'args: expected Id("channels")'
    )
    assert fails(v.id("ghosts"), CHANNEL, ids=Ids()).startswith('args: expected Id("ghosts")')
    # The cache of decoded ids does not leak across tables.
    assert ok(v.id("users"), USER, Ids()).table == "users"
    assert fails(v.id("users"), CHANNEL, ids=Ids()).startswith('args: expected Id("users")')


def test_the_brief_example_message():
    args = v.object({"channelId": v.id("channels"), "text": v.string()})
    assert fails(args, {"channelId": 42, "text": "x"}) == 'args.channelId: expected Id("channels"), got 42'


# ----------------------------------------------------------------- containers


def test_objects_missing_unknown_nested_and_copied():
    args = v.object({"channelId": v.id("channels"), "text": v.string(), "n": v.optional(v.number())})
    assert fails(args, {"channelId": CHANNEL}) == "args.text: missing required field"
    assert fails(args, {"channelId": CHANNEL, "text": "x", "more": 1}) == "args.more: unexpected field"
    assert fails(args, {"channelId": CHANNEL, "text": "x", "n": None}) == "args.n: expected number, got null"
    assert fails(args, [1]) == "args: expected object, got array(1)"
    value = {"channelId": CHANNEL, "text": "x"}
    out = ok(args, value)
    assert out == value and out is not value
    assert ok(args, {**value, "n": 2})["n"] == 2.0
    nested = v.object({"metadata": v.object({"tags": v.array(v.string())})})
    assert fails(nested, {"metadata": {"tags": ["a", "b", 3]}}, path="") == (
        "metadata.tags[2]: expected string, got 3"
    )
    assert fails(nested, {"metadata": {}}, path="") == "metadata.tags: missing required field"
    assert ok(v.object({}), {}) == {}


def test_arrays_check_every_element_and_name_the_index():
    arr = v.array(v.number())
    out = ok(arr, [1, 2.5])
    assert out == [1.0, 2.5] and all(type(x) is float for x in out)
    floats = [0.5] * 10
    assert ok(arr, floats) == floats and ok(arr, floats) is not floats
    assert fails(arr, [1.0, 2.0, "x"]) == 'args[2]: expected number, got "x"'
    assert fails(arr, (1.0,)) == "args: expected array<number>, got tuple"
    grid = v.array(v.array(v.object({"x": v.int64()})))
    assert fails(grid, [[{"x": 1}], [{"x": 1}, {"x": 1.5}]]) == "args[1][1].x: expected int64, got 1.5"


def test_records_check_keys_and_values():
    rec = v.record(v.string(), v.number())
    assert ok(rec, {"a": 1, "b": 2.5}) == {"a": 1.0, "b": 2.5}
    assert fails(rec, {"a": "x"}) == 'args.a: expected number, got "x"'
    assert fails(rec, {"$a": 1.0}) == 'args: expected record key, got "$a"'
    assert fails(rec, {"": 1.0}) == 'args: expected record key, got ""'
    assert fails(rec, {3: 1.0}) == "args: expected record key, got 3"
    assert fails(rec, "x") == 'args: expected record, got "x"'
    by_user = v.record(v.id("users"), v.boolean())
    out = ok(by_user, {USER: True}, Ids())
    assert out == {USER: True} and isinstance(next(iter(out)), Id)
    assert fails(by_user, {CHANNEL: True}, ids=Ids()) == f'args: expected record key Id("users"), got "{CHANNEL}"'
    assert fails(by_user, {USER: 1}, ids=Ids()) == f"args.{USER}: expected boolean, got 1"


def test_unions_try_members_in_order():
    status = v.union(v.literal("open"), v.literal("closed"))
    assert ok(status, "open") == "open"
    assert fails(status, "other") == 'args: expected "open" | "closed", got "other"'
    assert fails(status, 1) == 'args: expected "open" | "closed", got 1'
    maybe = v.union(v.string(), v.null())
    assert ok(maybe, None) is None and ok(maybe, "x") == "x"
    assert fails(maybe, 3) == "args: expected string | null, got 3"
    # In order: the first member that accepts normalises.
    assert type(ok(v.union(v.number(), v.int64()), 3)) is float
    assert type(ok(v.union(v.int64(), v.number()), 3)) is int
    mixed = v.union(v.literal("a"), v.null())
    assert fails(mixed, "b") == 'args: expected "a" | null, got "b"'
    # Only one member can take a dict: its own, deeper failure is the useful one.
    either = v.union(v.object({"kind": v.literal("a"), "n": v.number()}), v.null())
    assert fails(either, {"kind": "a"}) == "args.n: missing required field"
    two = v.union(v.object({"a": v.number()}), v.object({"b": v.string()}))
    assert ok(two, {"b": "x"}) == {"b": "x"}
    assert fails(two, {"c": 1}) == "args: expected object | object, got object"


def test_literals():
    assert ok(v.literal("x"), "x") == "x"
    assert ok(v.literal(True), True) is True
    assert fails(v.literal(True), 1) == "args: expected true, got 1"
    assert fails(v.literal(1), True) == "args: expected 1, got true"
    assert fails(v.literal(1), 1.0) == "args: expected 1, got 1.0"
    out = ok(v.literal(2.0), 2)
    assert out == 2.0 and type(out) is float
    assert ok(v.literal(1), 1) == 1
    assert ok(v.literal("x"), Id("x")) == "x"
    lits = v.union(v.literal(1), v.literal(2.5), v.literal(True), v.literal("1"))
    assert ok(lits, 1) == 1 and ok(lits, 2.5) == 2.5 and ok(lits, True) is True and ok(lits, "1") == "1"
    assert fails(lits, 1.0) == 'args: expected 1 | 2.5 | true | "1", got 1.0'
    assert fails(lits, False).endswith("got false")
    int_first = v.union(v.literal(2), v.literal(2.0))
    assert type(ok(int_first, 2)) is int and type(ok(int_first, 2.0)) is float
    float_first = v.union(v.literal(2.0), v.literal(2))
    assert type(ok(float_first, 2)) is float


def test_pagination_opts():
    check = pagination_opts_validator.compile()
    assert check({"numItems": 10, "cursor": None}, "args.paginationOpts", None) == {
        "numItems": 10.0,
        "cursor": None,
    }
    with pytest.raises(ValidationFailure, match=r"^args\.paginationOpts\.cursor: missing required field$"):
        check({"numItems": 10}, "args.paginationOpts", None)
    full = {"numItems": 5.0, "cursor": "c", "endCursor": None, "id": 1.0, "maximumRowsRead": 9.0,
            "maximumBytesRead": 9.0}
    assert check(full, "", None) == full


# -------------------------------------------------------------- definitions


def test_optional_only_as_an_object_field():
    for build in (
        lambda: v.array(v.optional(v.string())),
        lambda: v.union(v.string(), v.optional(v.null())),
        lambda: v.record(v.string(), v.optional(v.string())),
    ):
        with pytest.raises(TypeError, match="only allowed for object fields"):
            build()
    with pytest.raises(TypeError, match="only be used as an object field"):
        v.optional(v.string()).compile()
    with pytest.raises(TypeError, match="not allowed"):
        v.optional(v.optional(v.string()))
    assert ok(v.object({"a": v.optional(v.string())}), {}) == {}


@pytest.mark.parametrize(
    ("build", "error", "match"),
    [
        (lambda: v.record(v.number(), v.string()), TypeError, "keys must be v.string"),
        (lambda: v.union(), TypeError, "at least one member"),
        (lambda: v.literal(None), TypeError, "v.literal"),
        (lambda: v.literal([1]), TypeError, "v.literal"),
        (lambda: v.literal(math.nan), ValueError, "NaN"),
        (lambda: v.literal(2**64), ValueError, "int64"),
        (lambda: v.id(""), TypeError, "table name"),
        (lambda: v.object({"$x": v.string()}), ValueError, r"\$"),
        (lambda: v.object({"": v.string()}), ValueError, "non-empty"),
        (lambda: v.object({"a": str}), TypeError, "expected a validator"),
        (lambda: v.object([("a", v.string())]), TypeError, "dict of validators"),
        (lambda: v.array("string"), TypeError, "expected a validator"),
    ],
)
def test_definition_errors(build, error, match):
    with pytest.raises(error, match=match):
        build()


def test_reprs_equality_and_immutability():
    assert repr(v.id("channels")) == 'v.id("channels")'
    assert repr(v.object({"a": v.optional(v.array(v.float64())), "b": v.literal("x")})) == (
        'v.object({"a": v.optional(v.array(v.float64())), "b": v.literal("x")})'
    )
    assert repr(v.union(v.literal(1), v.literal(True), v.null())) == "v.union(v.literal(1), v.literal(True), v.null())"
    assert repr(v.record(v.id("users"), v.any())) == 'v.record(v.id("users"), v.any())'
    assert repr(v.int64()) == "v.int64()" and repr(v.bytes()) == "v.bytes()"
    assert v.float64() == v.number() and hash(v.float64()) == hash(v.number())
    assert v.object({"a": v.string(), "b": v.null()}) == v.object({"b": v.null(), "a": v.string()})
    assert v.optional(v.string()) != v.string() and v.string() != v.optional(v.string())
    assert v.literal(1) != v.literal(1.0) and v.literal(1) != v.literal(True)
    validator = v.object({"a": v.string()})
    with pytest.raises(AttributeError, match="immutable"):
        validator.fields = {}  # type: ignore[misc]
    with pytest.raises(TypeError):
        validator.fields["b"] = v.string()  # type: ignore[index]
    assert validator.compile() is validator.compile()


def test_uses_ids_finds_an_id_anywhere_inside_and_only_then():
    """What decides whether a compiled check is given an id resolver (arguments and
    insert plans): a missed ``v.id()`` would check ids without their table numbers."""
    assert v.id("users").uses_ids()
    assert v.object({"xs": v.array(v.union(v.string(), v.id("users")))}).uses_ids()
    assert v.optional(v.record(v.string(), v.id("posts"))).uses_ids()
    assert not v.object({"type": v.literal("id"), "id": v.string()}).uses_ids()
    assert not v.any().uses_ids()
