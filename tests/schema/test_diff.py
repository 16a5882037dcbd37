"""Schema diffs: what the database must backfill, drop and re-validate."""

from __future__ import annotations

from pyconvex.schema import (
    IndexChange,
    IndexDefinition,
    SearchIndexDefinition,
    VectorIndexDefinition,
    define_schema,
    define_table,
    diff_schemas,
    v,
)


def messages(**extra_fields):
    return define_table({"text": v.string(), "channelId": v.id("channels"), **extra_fields})


def test_first_push_adds_everything():
    new = define_schema({"m": messages().index("by_c", ["channelId"]), "c": define_table({"n": v.string()})})
    d = diff_schemas(None, new)
    assert d.tables_added == ("c", "m") and d.tables_removed == ()
    assert d.tables_with_changed_validator == ("c", "m")
    m = d.table("m")
    assert m is not None and m.validator_changed
    assert m.indexes.added == (IndexDefinition("by_c", ("channelId",)),)
    assert not d.is_empty


def test_identical_schemas_and_index_order_do_not_differ():
    a = define_schema({"m": messages().index("x", ["text"]).index("y", ["channelId"])})
    b = define_schema({"m": messages().index("y", ["channelId"]).index("x", ["text"])})
    d = diff_schemas(a, b)
    assert d.is_empty and d.tables == () and d.table("m") is None


def test_indexes_added_removed_changed():
    old = define_schema({
        "m": messages()
        .index("by_c", ["channelId"])
        .index("gone", ["text"])
        .index("staged", ["text"], staged=True)
        .search_index("s", search_field="text")
        .vector_index("vec", vector_field="e", dimensions=4),
    })
    new = define_schema({
        "m": messages()
        .index("by_c", ["channelId", "text"])
        .index("fresh", ["text"])
        .index("staged", ["text"])
        .search_index("s", search_field="text", filter_fields=["channelId"])
        .vector_index("vec", vector_field="e", dimensions=8),
    })
    d = diff_schemas(old, new)
    m = d.table("m")
    assert m is not None and not m.validator_changed
    assert d.tables_with_changed_validator == ()
    assert m.indexes.added == (IndexDefinition("fresh", ("text",)),)
    assert m.indexes.removed == (IndexDefinition("gone", ("text",)),)
    by_c, staged = m.indexes.changed
    assert by_c == IndexChange(IndexDefinition("by_c", ("channelId",)), IndexDefinition("by_c", ("channelId", "text")))
    assert by_c.needs_backfill and by_c.name == "by_c"
    assert staged.name == "staged" and not staged.needs_backfill  # staged -> enabled: entries exist
    (s,) = m.search_indexes.changed
    assert s.old == SearchIndexDefinition("s", "text") and s.new == SearchIndexDefinition("s", "text", ("channelId",))
    (vec,) = m.vector_indexes.changed
    assert vec.old.dimensions == 4 and vec.new.dimensions == 8 and vec.needs_backfill
    assert m.search_indexes.added == m.search_indexes.removed == ()


def test_an_index_that_changes_kind_is_a_change_of_its_new_kind():
    old = define_schema({"m": messages().index("find", ["text"])})
    new = define_schema({"m": messages().search_index("find", search_field="text")})
    m = diff_schemas(old, new).table("m")
    assert m is not None
    assert m.indexes.changed == () and m.indexes.removed == ()
    (change,) = m.search_indexes.changed
    assert isinstance(change.old, IndexDefinition) and isinstance(change.new, SearchIndexDefinition)
    assert change.needs_backfill
    back = diff_schemas(new, old).table("m")
    assert back is not None and back.indexes.changed[0].old == SearchIndexDefinition("find", "text")


def test_tables_removed_and_validator_changes():
    old = define_schema({
        "m": messages(),
        "gone": define_table({"a": v.string()}).vector_index("vec", vector_field="e", dimensions=3),
    })
    new = define_schema({"m": messages(n=v.optional(v.number())), "fresh": define_table({"a": v.string()})})
    d = diff_schemas(old, new)
    assert d.tables_added == ("fresh",) and d.tables_removed == ("gone",)
    assert d.tables_with_changed_validator == ("fresh", "m")
    gone = d.table("gone")
    assert gone is not None and not gone.validator_changed
    assert gone.vector_indexes.removed == (VectorIndexDefinition("vec", "e", 3),)
    assert [t.table for t in d.tables] == ["fresh", "gone", "m"]
    # float64 and number are the same validator: no change.
    same = diff_schemas(
        define_schema({"m": define_table({"x": v.number()})}),
        define_schema({"m": define_table({"x": v.float64()})}),
    )
    assert same.is_empty


def test_schema_validation_switches():
    on = define_schema({"m": messages(), "c": define_table({"n": v.string()})})
    off = define_schema({"m": messages(), "c": define_table({"n": v.string()})}, schema_validation=False)
    switched_on = diff_schemas(off, on)
    assert switched_on.tables == () and switched_on.schema_validation_changed
    assert switched_on.tables_with_changed_validator == ("c", "m")  # every document must be checked
    switched_off = diff_schemas(on, off)
    assert switched_off.tables_with_changed_validator == () and not switched_off.is_empty
    assert diff_schemas(None, off).tables_with_changed_validator == ()
