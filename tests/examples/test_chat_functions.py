"""The chat example's functions, on the real engine in-process."""

from __future__ import annotations

from pathlib import Path

import pytest

from pyconvex import ConvexError
from pyconvex.testing import ConvexTest

CHAT = Path(__file__).resolve().parents[2] / "examples" / "chat" / "convex"
FIRST = {"numItems": 2, "cursor": None}


async def test_channels_messages_and_pagination() -> None:
    async with ConvexTest(CHAT) as t:
        await t.mutation("channels:ensure_defaults", {})
        await t.mutation("channels:ensure_defaults", {})  # idempotent
        names = [c["name"] for c in await t.query("channels:list", {})]
        assert names == ["general", "random"]
        general = (await t.query("channels:list", {}))[0]["_id"]
        assert await t.mutation("channels:create", {"name": " General "}) == general
        for i in range(3):
            await t.mutation("messages:send", {"channelId": general, "author": "ann", "body": f"m{i}"})
        page = await t.query("messages:list", {"channelId": general, "paginationOpts": FIRST})
        assert [m["body"] for m in page["page"]] == ["m2", "m1"] and not page["isDone"]
        rest = await t.query("messages:list", {"channelId": general, "paginationOpts": {
            "numItems": 2, "cursor": page["continueCursor"]}})
        assert [m["body"] for m in rest["page"]] == ["m0"] and rest["isDone"]
        with pytest.raises(ConvexError) as e:
            await t.mutation("messages:send", {"channelId": general, "author": "ann", "body": "  "})
        assert e.value.data["code"] == "EmptyMessage"
