"""ctx.db surface through ConvexTest: patch/REMOVE, replace, normalize_id, system tables."""

from __future__ import annotations

import pytest

from pyconvex import REMOVE
from pyconvex.database import Query, push_schema
from pyconvex.errors import InvalidQueryError, InvalidValueError, LimitExceededError, NotFoundError
from pyconvex.schema import define_schema, define_table, v
from pyconvex.testing import ConvexTest


async def test_patch_replace_delete_and_remove_sentinel(app_dir):
    async with ConvexTest(app_dir) as t:
        iid = await t.run(lambda ctx: ctx.db.insert("items", {"n": 1, "tag": "a", "meta": {"k": 1}}))
        await t.run(lambda ctx: ctx.db.patch(iid, {"n": 2, "meta": REMOVE}))
        doc = await t.run(lambda ctx: ctx.db.get(iid))
        assert doc["n"] == 2.0 and "meta" not in doc and doc["tag"] == "a"
        await t.run(lambda ctx: ctx.db.replace(iid, {"n": 3, "tag": "b"}))
        doc2 = await t.run(lambda ctx: ctx.db.get(iid))
        assert doc2["_creationTime"] == doc["_creationTime"] and doc2["tag"] == "b"
        with pytest.raises(InvalidValueError, match="system field _id cannot be changed"):
            await t.run(lambda ctx: ctx.db.patch(iid, {"_id": "x"}))
        await t.run(lambda ctx: ctx.db.delete(iid))
        assert await t.run(lambda ctx: ctx.db.get(iid)) is None
        with pytest.raises(NotFoundError, match="does not exist"):
            await t.run(lambda ctx: ctx.db.patch(iid, {"n": 1}))


async def test_normalize_id_and_system_tables(app_dir):
    async with ConvexTest(app_dir) as t:
        cid = await t.run(lambda ctx: ctx.db.insert("channels", {"name": "c"}))
        assert await t.run(lambda ctx: ctx.db.normalize_id("channels", cid)) == cid
        assert await t.run(lambda ctx: ctx.db.normalize_id("users", cid)) is None
        assert await t.run(lambda ctx: ctx.db.normalize_id("channels", "nope")) is None
        assert await t.run(lambda ctx: ctx.db.system.query("_storage").collect()) == []
        assert await t.run(lambda ctx: ctx.db.system.query("_scheduled_functions").collect()) == []
        with pytest.raises(InvalidQueryError, match=r"system tables are read with ctx\.db\.system"):
            await t.run(lambda ctx: ctx.db.query("_storage").collect())
        with pytest.raises(InvalidQueryError, match="only"):
            await t.run(lambda ctx: ctx.db.system.query("_tables").collect())
        with pytest.raises(InvalidQueryError, match="system tables"):
            await t.run(lambda ctx: ctx.db.insert("_storage", {}))


async def test_oversized_document_is_refused_by_name(app_dir):
    async with ConvexTest(app_dir) as t:
        with pytest.raises(LimitExceededError, match=r"'items' is too large") as info:
            await t.run(lambda ctx: ctx.db.insert("items", {"n": 1, "tag": "x" * (1 << 20)}))
        assert info.value.short_msg == "DocumentTooLarge"
        assert await t.run(lambda ctx: ctx.db.query("items").collect()) == []


async def test_staged_index_is_backfilled_but_not_queryable(tmp_path):
    root = tmp_path / "convex"
    root.mkdir()
    async with ConvexTest(root) as t:
        db = t.deployment.db
        await t.run(lambda ctx: ctx.db.insert("t", {"a": 1.0}))
        schema = define_schema({"t": define_table({"a": v.number()}).staged_index("by_a", ["a"])})
        result = await push_schema(db, schema)
        assert result.documents_backfilled == 1
        with pytest.raises(InvalidQueryError, match="staged"):
            await Query(db.begin(writable=False), "t").with_index("by_a").collect()
