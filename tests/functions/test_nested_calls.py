"""``ctx.run_query`` / ``ctx.run_mutation`` inside queries and mutations (convex 1.48):
one transaction, the callee's validation, the caller's identity, Convex's depth limit."""

from __future__ import annotations

from pathlib import Path

import pytest

from pyconvex import api, internal
from pyconvex.errors import ArgumentValidationError, BadRequestError, ReturnValueValidationError
from pyconvex.sync import SubscriptionManager, format_function_error
from pyconvex.testing import ConvexTest
from pyconvex.values import convex_to_json

NOTES = '''
from pyconvex import ConvexError, api, internal, internal_mutation, internal_query, mutation, query, v


@internal_query(args={"owner": v.string()})
async def by_owner(ctx, owner):
    rows = await ctx.db.query("notes").collect()
    return [r["text"] for r in rows if r["owner"] == owner]


@internal_mutation(args={"owner": v.string(), "text": v.string()}, returns=v.id("notes"))
async def add(ctx, owner, text):
    return await ctx.db.insert("notes", {"owner": owner, "text": text})


@internal_mutation(args={"owner": v.string(), "text": v.string()})
async def add_then_fail(ctx, owner, text):
    await ctx.db.insert("notes", {"owner": owner, "text": text})
    raise ConvexError("refused after writing")


@mutation(args={"owner": v.string()})
async def add_two_and_count(ctx, owner):
    first = await ctx.run_mutation(internal.notes.add, {"owner": owner, "text": "one"})
    await ctx.run_mutation(internal.notes.add, {"owner": owner, "text": "two"})
    seen = await ctx.run_query(internal.notes.by_owner, {"owner": owner})
    return {"first": first, "seen": seen}


@mutation(args={"owner": v.string()})
async def catch_failed_child(ctx, owner):
    await ctx.db.insert("notes", {"owner": owner, "text": "kept"})
    try:
        await ctx.run_mutation(internal.notes.add_then_fail, {"owner": owner, "text": "undone"})
    except ConvexError as e:
        caught = e.data
    seen = await ctx.run_query(internal.notes.by_owner, {"owner": owner})
    return {"caught": caught, "seen": seen}


@mutation(args={"owner": v.string()})
async def child_then_raise(ctx, owner):
    await ctx.run_mutation(internal.notes.add, {"owner": owner, "text": "lost"})
    raise ConvexError("the caller fails")


@query(args={"owner": v.string()})
async def count_via_child(ctx, owner):
    return len(await ctx.run_query(internal.notes.by_owner, {"owner": owner}))


@internal_query
async def who(ctx):
    identity = await ctx.auth.get_user_identity()
    return identity["subject"] if identity else None


@query
async def who_via_child(ctx):
    return await ctx.run_query(internal.notes.who, {})


@mutation
async def bad_args(ctx):
    return await ctx.run_mutation(internal.notes.add, {"owner": 5, "text": "x"})


@internal_query(returns=v.string())
async def lies_about_return(ctx):
    return 42


@query
async def bad_return(ctx):
    return await ctx.run_query(internal.notes.lies_about_return, {})


@internal_query(args={"n": v.int64()})
async def recurse(ctx, n):
    if n == 0:
        return 0
    return 1 + await ctx.run_query(internal.notes.recurse, {"n": n - 1})


@query(args={"n": v.int64()})
async def nest(ctx, n):
    return await ctx.run_query(internal.notes.recurse, {"n": n})


@query
async def query_calls_mutation(ctx):
    return await ctx.run_mutation(internal.notes.add, {"owner": "x", "text": "y"})


@internal_query(args={"tags": v.array(v.string())})
async def mutate_args(ctx, tags):
    tags.append("callee")
    return tags


@query
async def args_are_copied(ctx):
    mine = ["caller"]
    theirs = await ctx.run_query(internal.notes.mutate_args, {"tags": mine})
    return {"mine": mine, "theirs": theirs}
'''

SCHEMA = '''
from pyconvex import define_schema, define_table, v

schema = define_schema({"notes": define_table({"owner": v.string(), "text": v.string()})})
'''


@pytest.fixture
def app(tmp_path: Path) -> Path:
    root = tmp_path / "convex"
    root.mkdir()
    (root / "schema.py").write_text(SCHEMA)
    (root / "notes.py").write_text(NOTES)
    return root


async def _notes(t: ConvexTest, owner: str) -> list[str]:
    return await t.query(internal.notes.by_owner, {"owner": owner})


async def test_nested_mutations_and_queries_share_the_callers_transaction(app: Path) -> None:
    async with ConvexTest(app) as t:
        out = await t.mutation(api.notes.add_two_and_count, {"owner": "ann"})
        # the nested query saw both nested mutations' writes, before any commit
        assert out["seen"] == ["one", "two"]
        assert isinstance(out["first"], str)
        assert await _notes(t, "ann") == ["one", "two"]
        assert await t.query(api.notes.count_via_child, {"owner": "ann"}) == 2


async def test_a_failed_nested_mutation_leaves_no_writes_and_its_caller_may_go_on(app: Path) -> None:
    async with ConvexTest(app) as t:
        out = await t.mutation(api.notes.catch_failed_child, {"owner": "bob"})
        assert out == {"caught": "refused after writing", "seen": ["kept"]}
        assert await _notes(t, "bob") == ["kept"]


async def test_when_the_caller_fails_its_nested_writes_are_not_committed(app: Path) -> None:
    async with ConvexTest(app) as t:
        with pytest.raises(Exception, match="the caller fails"):
            await t.mutation(api.notes.child_then_raise, {"owner": "cy"})
        assert await _notes(t, "cy") == []


async def test_the_callee_sees_the_callers_identity(app: Path) -> None:
    async with ConvexTest(app) as t:
        assert await t.query(api.notes.who_via_child, {}) is None
        ann = t.with_identity({"subject": "ann"})
        assert await ann.query(api.notes.who_via_child, {}) == "ann"


async def test_the_callees_validators_apply(app: Path) -> None:
    async with ConvexTest(app) as t:
        with pytest.raises(ArgumentValidationError, match=r"notes:add: args\.owner: expected string"):
            await t.mutation(api.notes.bad_args, {})
        with pytest.raises(ReturnValueValidationError, match="notes:lies_about_return"):
            await t.query(api.notes.bad_return, {})


async def test_arguments_cross_the_call_as_copies(app: Path) -> None:
    async with ConvexTest(app) as t:
        out = await t.query(api.notes.args_are_copied, {})
        assert out == {"mine": ["caller"], "theirs": ["caller", "callee"]}


async def test_nesting_stops_at_convexs_depth_limit(app: Path) -> None:
    async with ConvexTest(app) as t:
        # the query a client calls plus 8 nested levels is allowed (nest -> recurse(7..0))
        assert await t.query(api.notes.nest, {"n": 7}) == 7
        with pytest.raises(BadRequestError, match="call depth limit exceeded") as info:
            await t.query(api.notes.nest, {"n": 8})
        assert info.value.short_msg == "MaximumCallDepthExceeded"


async def test_a_query_cannot_run_a_mutation(app: Path) -> None:
    async with ConvexTest(app) as t:
        with pytest.raises(AttributeError, match="run_mutation"):
            await t.query(api.notes.query_calls_mutation, {})


async def test_a_query_that_calls_another_stays_live(app: Path) -> None:
    async with ConvexTest(app) as t:
        manager = SubscriptionManager(t.deployment.db, t.deployment.runner, format_function_error)
        manager.start()
        try:
            sub = await manager.subscribe("notes:count_via_child", {"owner": "dee"}, None)
            assert sub.value_json == convex_to_json(0)  # len() is an int: an int64
            # the write is read only by the nested query: the caller re-runs all the same
            await t.mutation(internal.notes.add, {"owner": "dee", "text": "x"})
            await manager.wait_for(t.deployment.db.latest_ts)
            await manager.settled()
            assert sub.value_json == convex_to_json(1)
        finally:
            await manager.stop()
