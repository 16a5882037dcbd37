"""The chat example's rules: members read private channels, authors alone edit and
delete, sending is rate-limited (ConvexTest, virtual clock)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pyconvex import ConvexError
from pyconvex.errors import ForbiddenError
from pyconvex.testing import ConvexTest

CHAT = Path(__file__).resolve().parents[2] / "examples" / "chat" / "convex"
FIRST = {"numItems": 50, "cursor": None}


async def test_only_members_read_a_private_channel() -> None:
    async with ConvexTest(CHAT) as t:
        ann, bob, cat = (t.with_identity({"subject": s}) for s in ("ann", "bob", "cat"))
        await t.mutation("channels:ensure_defaults", {})
        secret = await ann.mutation("channels:create_private", {"name": "secret", "members": ["bob"]})
        await ann.mutation("messages:send", {"channelId": secret, "author": "Ann", "body": "psst"})
        for who, sees in ((ann, True), (bob, True), (cat, False), (t, False)):
            names = [c["name"] for c in await who.query("channels:list", {})]
            assert ("secret" in names) is sees and {"general", "random"} <= set(names)
            page = await who.query("messages:list", {"channelId": secret, "paginationOpts": FIRST})
            assert [m["body"] for m in page["page"]] == (["psst"] if sees else [])
        with pytest.raises(ConvexError) as info:  # a non-member cannot post there either
            await cat.mutation("messages:send", {"channelId": secret, "author": "Cat", "body": "hi"})
        assert info.value.data["code"] == "NoSuchChannel"
        with pytest.raises(ConvexError) as info:
            await t.mutation("channels:create_private", {"name": "x", "members": []})
        assert info.value.data["code"] == "SignInFirst"


async def test_only_the_author_edits_or_deletes() -> None:
    async with ConvexTest(CHAT) as t:
        ann, bob = (t.with_identity({"subject": s}) for s in ("ann", "bob"))
        await t.mutation("channels:ensure_defaults", {})
        general = (await t.query("channels:list", {}))[0]["_id"]
        mine = await ann.mutation("messages:send", {"channelId": general, "author": "Ann", "body": "a"})
        await ann.mutation("messages:edit", {"id": mine, "body": "a (edited)"})
        for attempt in (lambda: bob.mutation("messages:edit", {"id": mine, "body": "b"}),
                        lambda: bob.mutation("messages:remove", {"id": mine}),
                        lambda: t.mutation("messages:remove", {"id": mine})):
            with pytest.raises(ForbiddenError) as info:
                await attempt()
            assert info.value.short_msg == "ModifyNotAllowed"
        page = await t.query("messages:list", {"channelId": general, "paginationOpts": FIRST})
        assert [m["body"] for m in page["page"]] == ["a (edited)"]
        await ann.mutation("messages:remove", {"id": mine})
        page = await t.query("messages:list", {"channelId": general, "paginationOpts": FIRST})
        assert page["page"] == []


async def test_sending_is_rate_limited_per_author_and_channel() -> None:
    async with ConvexTest(CHAT) as t:
        ann = t.with_identity({"subject": "ann"})
        await t.mutation("channels:ensure_defaults", {})
        general, random = [c["_id"] for c in await t.query("channels:list", {})]
        for i in range(60):
            await ann.mutation("messages:send", {"channelId": general, "author": "Ann", "body": f"m{i}"})
        with pytest.raises(ConvexError) as info:
            await ann.mutation("messages:send", {"channelId": general, "author": "Ann", "body": "spam"})
        assert info.value.data["kind"] == "RateLimited" and 0 < info.value.data["retryAfter"] <= 1000
        await ann.mutation("messages:send", {"channelId": random, "author": "Ann", "body": "elsewhere"})
        await t.mutation("messages:send", {"channelId": general, "author": "Bob", "body": "another"})
        await t.advance_time(1000)
        await ann.mutation("messages:send", {"channelId": general, "author": "Ann", "body": "later"})
        page = await t.query("messages:list", {"channelId": general, "paginationOpts": {"numItems": 3, "cursor": None}})
        assert [m["body"] for m in page["page"]] == ["later", "another", "m59"]  # no "spam"
