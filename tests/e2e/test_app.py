"""The engine end to end through ConvexTest, the way a user's tests call it."""

from __future__ import annotations

import pytest

from pyconvex import ConvexError, api, internal
from pyconvex.errors import (
    ArgumentValidationError,
    InvalidIdError,
    NotFoundError,
    SchemaValidationError,
)
from pyconvex.testing import ConvexTest


async def test_send_and_list(app_dir):
    async with ConvexTest(app_dir) as t:
        cid = await t.mutation(api.channels.create, {"name": "general"})
        for i in range(3):
            await t.mutation(api.messages.send, {"channelId": cid, "text": f"hello  {i}"})
        msgs = await t.query("messages:list", {"channelId": cid})
        assert [m["text"] for m in msgs] == ["hello 2", "hello 1", "hello 0"]
        assert all(isinstance(m["_creationTime"], float) for m in msgs)
        assert all(isinstance(m["createdAt"], float) for m in msgs)
        assert await t.query("messages:list", {"channelId": cid, "limit": 1}) == msgs[:1]


async def test_identity(app_dir):
    async with ConvexTest(app_dir) as t:
        cid = await t.mutation(api.channels.create, {"name": "general"})
        ann = t.with_identity({"subject": "ann", "name": "Ann"})
        await ann.mutation(api.messages.send, {"channelId": cid, "text": "hi"})
        await t.mutation(api.messages.send, {"channelId": cid, "text": "anon"})
        msgs = await t.query(api.messages.list, {"channelId": cid})
        assert {m["text"]: m.get("author") for m in msgs} == {"hi": "Ann", "anon": None}


async def test_convex_error_data_intact(app_dir):
    async with ConvexTest(app_dir) as t:
        cid = await t.mutation(api.channels.create, {"name": "general"})
        with pytest.raises(ConvexError) as info:
            await t.mutation(api.messages.send, {"channelId": cid, "text": "   "})
        assert info.value.data == {"code": "EmptyMessage"}


async def test_argument_errors_name_the_path(app_dir):
    async with ConvexTest(app_dir) as t:
        with pytest.raises(ArgumentValidationError) as info:
            await t.mutation(api.messages.send, {"channelId": 42, "text": "x"})
        assert 'messages:send: args.channelId: expected Id("channels"), got 42' in str(info.value)
        cid = await t.mutation(api.channels.create, {"name": "general"})
        with pytest.raises(ArgumentValidationError) as info:
            await t.mutation(api.messages.send, {"channelId": cid})
        assert "args.text" in str(info.value) and "missing" in str(info.value)
        with pytest.raises(ArgumentValidationError) as info:
            await t.mutation(api.messages.send, {"channelId": cid, "text": "x", "extra": 1})
        assert "args.extra" in str(info.value)
        # An id of the wrong table.
        uid = await t.mutation(api.users.register, {"email": "a@x", "name": "A"})
        with pytest.raises(ArgumentValidationError) as info:
            await t.mutation(api.messages.send, {"channelId": uid, "text": "x"})
        assert 'expected Id("channels")' in str(info.value)


async def test_unknown_function_and_internal(app_dir):
    async with ConvexTest(app_dir) as t:
        with pytest.raises(NotFoundError) as info:
            await t.query("messages:nope", {})
        assert "Could not find function for 'messages:nope'" in str(info.value)
        # ConvexTest calls internal functions directly, as convex-test does (clients
        # cannot: tests/server/test_http_api.py::test_internal_functions_need_the_admin_key)
        await t.mutation(internal.messages.wipe, {})
        with pytest.raises(NotFoundError) as info:
            await t.mutation("messages:list", {})
        assert "as Mutation, but it is defined as Query" in str(info.value)


async def test_nested_paths_and_actions(app_dir):
    async with ConvexTest(app_dir) as t:
        uid = await t.mutation(api.users.register, {"email": "a@x", "name": "A"})
        await t.mutation(api.admin.users.remove, {"id": uid})
        out = await t.action(api.actions.make_channel_and_count, {"name": "c1"})
        assert out["count"] == 1 and isinstance(out["id"], str)


async def test_failed_mutation_leaves_no_partial_write(app_dir):
    async with ConvexTest(app_dir) as t:
        a = await t.mutation(api.bank.open_account, {"owner": "a", "balance": 100})
        b = await t.mutation(api.bank.open_account, {"owner": "b", "balance": 0})
        with pytest.raises(RuntimeError, match="boom"):
            await t.mutation(api.bank.transfer_then_fail, {"src": a, "dst": b, "amount": 10})
        assert await t.query(api.bank.balances, {}) == [100.0, 0.0]


async def test_run_inline_and_schema_enforced(app_dir):
    async with ConvexTest(app_dir) as t:
        cid = await t.run(lambda ctx: ctx.db.insert("channels", {"name": "x"}))
        doc = await t.run(lambda ctx: ctx.db.get(cid))
        assert doc["name"] == "x"
        with pytest.raises(SchemaValidationError) as info:
            await t.run(lambda ctx: ctx.db.insert("channels", {"name": 3}))
        assert "channels" in str(info.value) and "name" in str(info.value)
        with pytest.raises(InvalidIdError):
            await t.run(lambda ctx: ctx.db.get("not-an-id"))


async def test_logs_are_captured(app_dir):
    async with ConvexTest(app_dir) as t:
        cid = await t.mutation(api.channels.create, {"name": "general"})
        result = await t.deployment.runner.run_mutation(
            api.messages.send, {"channelId": cid, "text": "hey"}
        )
        assert result.log_lines[0] == "[LOG] 'sending' 'hey'"
        assert result.log_lines[1].startswith("[INFO] sent to ")
