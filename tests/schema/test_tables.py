"""Tables, indexes and schemas: definition-time errors, JSON round trip, document checks."""

from __future__ import annotations

import json

import pytest

from pyconvex.schema import (
    IndexDefinition,
    SchemaDefinition,
    SearchIndexDefinition,
    TableDefinition,
    ValidationFailure,
    VectorIndexDefinition,
    define_schema,
    define_table,
    v,
)
from pyconvex.values import encode_id

MESSAGES, CHANNELS = 10010, 10011
MESSAGE_ID = encode_id(MESSAGES, bytes(16))
CHANNEL_ID = encode_id(CHANNELS, bytes(16))


class Ids:
    def table_number(self, name: str) -> int | None:
        return {"messages": MESSAGES, "channels": CHANNELS}.get(name)


def chat_schema(**options) -> SchemaDefinition:
    return define_schema(
        {
            "messages": define_table(
                {
                    "text": v.string(),
                    "channelId": v.id("channels"),
                    "createdAt": v.number(),
                    "metadata": v.optional(v.object({"category": v.string(), "tags": v.array(v.string())})),
                    "embedding": v.optional(v.array(v.float64())),
                }
            )
            .index("by_channel", ["channelId", "createdAt"])
            .index("by_category", ["metadata.category"])
            .staged_index("by_text", ["text"])
            .search_index("search_text", search_field="text", filter_fields=["channelId"])
            .vector_index("by_embedding", vector_field="embedding", dimensions=1536, filter_fields=["channelId"]),
            "channels": define_table({"name": v.string()}),
            "events": define_table(
                v.union(
                    v.object({"kind": v.literal("click"), "x": v.number()}),
                    v.object({"kind": v.literal("key"), "key": v.string()}),
                )
            ),
        },
        **options,
    )


def test_definitions_are_frozen_dataclasses_and_chains_make_new_tables():
    base = define_table({"a": v.string(), "b": v.number()})
    indexed = base.index("by_a", ["a", "b"])
    assert base.indexes == () and indexed.indexes == (IndexDefinition("by_a", ("a", "b"), False),)
    assert indexed.staged_index("by_b", ["b"]).indexes[1] == IndexDefinition("by_b", ("b",), True)
    t = base.search_index("s", search_field="a", filter_fields=["b"]).vector_index(
        "vec", vector_field="e", dimensions=3
    )
    assert t.search_indexes == (SearchIndexDefinition("s", "a", ("b",)),)
    assert t.vector_indexes == (VectorIndexDefinition("vec", "e", 3, ()),)
    assert [i.name for i in t.all_indexes()] == ["s", "vec"]
    with pytest.raises(AttributeError):
        t.indexes = ()  # type: ignore[misc]
    with pytest.raises(AttributeError):
        t.search_indexes[0].name = "x"  # type: ignore[misc]
    assert define_table(v.object({"a": v.string()})) == define_table({"a": v.string()})


def _table() -> TableDefinition:
    return define_table({"a": v.string(), "b": v.number(), "meta": v.object({"c": v.string()})})


@pytest.mark.parametrize(
    ("build", "error", "match"),
    [
        (lambda t: t.index("x", ["a"]).index("x", ["b"]), ValueError, "Duplicate index name 'x'"),
        (lambda t: t.index("x", ["a"]).search_index("x", search_field="a"), ValueError, "Duplicate index name"),
        (lambda t: t.index("by_id", ["a"]), ValueError, "'by_id' is reserved"),
        (lambda t: t.index("by_creation_time", ["a"]), ValueError, "reserved"),
        (lambda t: t.index("_mine", ["a"]), ValueError, "reserved"),
        (lambda t: t.index("by a", ["a"]), ValueError, "Invalid index name 'by a'"),
        (lambda t: t.index("1st", ["a"]), ValueError, "Invalid index name"),
        (lambda t: t.index(3, ["a"]), TypeError, "Index names are strings"),
        (lambda t: t.index("x", ["a", "_creationTime"]), ValueError, "_creationTime is a system field, added to every index implicitly"),
        (lambda t: t.index("x", ["_id"]), ValueError, "Index 'x': _id is a system field"),
        (lambda t: t.index("x", []), ValueError, "Index 'x': fields must not be empty"),
        (lambda t: t.index("x", "a"), TypeError, "must be a list of field paths"),
        (lambda t: t.index("x", [f"f{i}" for i in range(17)]), ValueError, "at most 16 fields, got 17"),
        (lambda t: t.index("x", ["a", "a"]), ValueError, "repeat a field"),
        (lambda t: t.index("x", ["meta..c"]), ValueError, "invalid field path 'meta..c'"),
        (lambda t: t.index("x", ["$a"]), ValueError, "invalid field path"),
        (lambda t: t.index("x", ["_private"]), ValueError, "invalid field path"),
        (lambda t: t.index("x", [1]), TypeError, "field paths are strings"),
        (lambda t: t.search_index("s", search_field="_id"), ValueError, "system field"),
        (lambda t: t.search_index("s", search_field="a", filter_fields=[f"f{i}" for i in range(17)]),
         ValueError, "Search index 's': at most 16 filter fields"),
        (lambda t: t.vector_index("vec", vector_field="e", dimensions=1), ValueError, r"dimensions must be an int in 2\.\.4096, got 1"),
        (lambda t: t.vector_index("vec", vector_field="e", dimensions=4097), ValueError, "dimensions"),
        (lambda t: t.vector_index("vec", vector_field="e", dimensions=True), ValueError, "dimensions"),
        (lambda t: t.vector_index("vec", vector_field="e", dimensions=8.0), ValueError, "dimensions"),
        (lambda t: t.vector_index("vec", vector_field="e", dimensions=8, filter_fields=[f"f{i}" for i in range(17)]),
         ValueError, "Vector index 'vec': at most 16 filter fields"),
    ],
)
def test_index_definition_errors(build, error, match):
    with pytest.raises(error, match=match):
        build(_table())


def test_index_limits_are_inclusive():
    t = _table()
    t.index("x", [f"f{i}" for i in range(16)])
    t.index("y", ["meta.c"])
    t.vector_index("v2", vector_field="e", dimensions=2, filter_fields=[f"f{i}" for i in range(16)])
    t.vector_index("v4096", vector_field="e", dimensions=4096)


@pytest.mark.parametrize(
    ("fields", "error", "match"),
    [
        ({"_secret": v.string()}, ValueError, "'_secret' starts with '_'"),
        (v.string(), TypeError, "v.object"),
        (v.union(v.object({"a": v.string()}), v.null()), TypeError, "union"),
        (v.union(v.object({"_a": v.string()})), ValueError, "reserved"),
        (v.optional(v.object({})), TypeError, "define_table"),
        ({"a": "string"}, TypeError, "expected a validator"),
        ([("a", v.string())], TypeError, "define_table"),
    ],
)
def test_table_definition_errors(fields, error, match):
    with pytest.raises(error, match=match):
        define_table(fields)


@pytest.mark.parametrize("name", ["_sys", "1abc", "has space", "", "a-b", "x" * 65])
def test_invalid_table_names_are_named(name):
    with pytest.raises(ValueError, match=f"Invalid table name {name!r}"):
        define_schema({name: define_table({"a": v.string()})})


def test_schema_definition_errors():
    with pytest.raises(ValueError, match="reserved for system tables"):
        define_schema({"_storage": define_table({})})
    with pytest.raises(TypeError, match="Table 'a': expected define_table"):
        define_schema({"a": {"x": v.string()}})  # type: ignore[dict-item]
    with pytest.raises(TypeError, match="define_schema"):
        define_schema([])  # type: ignore[arg-type]


def test_schema_json_round_trip():
    schema = chat_schema(schema_validation=False, strict_table_name_types=False)
    data = schema.to_json()
    messages = data["tables"][0]
    assert messages["tableName"] == "messages"
    assert messages["indexes"] == [
        {"indexDescriptor": "by_channel", "fields": ["channelId", "createdAt"]},
        {"indexDescriptor": "by_category", "fields": ["metadata.category"]},
    ]
    assert messages["stagedDbIndexes"] == [{"indexDescriptor": "by_text", "fields": ["text"]}]
    assert messages["searchIndexes"] == [
        {"indexDescriptor": "search_text", "searchField": "text", "filterFields": ["channelId"]}
    ]
    assert messages["vectorIndexes"] == [
        {"indexDescriptor": "by_embedding", "vectorField": "embedding", "dimensions": 1536,
         "filterFields": ["channelId"]}
    ]
    assert messages["documentType"]["value"]["channelId"] == {
        "fieldType": {"type": "id", "tableName": "channels"}, "optional": False
    }
    assert data["schemaValidation"] is False
    again = SchemaDefinition.from_json(data)
    assert again == schema and again.to_json() == data
    assert again.strict_table_name_types is False and again.schema_validation is False
    assert list(again.tables) == ["messages", "channels", "events"]


def test_schema_json_text_round_trip_with_special_literals():
    schema = define_schema({
        "t": define_table({
            "k": v.literal(3), "inf": v.literal(float("inf")), "neg": v.literal(-0.0),
            "u": v.union(v.literal("a"), v.literal(2), v.literal(2.0), v.literal(False)),
        })
    })
    text = json.dumps(schema.to_json())
    again = SchemaDefinition.from_json(text)
    assert again == schema and again.to_json() == schema.to_json()
    assert SchemaDefinition.from_json(text.encode()) == schema
    fields = again.tables["t"].validator.fields
    assert type(fields["k"].value) is int and fields["inf"].value == float("inf")
    assert str(fields["neg"].value) == "-0.0"


def test_from_json_reads_the_older_staged_flag():
    data = chat_schema().to_json()
    table = data["tables"][1]
    table["indexes"] = [{"indexDescriptor": "by_name", "fields": ["name"], "staged": True}]
    del table["stagedDbIndexes"]
    again = SchemaDefinition.from_json(data)
    assert again.tables["channels"].indexes == (IndexDefinition("by_name", ("name",), True),)


def test_document_check_accepts_system_fields_and_is_cached():
    schema = chat_schema()
    check = schema.document_check("messages")
    assert schema.document_check("messages") is check
    doc = {"_id": MESSAGE_ID, "_creationTime": 1700000000000, "text": "hi", "channelId": CHANNEL_ID,
           "createdAt": 5}
    out = check(doc, "", Ids())
    assert out["_id"].table == "messages" and out["_creationTime"] == 1.7e12 and out["createdAt"] == 5.0
    assert check({k: x for k, x in doc.items() if not k.startswith("_")}, "", Ids())["text"] == "hi"
    with pytest.raises(ValidationFailure, match=r'^_id: expected Id\("messages"\)'):
        check({**doc, "_id": CHANNEL_ID}, "", Ids())
    with pytest.raises(ValidationFailure, match=r"^metadata\.tags\[2\]: expected string, got 3$"):
        check({**doc, "metadata": {"category": "c", "tags": ["a", "b", 3]}}, "", Ids())
    with pytest.raises(ValidationFailure, match=r"^extra: unexpected field$"):
        check({**doc, "extra": 1}, "", Ids())
    events = schema.document_check("events")
    assert events({"_id": encode_id(3, bytes(16)), "kind": "key", "key": "k"}, "", None)["kind"] == "key"
    with pytest.raises(ValidationFailure) as info:
        events({"kind": "scroll"}, "", None)
    assert info.value.message == "value: expected object | object, got object"
    with pytest.raises(KeyError, match="nope"):
        schema.document_check("nope")


def test_field_validator():
    schema = chat_schema()
    assert schema.field_validator("messages", "createdAt") == v.number()
    assert schema.field_validator("messages", "metadata.category") == v.string()
    assert schema.field_validator("messages", "embedding") == v.array(v.float64())
    assert schema.field_validator("messages", "_creationTime") == v.number()
    assert schema.field_validator("messages", "text.deeper") is None
    assert schema.field_validator("messages", "nope") is None
    assert schema.field_validator("nope", "a") is None
    assert schema.field_validator("events", "kind") is None
