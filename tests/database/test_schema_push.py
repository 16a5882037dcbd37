"""Schema push: validation of existing data, index backfill, catalog persistence."""

from __future__ import annotations

import pytest

from pyconvex.database import Database, Query, push_schema
from pyconvex.errors import SchemaValidationError
from pyconvex.persistence import open_persistence
from pyconvex.schema import define_schema, define_table, v

from .conftest import write


async def test_backfills_new_index_over_existing_documents(db: Database):
    async def seed(txn):
        for n in (3, 1, 2):
            await txn.insert("t", {"n": float(n)})

    await write(db, seed)
    result = await push_schema(db, define_schema({"t": define_table({"n": v.number()}).index("by_n", ["n"])}))
    assert result.indexes_added == ["t.by_n"]
    assert result.documents_backfilled == 3
    docs = await Query(db.begin(writable=False), "t").with_index("by_n").collect()
    assert [d["n"] for d in docs] == [1, 2, 3]
    # Writes after the push maintain the index.
    await write(db, lambda txn: txn.insert("t", {"n": 0.0}))
    docs = await Query(db.begin(writable=False), "t").with_index("by_n").collect()
    assert [d["n"] for d in docs] == [0, 1, 2, 3]


async def test_refuses_schema_that_existing_data_violates(db: Database):
    await write(db, lambda txn: txn.insert("t", {"n": "not a number"}))
    with pytest.raises(SchemaValidationError) as info:
        await push_schema(db, define_schema({"t": define_table({"n": v.number()})}))
    assert "in table 't'" in str(info.value) and "n" in str(info.value)
    assert db.schema is None  # the previous (absent) schema stays in force


async def test_catalog_and_schema_survive_reopen(db_url: str):
    url = db_url
    db = await Database.open(await open_persistence(url))
    schema = define_schema({"t": define_table({"n": v.number()}).index("by_n", ["n"])})
    await push_schema(db, schema)
    await write(db, lambda txn: txn.insert("t", {"n": 5.0}))
    await write(db, lambda txn: txn.insert("other", {"x": 1}))
    await db.close()
    db = await Database.open(await open_persistence(url))
    try:
        assert db.schema is not None and set(db.schema.tables) == {"t"}
        docs = await Query(db.begin(writable=False), "t").with_index("by_n").collect()
        assert [d["n"] for d in docs] == [5]
        await write(db, lambda txn: txn.insert("third", {"y": 1}))
        numbers = [t.number for t in db.catalog.user_tables()]
        assert len(set(numbers)) == 3
    finally:
        await db.close()


async def test_removed_index_is_dropped_and_changed_index_rebuilt(db: Database):
    table = define_table({"a": v.number(), "b": v.number()})
    await push_schema(db, define_schema({"t": table.index("i", ["a"])}))
    await write(db, lambda txn: txn.insert("t", {"a": 2.0, "b": 1.0}))
    await write(db, lambda txn: txn.insert("t", {"a": 1.0, "b": 2.0}))
    result = await push_schema(db, define_schema({"t": table.index("i", ["b"])}))
    assert result.indexes_removed == ["t.i"] and result.indexes_added == ["t.i"]
    docs = await Query(db.begin(writable=False), "t").with_index("i").collect()
    assert [d["b"] for d in docs] == [1, 2]


async def test_schema_with_int64_and_special_float_literals_round_trips(db_url: str):
    url = db_url
    db = await Database.open(await open_persistence(url))
    schema = define_schema({"t": define_table({"k": v.union(v.literal(5), v.literal(float("inf")))})})
    await push_schema(db, schema)
    await write(db, lambda txn: txn.insert("t", {"k": 5}))
    await db.close()
    db = await Database.open(await open_persistence(url))
    try:
        assert db.schema is not None and db.schema.to_json() == schema.to_json()
    finally:
        await db.close()
