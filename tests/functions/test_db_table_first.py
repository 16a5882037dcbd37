"""``ctx.db.get/patch/replace/delete`` with the table first (convex 1.48), checked
against the id, beside the id-first forms."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pyconvex import api
from pyconvex.errors import InvalidIdError, InvalidQueryError
from pyconvex.functions.runtime.storage import insert_storage_row
from pyconvex.testing import ConvexTest

SCHEMA = '''
from pyconvex import define_schema, define_table, v

schema = define_schema({
    "users": define_table({"name": v.string(), "age": v.optional(v.float64())}),
    "posts": define_table({"title": v.string()}),
})
'''

USERS = '''
from pyconvex import mutation, query, v


@mutation(args={"name": v.string()})
async def create(ctx, name):
    return await ctx.db.insert("users", {"name": name})


@query(args={"table": v.string(), "id": v.string()})
async def get(ctx, table, id):
    return await ctx.db.get(table, id)


@query(args={"id": v.string()})
async def get_old(ctx, id):
    return await ctx.db.get(id)


@mutation(args={"table": v.string(), "id": v.string(), "fields": v.any()})
async def patch(ctx, table, id, fields):
    await ctx.db.patch(table, id, fields)


@mutation(args={"table": v.string(), "id": v.string(), "doc": v.any()})
async def replace(ctx, table, id, doc):
    await ctx.db.replace(table, id, doc)


@mutation(args={"table": v.string(), "id": v.string()})
async def delete(ctx, table, id):
    await ctx.db.delete(table, id)


@mutation(args={"id": v.string()})
async def old_forms(ctx, id):
    await ctx.db.patch(id, {"age": 3.0})
    await ctx.db.replace(id, {"name": "renamed", "age": 4.0})
    doc = await ctx.db.get(id)
    await ctx.db.delete(id)
    return doc
'''


@pytest.fixture
def app(tmp_path: Path) -> Path:
    root = tmp_path / "convex"
    root.mkdir()
    (root / "schema.py").write_text(SCHEMA)
    (root / "users.py").write_text(USERS)
    return root


async def test_table_first_forms_read_and_write(app: Path) -> None:
    async with ConvexTest(app) as t:
        uid = await t.mutation(api.users.create, {"name": "ann"})
        assert (await t.query(api.users.get, {"table": "users", "id": uid}))["name"] == "ann"
        await t.mutation(api.users.patch, {"table": "users", "id": uid, "fields": {"age": 30.0}})
        assert (await t.query(api.users.get_old, {"id": uid}))["age"] == 30.0
        await t.mutation(api.users.replace, {"table": "users", "id": uid, "doc": {"name": "bo"}})
        doc = await t.query(api.users.get, {"table": "users", "id": uid})
        assert doc["name"] == "bo" and "age" not in doc
        await t.mutation(api.users.delete, {"table": "users", "id": uid})
        assert await t.query(api.users.get, {"table": "users", "id": uid}) is None


async def test_an_id_of_another_table_is_refused_by_name_and_writes_nothing(app: Path) -> None:
    async with ConvexTest(app) as t:
        uid = await t.mutation(api.users.create, {"name": "ann"})
        expected = r'expected to be an Id<"posts">, got Id<"users"> instead'
        with pytest.raises(InvalidIdError, match=r"db\.get: invalid argument id: " + expected) as info:
            await t.query(api.users.get, {"table": "posts", "id": uid})
        assert info.value.short_msg == "InvalidTable"
        for op, extra in (("patch", {"fields": {"age": 1.0}}), ("replace", {"doc": {"name": "x"}}),
                          ("delete", {})):
            with pytest.raises(InvalidIdError, match=rf"db\.{op}: invalid argument id: " + expected):
                await t.mutation(getattr(api.users, op), {"table": "posts", "id": uid, **extra})
        assert await t.query(api.users.get, {"table": "users", "id": uid}) == await t.query(
            api.users.get_old, {"id": uid}
        )
        assert (await t.query(api.users.get_old, {"id": uid}))["name"] == "ann"


async def test_an_unknown_table_is_named(app: Path) -> None:
    async with ConvexTest(app) as t:
        uid = await t.mutation(api.users.create, {"name": "ann"})
        with pytest.raises(InvalidIdError, match=r'expected to be an Id<"nosuch">, got Id<"users">'):
            await t.query(api.users.get, {"table": "nosuch", "id": uid})


async def test_the_id_first_forms_still_work(app: Path) -> None:
    async with ConvexTest(app) as t:
        uid = await t.mutation(api.users.create, {"name": "ann"})
        doc = await t.mutation(api.users.old_forms, {"id": uid})
        assert doc["name"] == "renamed" and doc["age"] == 4.0
        assert await t.query(api.users.get_old, {"id": uid}) is None


async def test_system_tables_stay_behind_db_system(app: Path) -> None:
    async with ConvexTest(app) as t:
        with pytest.raises(InvalidQueryError, match="system"):
            await t.query(api.users.get, {"table": "_storage", "id": "x"})



async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def test_db_system_get_takes_the_table_first_too(app: Path) -> None:
    async with ConvexTest(app) as t:
        runner = t.deployment.runner
        blob = await runner.storage.require().put(_chunks(b"hello"))
        file_id = await insert_storage_row(runner, blob, "text/plain")
        row = await t.run(lambda ctx: ctx.db.system.get("_storage", file_id))
        assert row["size"] == 5.0
        with pytest.raises(InvalidIdError, match=r'expected to be an Id<"_scheduled_functions">'):
            await t.run(lambda ctx: ctx.db.system.get("_scheduled_functions", file_id))
        with pytest.raises(InvalidQueryError, match="only _scheduled_functions, _storage"):
            await t.run(lambda ctx: ctx.db.system.get("users", file_id))
