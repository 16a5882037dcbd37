"""An insert of user fields takes a shorter path (``TransactionWrites._insert_fields``:
the size taken without building the document, an object schema's check of the given
fields alone, index keys from a per-table recipe). It must store exactly what the
general path (``_check_document`` of the whole document, ``index_keys``) stores, and
fail with exactly its messages."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyconvex import define_schema, define_table, v
from pyconvex.database import Database
from pyconvex.database.documents import encode_document, index_keys
from pyconvex.errors import PyConvexError
from pyconvex.values import Id, dumps, new_id
from tests.database.conftest import write
from tests.values.strategies import values

pytestmark = pytest.mark.one_backend

SCHEMA = define_schema({
    "posts": define_table({
        "channel": v.string(), "body": v.string(), "n": v.optional(v.number()),
        "tags": v.optional(v.array(v.string())),
    }).index("by_channel", ["channel"]).index("by_n_tags", ["n", "tags"]),
    "refs": define_table({"ref": v.id("posts"), "other": v.optional(v.id("loose"))}),
    "loose": define_table(v.union(v.object({"a": v.string()}), v.object({"b": v.number()}))),
    "plain": define_table({
        "s": v.string(), "b": v.optional(v.boolean()),
        "u": v.union(v.literal("x"), v.null(), v.literal(True)), "r": v.optional(v.id("posts")),
    }),
})

GOOD: list[dict[str, Any]] = [
    {"channel": "hot", "body": "x" * 100},
    {"body": "b", "channel": "c\x00d", "n": 3},
    {"channel": "é", "body": "", "n": 2.5, "tags": ["a", "b"]},
]
BAD: list[dict[str, Any]] = [
    {"channel": 1, "body": "x"},
    {"channel": "c"},
    {"channel": "c", "body": "b", "extra": 1},
    {"channel": "c", "body": "b", "tags": [1]},
    {"channel": "c", "body": "x" * (1 << 20)},
    {f"f{i}": 1.0 for i in range(1023)},
    {"channel": "c", "body": "b", "n": {"a": {"b": [[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]}}},
]


async def _compare(db: Database, table_name: str, value: dict[str, Any]) -> None:
    txn = db.begin()
    try:
        doc_id = await txn.insert(table_name, dict(value))
    except PyConvexError as e:
        got: Any = ("error", type(e), str(e))
    else:
        update = txn._updates[doc_id]
        assert update.new is not None and update.new_keys is not None
        got = (list(update.new.items()), encode_document(update.new), update.new_keys,
               txn._pending_size)
        doc_id, created = update.new["_id"], update.new["_creationTime"]
    table = txn.table(table_name)  # ("free" was created by the insert)
    assert table is not None
    reference = db.begin()
    whole = {"_id": doc_id if got[0] != "error" else new_id(table.number),
             "_creationTime": created if got[0] != "error" else 1.5}
    whole.update(value)
    try:
        doc = reference._check_document(table, whole)
    except PyConvexError as e:
        expected: Any = ("error", type(e), str(e))
    else:
        expected = (list(doc.items()), encode_document(doc),
                    index_keys(table.indexes.values(), doc), reference._pending_size)
    assert got == expected
    if got[0] != "error":
        assert type(got[0][-2][1]) is type(expected[0][-2][1])  # an Id under a schema
        # The bytes the commit sends: encoded at the insert (a table whose values are
        # all their own JSON) or at commit, the same either way.
        encoded = txn._updates[doc_id].encoded
        assert encoded is None or encoded == expected[1]


@pytest.mark.parametrize("value", GOOD + BAD)
async def test_an_insert_stores_and_refuses_as_the_general_path(
    db: Database, value: dict[str, Any]
) -> None:
    async def setup(txn: Any) -> None:
        txn.set_schema(SCHEMA)
        txn.create_table("posts")
        txn.create_table("loose")
        txn.create_table("refs")
        await txn.add_index("posts", "by_channel", ("channel",), "enabled")
        await txn.add_index("posts", "by_n_tags", ("n", "tags"), "enabled")

    await write(db, setup)
    await _compare(db, "posts", value)
    await _compare(db, "loose", {"a": "x"} if "channel" in value else {"b": 1.0, "c": 2})
    await _compare(db, "free", value)  # no schema for it: created by the insert


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fields=st.dictionaries(st.sampled_from(["a", "b", "channel", "n"]), values, max_size=4))
async def test_any_fields_without_a_schema(db: Database, fields: dict[str, Any]) -> None:
    await _compare(db, "free", fields)


async def test_ids_in_fields_are_checked_against_their_table(db: Database) -> None:
    """A v.id() field makes the insert look table numbers up (only then)."""

    async def setup(txn: Any) -> None:
        txn.set_schema(SCHEMA)
        for name in ("posts", "loose", "refs"):
            txn.create_table(name)

    await write(db, setup)
    catalog = db.begin().catalog
    posts, loose = catalog.tables_by_name["posts"].number, catalog.tables_by_name["loose"].number
    for value in ({"ref": new_id(posts)}, {"ref": new_id(loose)}, {"ref": "nope"},
                  {"ref": new_id(posts), "other": new_id(loose)},
                  {"ref": new_id(posts), "other": new_id(posts)}):
        await _compare(db, "refs", value)


async def test_a_table_of_strings_ids_and_flags_is_encoded_at_the_insert(db: Database) -> None:
    """Its documents' bytes are orjson's dump of the checked document (no walk), the same
    bytes ``encode_document`` gives; a string orjson refuses (a lone surrogate) leaves the
    encoding, and its error, to the commit as before."""

    async def setup(txn: Any) -> None:
        txn.set_schema(SCHEMA)
        for name in ("posts", "plain"):
            txn.create_table(name)

    await write(db, setup)
    posts = db.begin().catalog.tables_by_name["posts"].number
    values_: list[dict[str, Any]] = [
        {"s": "é\"\n\x00", "u": None}, {"s": "", "b": False, "u": "x", "r": new_id(posts)},
        {"s": "x", "b": True, "u": True}, {"s": 1, "u": None}, {"s": "x", "u": "y"},
    ]
    for value in values_:
        await _compare(db, "plain", value)
    txn = db.begin()
    doc_id = await txn.insert("plain", {"s": "a", "u": "x", "r": new_id(posts)})
    update = txn._updates[doc_id]
    assert update.new is not None and update.encoded == encode_document(update.new)
    doc_id = await txn.insert("posts", {"channel": "c", "body": "b"})  # a v.number() field
    assert txn._updates[doc_id].encoded is None
    with pytest.raises(UnicodeEncodeError):
        await db.begin().insert("plain", {"s": "\udc80", "u": None})


async def test_fields_without_a_schema_that_are_their_own_json_are_encoded_at_the_insert(
    db: Database,
) -> None:
    """No schema: strings, null, booleans and finite floats (not -0.0) are dumped by
    orjson at the insert, the bytes ``encode_document`` gives; any other value (an
    int64, -0.0, NaN, bytes, an object, an array, an Id) is left to ``encode_document``
    at the commit, whose bytes are the same as before."""
    own_json: list[dict[str, Any]] = [
        {"s": "é\"\n\x00", "n": None}, {"b": False, "t": True}, {"f": 1.5, "z": 0.0, "g": -2.0},
        {"big": 1e308, "tiny": 5e-324, "s": ""},
    ]
    other: list[dict[str, Any]] = [
        {"s": "x", "i": 1}, {"f": -0.0}, {"f": float("nan")}, {"f": float("inf")},
        {"by": b"\x00"}, {"o": {"a": "b"}}, {"a": ["x"]}, {"id": Id(new_id(10001), "t")},
    ]
    txn = db.begin()
    for value in own_json + other:
        doc_id = await txn.insert("free", dict(value))
        update = txn._updates[doc_id]
        assert update.new is not None
        assert (update.encoded is not None) == (value in own_json), value
        request = txn.commit_request()
        assert request is not None
        stored = next(row[2] for row in request.documents if row[0] == doc_id)
        assert stored == encode_document(update.new) == dumps(update.new), value
    await db.commit(txn)
    for value in own_json + other:
        await _compare(db, "free", value)
