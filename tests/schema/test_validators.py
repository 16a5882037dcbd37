"""Validators: exact messages with paths, normalisation, ids, unions, JSON round trip."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyconvex.schema import ValidationFailure, v, validator_from_json
from pyconvex.values import Id, encode_id


class Ids:
    def table_number(self, name: str) -> int | None:
        return {"channels": 10001, "users": 10002}.get(name)


CHANNEL = encode_id(10001, bytes(16))
USER = encode_id(10002, bytes(16))


def fails(validator, value, path="args"):
    with pytest.raises(ValidationFailure) as info:
        validator.compile()(value, path, Ids())
    return info.value.message


def test_messages_name_the_path():
    args = v.object({"channelId": v.id("channels"), "text": v.string()})
    assert fails(args, {"channelId": 42, "text": "x"}) == 'args.channelId: expected Id("channels"), got 42'
    assert fails(args, {"channelId": USER, "text": "x"}).startswith('args.channelId: expected Id("channels")')
    assert fails(args, {"channelId": CHANNEL}) == "args.text: missing required field"
    assert fails(args, {"channelId": CHANNEL, "text": "x", "more": 1}) == "args.more: unexpected field"
    nested = v.object({"metadata": v.object({"tags": v.array(v.string())})})
    message = fails(nested, {"metadata": {"tags": ["a", "b", 3]}}, "")
    assert message == "metadata.tags[2]: expected string, got 3"


def test_normalisation():
    check = v.object({"n": v.number(), "i": v.int64(), "id": v.id("channels")}).compile()
    out = check({"n": 3, "i": 4, "id": CHANNEL}, "", Ids())
    assert out == {"n": 3.0, "i": 4, "id": CHANNEL}
    assert type(out["n"]) is float and isinstance(out["id"], Id) and out["id"].table == "channels"
    assert "expected number, got true" in fails(v.number(), True)
    assert "expected int64, got 1.5" in fails(v.int64(), 1.5)


def test_unions_literals_records_optional():
    status = v.union(v.literal("open"), v.literal("closed"))
    assert status.compile()("open", "", None) == "open"
    assert fails(status, "other") == 'args: expected "open" | "closed", got "other"'
    assert v.union(v.string(), v.null()).compile()(None, "", None) is None
    rec = v.record(v.string(), v.number())
    assert rec.compile()({"a": 1}, "", None) == {"a": 1.0}
    assert "expected number" in fails(rec, {"a": "x"})
    opt = v.object({"a": v.optional(v.string())}).compile()
    assert opt({}, "", None) == {}
    with pytest.raises(TypeError, match="only allowed for object fields"):
        v.array(v.optional(v.string()))


def test_any_rejects_non_values():
    assert "set is not a Convex value" in fails(v.any(), {1, 2})


validators = st.recursive(
    st.sampled_from([v.string(), v.number(), v.int64(), v.boolean(), v.null(), v.bytes(), v.any(),
                     v.id("users"), v.literal("x"), v.literal(2.5), v.literal(True)]),
    lambda inner: st.one_of(
        inner.map(v.array),
        st.dictionaries(st.sampled_from(["a", "b", "c"]), inner, max_size=3).map(v.object),
        st.lists(inner, min_size=1, max_size=3).map(lambda ms: v.union(*ms)),
        inner.map(lambda x: v.record(v.string(), x)),
    ),
    max_leaves=8,
)


@settings(max_examples=200, deadline=None)
@given(validators)
def test_json_round_trip(validator):
    assert validator_from_json(validator.to_json()) == validator
