"""Tables, indexes, schemas: definition-time errors, inference, diffs."""

from __future__ import annotations

from typing import Literal

import pytest

from pyconvex.schema import (
    SchemaDefinition,
    args_validator_from_signature,
    define_schema,
    define_table,
    diff_schemas,
    v,
)
from pyconvex.values import Id


def test_index_definition_errors():
    t = define_table({"a": v.string(), "b": v.number()})
    with pytest.raises(ValueError, match="Duplicate index name"):
        t.index("x", ["a"]).index("x", ["b"])
    with pytest.raises(ValueError, match="reserved"):
        t.index("by_id", ["a"])
    with pytest.raises(ValueError, match="added to every index implicitly"):
        t.index("x", ["a", "_creationTime"])
    with pytest.raises(ValueError, match="non-empty list"):
        t.index("x", [])
    with pytest.raises(ValueError, match="dimensions"):
        t.vector_index("vec", vector_field="e", dimensions=1)
    with pytest.raises(ValueError, match="Invalid table name"):
        define_schema({"_sys": t})


def test_schema_json_round_trip_and_diff():
    a = define_schema({
        "m": define_table({"t": v.string(), "c": v.id("ch")}).index("by_c", ["c"])
        .search_index("s", search_field="t", filter_fields=["c"]),
    })
    again = SchemaDefinition.from_json(a.to_json())
    assert again.to_json() == a.to_json()
    b = define_schema({
        "m": define_table({"t": v.string(), "c": v.id("ch"), "x": v.optional(v.number())})
        .index("by_c", ["c", "t"]),
        "n": define_table({"z": v.any()}),
    })
    d = diff_schemas(a, b)
    assert d.tables_added == ("n",)
    assert ("m", "by_c") in d.indexes_added and ("m", "by_c") in d.indexes_removed
    assert ("m", "s") in d.indexes_removed
    assert set(d.tables_with_changed_validator) == {"m", "n"}
    assert diff_schemas(b, b).is_empty


def test_inference_from_annotations():
    async def handler(
        ctx,
        name: str,
        n: float,
        cid: Id["channels"],  # noqa: F821 (a table name, not a forward reference)
        mode: Literal["a", "b"],
        tags: list[str],
        k: int | None = None,
    ):
        return None

    validator = args_validator_from_signature(handler)
    check = validator.compile()
    out = check({"name": "x", "n": 1, "cid": "j57000820c20a1g7104gm2rc1m70ynr8", "mode": "a", "tags": []},
                "args", None)
    assert out["n"] == 1.0 and out["cid"].table == "channels"
    assert validator.fields["k"].__class__.__name__ == "OptionalValidator"

    async def loose(ctx, **kwargs):
        return None

    assert args_validator_from_signature(loose) is None

    async def bad(ctx, x: set[int]):
        return None

    with pytest.raises(TypeError, match="cannot infer a validator"):
        args_validator_from_signature(bad)
