"""Triggers through ConvexTest: counts, cascades, audit, depth limit, and atomicity."""

from __future__ import annotations

import pytest

from pyconvex.errors import ForbiddenError, LimitExceededError
from pyconvex.helpers import Triggers
from pyconvex.testing import ConvexTest
from tests.functions._secure import SECUREAPP


async def test_insert_update_delete_fire_with_old_and_new_documents():
    async with ConvexTest(SECUREAPP) as t:
        cid = await t.mutation("counted:make_channel", {"name": "c"})
        await t.mutation("counted:send_many", {"channelId": cid, "bodies": ["a", "b", "c"]})
        state = await t.query("counted:state")
        assert state["channels"][0]["messageCount"] == 3
        mid = state["messages"][0]["_id"]
        await t.mutation("counted:edit", {"id": mid, "body": "a2"})  # update: count unchanged
        await t.mutation("counted:remove", {"id": mid})
        state = await t.query("counted:state")
        assert state["channels"][0]["messageCount"] == 2
        await t.mutation("counted:rename_channel", {"channelId": cid})
        # the channel trigger audited: insert, 3 count updates, 1 count update, the rename
        ops = [a["operation"] for a in state["audit"]]
        assert ops == ["insert", "update", "update", "update", "update"]
        state = await t.query("counted:state")
        assert [a["operation"] for a in state["audit"]][-1] == "update"
        assert state["channels"][0]["name"] == "c!"


async def test_cascading_delete_fires_nested_triggers():
    async with ConvexTest(SECUREAPP) as t:
        keep = await t.mutation("counted:make_channel", {"name": "keep"})
        drop = await t.mutation("counted:make_channel", {"name": "drop"})
        await t.mutation("counted:send_many", {"channelId": keep, "bodies": ["k"]})
        await t.mutation("counted:send_many", {"channelId": drop, "bodies": ["x", "y"]})
        await t.mutation("counted:drop_channel", {"channelId": drop})
        state = await t.query("counted:state")
        assert [c["name"] for c in state["channels"]] == ["keep"]
        assert [m["body"] for m in state["messages"]] == ["k"]
        # the message triggers ran for the cascaded deletes (they count down the channel,
        # which no longer exists: the trigger reads it as None and skips)
        assert [a["operation"] for a in state["audit"] if a["docId"] == drop][-1] == "delete"


async def test_a_failing_trigger_writes_nothing():
    async with ConvexTest(SECUREAPP) as t:
        cid = await t.mutation("counted:make_channel", {"name": "c"})
        before = await t.query("counted:state")
        with pytest.raises(ValueError, match="forbidden"):
            await t.mutation("counted:send_many", {"channelId": cid, "bodies": ["fine", "forbidden"]})
        assert await t.query("counted:state") == before  # neither message, count, nor audit
        mid = (await t.mutation("counted:send", {"channelId": cid, "body": "ok"}))
        with pytest.raises(ValueError, match="forbidden"):
            await t.mutation("counted:edit", {"id": mid, "body": "forbidden now"})
        state = await t.query("counted:state")
        assert [m["body"] for m in state["messages"]] == ["ok"]


async def test_recursion_past_the_depth_limit_is_a_clear_error():
    async with ConvexTest(SECUREAPP) as t:
        # level 4: five inserts, whose triggers run five levels deep (the limit is 5)
        await t.mutation("counted:chain", {"level": 4})
        assert (await t.query("counted:state"))["chain"] == 5
        with pytest.raises(LimitExceededError) as info:
            await t.mutation("counted:chain", {"level": 5})
        assert info.value.short_msg == "TriggerDepthExceeded"
        assert "6 levels deep (the limit is 5)" in str(info.value)
        assert (await t.query("counted:state"))["chain"] == 5  # the failed chain wrote nothing


async def test_rules_outside_triggers_inside():
    async with ConvexTest(SECUREAPP) as t:
        cid = await t.mutation("chat:make_channel", {"name": "c", "public": False, "members": ["ann"]})
        ann = t.with_identity({"subject": "ann"})
        await ann.mutation("chat:send_limited", {"channelId": cid, "body": "hi"})
        raw = await t.query("chat:everything")
        assert raw["channels"][0]["messageCount"] == 1  # the trigger ran (unchecked by rules)
        bob = t.with_identity({"subject": "bob"})
        with pytest.raises(ForbiddenError):
            await bob.mutation("chat:send_limited", {"channelId": cid, "body": "in?"})
        assert (await t.query("chat:everything"))["channels"][0]["messageCount"] == 1


@pytest.mark.one_backend
def test_registration_errors():
    triggers = Triggers()
    with pytest.raises(TypeError, match="async def"):
        triggers.register("messages", lambda ctx, change: None)  # type: ignore[arg-type,return-value]
    with pytest.raises(ValueError, match="user table"):
        triggers.register("_storage")
    with pytest.raises(ValueError, match="max_depth"):
        Triggers(max_depth=0)


async def test_table_first_delete_fires_triggers():
    async with ConvexTest(SECUREAPP) as t:
        cid = await t.mutation("counted:make_channel", {"name": "c"})
        mid = await t.mutation("counted:send", {"channelId": cid, "body": "a"})
        await t.mutation("counted:remove_table_first", {"id": mid})
        state = await t.query("counted:state")
        assert state["messages"] == [] and state["channels"][0]["messageCount"] == 0
