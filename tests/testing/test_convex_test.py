"""``ConvexTest`` calls internal functions directly, as ``convex-test`` does."""

from __future__ import annotations

from pathlib import Path

import pytest

from pyconvex import api, internal
from pyconvex.errors import NotFoundError
from pyconvex.testing import ConvexTest

JOBS = '''
from pyconvex import internal_action, internal_mutation, internal_query, query, v


@internal_mutation(args={"name": v.string()})
async def add(ctx, name):
    return await ctx.db.insert("jobs", {"name": name})


@internal_query
async def names(ctx):
    return [j["name"] for j in await ctx.db.query("jobs").collect()]


@internal_action(args={"x": v.float64()})
async def double(ctx, x):
    return x * 2


@query
async def urls(ctx):
    import os

    return [os.environ.get("CONVEX_CLOUD_URL"), os.environ.get("CONVEX_SITE_URL")]


@query
async def public_names(ctx):
    return [j["name"] for j in await ctx.db.query("jobs").collect()]
'''


@pytest.fixture
def app(tmp_path: Path) -> Path:
    root = tmp_path / "convex"
    root.mkdir()
    (root / "jobs.py").write_text(JOBS)
    return root


async def test_internal_functions_are_called_directly(app: Path) -> None:
    async with ConvexTest(app) as t:
        await t.mutation(internal.jobs.add, {"name": "a"})
        assert await t.query(internal.jobs.names, {}) == ["a"]
        assert await t.query("jobs:names") == ["a"]
        assert await t.action(internal.jobs.double, {"x": 2.5}) == 5.0
        assert await t.query(api.jobs.public_names) == ["a"]
        # a view with another identity calls them too
        assert await t.with_identity({"subject": "ann"}).query(internal.jobs.names, {}) == ["a"]


async def test_a_missing_function_is_still_named(app: Path) -> None:
    async with ConvexTest(app) as t:
        with pytest.raises(NotFoundError, match="jobs:nope"):
            await t.query(internal.jobs.nope, {})


async def test_functions_see_the_deployment_urls(app: Path) -> None:
    async with ConvexTest(app) as t:
        assert await t.query(api.jobs.urls) == ["http://127.0.0.1:3210", "http://127.0.0.1:3210/http"]
