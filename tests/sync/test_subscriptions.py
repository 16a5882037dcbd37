"""Invalidation precision: only subscriptions whose read ranges contain a written key re-run."""

from __future__ import annotations

import asyncio

import pytest

from pyconvex import api
from pyconvex.sync import IntervalIndex, Subscription, SubscriptionManager, format_function_error
from pyconvex.testing import ConvexTest


async def _settle(manager: SubscriptionManager, t: ConvexTest) -> None:
    await manager.wait_for(t.deployment.db.latest_ts)
    await manager.settled()


async def test_commit_outside_read_ranges_reruns_nothing(app_dir):
    async with ConvexTest(app_dir) as t:
        general = await t.mutation(api.channels.create, {"name": "general"})
        other = await t.mutation(api.channels.create, {"name": "other"})
        manager = SubscriptionManager(t.deployment.db, t.deployment.runner, format_function_error)
        manager.start()
        try:
            sub = await manager.subscribe("messages:list", {"channelId": general}, None)
            version = sub.version
            runs = manager.reruns
            # Writes to another channel's range, and to other tables: nothing re-runs.
            await t.mutation(api.messages.send, {"channelId": other, "text": "elsewhere"})
            await t.mutation(api.users.register, {"email": "a@b", "name": "A"})
            await _settle(manager, t)
            assert manager.reruns == runs
            assert sub.version == version
            assert manager.processed_ts == t.deployment.db.latest_ts
            assert sub.outcome is not None and sub.outcome.covers(manager.processed_ts, manager.processed_ts)  # still valid at the new ts
            # A write inside the range re-runs it exactly once.
            await t.mutation(api.messages.send, {"channelId": general, "text": "here"})
            await _settle(manager, t)
            assert manager.reruns == runs + 1
            assert sub.version == version + 1
            assert [m["text"] for m in sub.value_json] == ["here"]
        finally:
            await manager.stop()


async def test_identical_subscriptions_share_one_run(app_dir):
    async with ConvexTest(app_dir) as t:
        cid = await t.mutation(api.channels.create, {"name": "general"})
        manager = SubscriptionManager(t.deployment.db, t.deployment.runner, format_function_error)
        manager.start()
        try:
            subs = await asyncio.gather(
                *(manager.subscribe("messages:list", {"channelId": cid}, None) for _ in range(50))
            )
            assert len({id(s) for s in subs}) == 1
            assert subs[0].refs == 50
            runs = manager.reruns
            for i in range(3):
                await t.mutation(api.messages.send, {"channelId": cid, "text": f"m{i}"})
                await _settle(manager, t)
            assert manager.reruns == runs + 3  # one re-run per commit, not 50
            # Identities get their own subscription: queries run per identity.
            ann = await manager.subscribe("messages:list", {"channelId": cid}, {"tokenIdentifier": "x|ann"})
            assert ann is not subs[0]
            for sub in subs:
                manager.unsubscribe(sub)
            assert subs[0].key not in manager.subscriptions
        finally:
            await manager.stop()


async def test_take_only_depends_on_rows_it_read(app_dir):
    async with ConvexTest(app_dir) as t:
        cid = await t.mutation(api.channels.create, {"name": "general"})
        for i in range(5):
            await t.mutation(api.messages.send, {"channelId": cid, "text": f"m{i}"})
        manager = SubscriptionManager(t.deployment.db, t.deployment.runner, format_function_error)
        manager.start()
        try:
            # Newest 2 messages (desc): an edit of the oldest message is outside its read range.
            sub = await manager.subscribe("messages:list", {"channelId": cid, "limit": 2}, None)
            oldest = (await t.query(api.messages.list, {"channelId": cid}))[-1]
            runs = manager.reruns
            await t.run(lambda ctx: ctx.db.patch(oldest["_id"], {"text": "edited"}))
            await _settle(manager, t)
            assert manager.reruns == runs
            assert [m["text"] for m in sub.value_json] == ["m4", "m3"]
        finally:
            await manager.stop()


@pytest.mark.one_backend  # opens no database
def test_interval_index_stabbing():
    index = IntervalIndex()
    subs = [Subscription(("p", b"", str(i)), "p", {}, None) for i in range(4)]
    index.add(b"a", b"c", subs[0])
    index.add(b"b", None, subs[1])
    index.add(b"x", b"y", subs[2])
    index.add(b"c", b"c\x00", subs[3])

    def stab(key: bytes) -> set[int]:
        out: set[Subscription] = set()
        index.stab(key, out)
        return {subs.index(s) for s in out}

    assert stab(b"a") == {0}
    assert stab(b"b") == {0, 1}
    assert stab(b"c") == {1, 3}
    assert stab(b"xa") == {1, 2}
    assert stab(b"0") == set()
    index.remove(subs[1])
    assert stab(b"z") == set()


async def test_new_code_reruns_every_subscription_and_its_result_holds(app_dir):
    """``invalidate_all`` (new code or environment): every subscription re-runs at the
    newest commit and that run becomes its result, even when the result it replaces was
    computed at that same commit."""
    async with ConvexTest(app_dir) as t:
        cid = await t.mutation(api.channels.create, {"name": "general"})
        manager = SubscriptionManager(t.deployment.db, t.deployment.runner, format_function_error)
        manager.start()
        try:
            sub = await manager.subscribe("messages:list", {"channelId": cid}, None)
            old = sub.outcome
            assert old is not None and old.ts == manager.processed_ts
            runs = manager.reruns
            manager.invalidate_all()
            await manager.settled()
            assert manager.reruns == runs + 1
            assert sub.outcome is not old
            assert sub.outcome is not None
            assert sub.outcome.covers(manager.processed_ts, manager.processed_ts)
            assert not old.covers(manager.processed_ts, manager.processed_ts)
        finally:
            await manager.stop()
