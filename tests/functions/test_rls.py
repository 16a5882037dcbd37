"""Row-level security through every read path, against a brute-force filter, and every
write checked (ConvexTest on the secureapp fixture; rules in its _security.py)."""

from __future__ import annotations

import random
from typing import Any

import pytest

from pyconvex.errors import ForbiddenError, InvalidQueryError
from pyconvex.sync import SubscriptionManager, format_function_error
from pyconvex.testing import ConvexTest
from tests.functions._secure import SECUREAPP

USERS = ["ann", "bob", "cat"]
WORDS = ["apple", "banana", "cherry", "delta", "echo"]


async def _populate(t: ConvexTest, seed: int) -> None:
    rng = random.Random(seed)
    channels = []
    for i in range(4):
        members = [u for u in USERS if rng.random() < 0.5]
        channels.append(await t.mutation("chat:make_channel", {
            "name": f"c{i}", "public": rng.random() < 0.3, "members": members}))
    numbers = rng.sample(range(100), 40)
    for n in numbers:
        args: dict[str, Any] = {
            "channelId": rng.choice(channels), "author": rng.choice(USERS),
            "body": " ".join(rng.choice(WORDS) for _ in range(3)), "n": n}
        if rng.random() < 0.7:
            args["embedding"] = [rng.uniform(-1, 1), rng.uniform(-1, 1)]
        await t.mutation("chat:raw_insert", args)


class World:
    """Every document, and the rule computed by hand."""

    def __init__(self, raw: dict[str, Any], viewer: str | None) -> None:
        self.messages = raw["messages"]
        self.channels = {c["_id"]: c for c in raw["channels"]}
        self.members = {(m["channelId"], m["user"]) for m in raw["members"]}
        self.viewer = viewer

    def channel_visible(self, cid: str) -> bool:
        return bool(self.channels[cid]["public"]) or (cid, self.viewer) in self.members

    def visible(self, doc: dict[str, Any]) -> bool:
        return self.channel_visible(doc["channelId"])

    def filtered(self, docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [d for d in docs if self.visible(d)]


def _ids(docs: list[dict[str, Any]]) -> list[str]:
    return [d["_id"] for d in docs]


VIEWERS = [None, "ann", "bob", "cat"]


@pytest.mark.parametrize("seed", [1, 2])
async def test_every_read_path_equals_a_brute_force_filter(seed: int):
    async with ConvexTest(SECUREAPP) as t:
        await _populate(t, seed)
        raw = await t.query("chat:everything")
        by_n = sorted(raw["messages"], key=lambda d: d["n"])
        for viewer in VIEWERS:
            caller = t.with_identity({"subject": viewer}) if viewer else t
            world = World(raw, viewer)

            async def read(path: str, caller: ConvexTest = caller, **args: Any) -> Any:
                return await caller.query("chat:read", {"path": path, **args})

            assert _ids(await read("collect")) == _ids(world.filtered(raw["messages"]))
            assert _ids(await read("iterate")) == _ids(world.filtered(raw["messages"]))
            expected_desc = [d for d in reversed(by_n) if d["n"] >= 5]
            assert _ids(await read("index_desc")) == _ids(world.filtered(expected_desc))
            bobs = [d for d in raw["messages"] if d["author"] == "bob"]
            assert _ids(await read("filter")) == _ids(world.filtered(bobs))
            for n in (0, 1, 3, 7, 100):
                assert _ids(await read("take", n=n)) == _ids(world.filtered(by_n)[:n])
            visible_by_n = world.filtered(by_n)
            first = await read("first")
            assert (first and first["_id"]) == (visible_by_n[0]["_id"] if visible_by_n else None)
            for doc in by_n[:10]:
                got = await read("unique", n=doc["n"])
                assert (got and got["_id"]) == (doc["_id"] if world.visible(doc) else None)
                assert await caller.query("chat:get", {"id": doc["_id"]}) == (
                    doc if world.visible(doc) else None)
            channels = await read("channels")
            assert _ids(channels) == [c for c in world.channels if world.channel_visible(c)]

            for word in ("apple", "ban", "cherry delta"):
                raw_hits = await t.run(lambda ctx, w=word: ctx.db.query("messages").with_search_index(
                    "search_body", lambda q: q.search("body", w)).collect())
                assert _ids(await read("search", text=word)) == _ids(world.filtered(raw_hits))
                assert _ids(await read("search_take", text=word, n=2)) == _ids(world.filtered(raw_hits)[:2])

            all_hits = await t.run(lambda ctx: ctx.db.vector_search(
                "messages", "by_embedding", vector=[1.0, 0.0], limit=256))
            by_id = {d["_id"]: d for d in raw["messages"]}
            visible_hits = [h for h in all_hits if world.visible(by_id[h["_id"]])]
            for n in (1, 4, 10):
                got = await read("vector", n=n)
                assert [h["_id"] for h in got] == [h["_id"] for h in visible_hits[:n]]


@pytest.mark.parametrize("size", [1, 3, 7])
async def test_pagination_is_gap_free_and_correctly_sized(size: int):
    async with ConvexTest(SECUREAPP) as t:
        await _populate(t, 3)
        raw = await t.query("chat:everything")
        for viewer in VIEWERS:
            caller = t.with_identity({"subject": viewer}) if viewer else t
            world = World(raw, viewer)
            expected = world.filtered(sorted(raw["messages"], key=lambda d: d["n"]))
            seen: list[dict[str, Any]] = []
            cursor = None
            for _ in range(100):
                page = await caller.query("chat:page", {"paginationOpts": {"numItems": size, "cursor": cursor}})
                seen.extend(page["page"])
                if page["isDone"]:
                    assert len(page["page"]) <= size
                    break
                assert len(page["page"]) == size  # full pages until the end
                cursor = page["continueCursor"]
            assert _ids(seen) == _ids(expected)

            # one channel, through its index; and search results, page by page
            for cid in world.channels:
                in_channel = [d for d in expected if d["channelId"] == cid]
                in_channel.sort(key=lambda d: d["n"])
                got: list[dict[str, Any]] = []
                cursor = None
                while True:
                    page = await caller.query("chat:page", {
                        "paginationOpts": {"numItems": size, "cursor": cursor}, "channelId": cid})
                    got.extend(page["page"])
                    if page["isDone"]:
                        break
                    cursor = page["continueCursor"]
                assert _ids(got) == _ids(in_channel)
            raw_hits = await t.run(lambda ctx: ctx.db.query("messages").with_search_index(
                "search_body", lambda q: q.search("body", "apple")).collect())
            got = []
            cursor = None
            while True:
                page = await caller.query("chat:search_page", {
                    "paginationOpts": {"numItems": size, "cursor": cursor}, "text": "apple"})
                got.extend(page["page"])
                if page["isDone"]:
                    break
                assert len(page["page"]) == size
                cursor = page["continueCursor"]
            assert _ids(got) == _ids(world.filtered(raw_hits))


async def test_a_page_reloaded_with_its_end_cursor_keeps_its_bounds():
    async with ConvexTest(SECUREAPP) as t:
        await _populate(t, 4)
        ann = t.with_identity({"subject": "ann"})
        first = await ann.query("chat:page", {"paginationOpts": {"numItems": 3, "cursor": None}})
        again = await ann.query("chat:page", {"paginationOpts": {
            "numItems": 3, "cursor": None, "endCursor": first["continueCursor"]}})
        assert _ids(again["page"]) == _ids(first["page"])


async def test_unique_counts_visible_documents_only():
    async with ConvexTest(SECUREAPP) as t:
        open_c = await t.mutation("chat:make_channel", {"name": "o", "public": True, "members": []})
        closed = await t.mutation("chat:make_channel", {"name": "c", "public": False, "members": []})
        await t.mutation("chat:raw_insert", {"channelId": open_c, "author": "x", "body": "a", "n": 1})
        await t.mutation("chat:raw_insert", {"channelId": closed, "author": "x", "body": "a", "n": 1})
        got = await t.query("chat:read", {"path": "unique", "n": 1})
        assert got["channelId"] == open_c
        await t.mutation("chat:set_public", {"channelId": closed, "public": True})
        with pytest.raises(InvalidQueryError) as info:
            await t.query("chat:read", {"path": "unique", "n": 1})
        assert info.value.short_msg == "UniqueQueryHadMultipleResults"


async def test_default_policy_deny_hides_tables_without_rules():
    async with ConvexTest(SECUREAPP) as t:
        cid = await t.mutation("chat:make_channel", {"name": "o", "public": True, "members": ["ann"]})
        await t.mutation("chat:raw_insert", {"channelId": cid, "author": "x", "body": "a", "n": 1})
        assert await t.query("chat:strict_members") == []
        assert len(await t.query("chat:strict_messages")) == 1  # messages has a read rule
        assert len(await t.query("chat:everything")) == 3


async def test_internal_rls_query():
    async with ConvexTest(SECUREAPP) as t:
        cid = await t.mutation("chat:make_channel", {"name": "c", "public": False, "members": []})
        await t.mutation("chat:raw_insert", {"channelId": cid, "author": "x", "body": "a", "n": 1})
        result = await t.deployment.runner.run_query("chat:internal_count", {}, None, internal_ok=True)
        assert result.value == 0


async def test_writes_are_checked_and_a_refusal_writes_nothing():
    async with ConvexTest(SECUREAPP) as t:
        cid = await t.mutation("chat:make_channel", {"name": "c", "public": False, "members": ["ann", "bob"]})
        other = await t.mutation("chat:make_channel", {"name": "d", "public": False, "members": ["cat"]})
        ann, bob, cat = (t.with_identity({"subject": s}) for s in ("ann", "bob", "cat"))
        mine = await ann.mutation("chat:send", {"channelId": cid, "body": "hi", "n": 1})
        bobs = await bob.mutation("chat:send", {"channelId": cid, "body": "yo", "n": 2})
        with pytest.raises(ForbiddenError) as info:
            await cat.mutation("chat:send", {"channelId": cid, "body": "in?", "n": 3})
        assert info.value.short_msg == "InsertNotAllowed"
        hidden = await cat.mutation("chat:send", {"channelId": other, "body": "secret", "n": 4})

        await ann.mutation("chat:edit", {"id": mine, "body": "hi!"})
        await ann.mutation("chat:replace", {"id": mine, "body": "hi!!"})
        with pytest.raises(ForbiddenError) as info:
            await ann.mutation("chat:edit", {"id": bobs, "body": "hacked"})
        assert info.value.short_msg == "ModifyNotAllowed"
        with pytest.raises(ForbiddenError) as info:
            await ann.mutation("chat:replace", {"id": bobs, "body": "hacked"})
        assert info.value.short_msg == "ModifyNotAllowed"
        with pytest.raises(ForbiddenError) as info:
            await ann.mutation("chat:remove", {"id": bobs})
        assert info.value.short_msg == "ModifyNotAllowed"
        with pytest.raises(ForbiddenError) as info:
            await ann.mutation("chat:edit", {"id": hidden, "body": "x"})
        assert info.value.short_msg == "ReadNotAllowed"
        # the first edit is allowed, the second refused: the mutation writes nothing
        with pytest.raises(ForbiddenError):
            await ann.mutation("chat:edit_two", {"first": mine, "second": bobs})
        raw = {d["_id"]: d for d in (await t.query("chat:everything"))["messages"]}
        assert raw[mine]["body"] == "hi!!" and raw[bobs]["body"] == "yo"
        assert raw[hidden]["body"] == "secret"
        await bob.mutation("chat:remove", {"id": bobs})
        assert bobs not in {d["_id"] for d in (await t.query("chat:everything"))["messages"]}


async def _settle(manager: SubscriptionManager, t: ConvexTest) -> None:
    await manager.wait_for(t.deployment.db.latest_ts)
    await manager.settled()


async def test_rule_reads_count_in_the_read_set():
    """The rule reads the channel document (and the membership index): a change to the
    channel alone re-runs the live query, and writes elsewhere re-run nothing."""
    async with ConvexTest(SECUREAPP) as t:
        cid = await t.mutation("chat:make_channel", {"name": "c", "public": False, "members": []})
        other = await t.mutation("chat:make_channel", {"name": "d", "public": False, "members": []})
        await t.mutation("chat:raw_insert", {"channelId": cid, "author": "x", "body": "a", "n": 1})
        manager = SubscriptionManager(t.deployment.db, t.deployment.runner, format_function_error)
        manager.start()
        try:
            sub = await manager.subscribe("chat:by_channel", {"channelId": cid}, None)
            member = await manager.subscribe(
                "chat:by_channel", {"channelId": cid}, {"subject": "ann", "tokenIdentifier": "t|ann"})
            assert sub.value_json == [] and member.value_json == []
            runs = manager.reruns
            await t.mutation("chat:set_public", {"channelId": other, "public": True})
            await _settle(manager, t)
            assert manager.reruns == runs  # another channel: outside every read range
            await t.mutation("chat:set_public", {"channelId": cid, "public": True})
            await _settle(manager, t)
            assert [m["body"] for m in sub.value_json] == ["a"]
            await t.mutation("chat:set_public", {"channelId": cid, "public": False})
            await _settle(manager, t)
            assert sub.value_json == [] and member.value_json == []
            await t.mutation("chat:join", {"channelId": cid, "user": "ann"})  # the rule's index read
            await _settle(manager, t)
            assert [m["body"] for m in member.value_json] == ["a"] and sub.value_json == []
        finally:
            await manager.stop()


async def test_a_live_rls_page_stays_gap_free_as_documents_come_and_go():
    async with ConvexTest(SECUREAPP) as t:
        cid = await t.mutation("chat:make_channel", {"name": "c", "public": True, "members": []})
        hidden = await t.mutation("chat:make_channel", {"name": "h", "public": False, "members": []})
        for n in range(10):
            await t.mutation("chat:raw_insert", {
                "channelId": cid if n % 2 == 0 else hidden, "author": "x", "body": "b", "n": n})
        manager = SubscriptionManager(t.deployment.db, t.deployment.runner, format_function_error)
        manager.start()
        try:
            first = await manager.subscribe("chat:page", {"paginationOpts": {"numItems": 2, "cursor": None}}, None)
            assert [m["n"] for m in first.value_json["page"]] == [0, 2]
            cursor = first.value_json["continueCursor"]
            second = await manager.subscribe(
                "chat:page", {"paginationOpts": {"numItems": 2, "cursor": cursor}}, None)
            assert [m["n"] for m in second.value_json["page"]] == [4, 6]
            # a visible document inside the first page's range: that page grows, the
            # next one does not move
            await t.mutation("chat:raw_insert", {"channelId": cid, "author": "x", "body": "b", "n": 1.5})
            await t.mutation("chat:raw_insert", {"channelId": hidden, "author": "x", "body": "b", "n": 0.5})
            await _settle(manager, t)
            assert [m["n"] for m in first.value_json["page"]] == [0, 1.5, 2]
            assert [m["n"] for m in second.value_json["page"]] == [4, 6]
            # the hidden channel opens: its documents appear where they belong
            await t.mutation("chat:set_public", {"channelId": hidden, "public": True})
            await _settle(manager, t)
            assert [m["n"] for m in first.value_json["page"]] == [0, 0.5, 1, 1.5, 2]
            assert [m["n"] for m in second.value_json["page"]] == [3, 4, 5, 6]
        finally:
            await manager.stop()


async def test_table_first_forms_are_checked_too():
    async with ConvexTest(SECUREAPP) as t:
        cid = await t.mutation("chat:make_channel", {"name": "c", "public": False, "members": ["ann", "bob"]})
        hidden = await t.mutation("chat:make_channel", {"name": "h", "public": False, "members": []})
        ann, bob = (t.with_identity({"subject": s}) for s in ("ann", "bob"))
        mine = await ann.mutation("chat:send", {"channelId": cid, "body": "hi", "n": 1})
        secret = await t.mutation("chat:raw_insert", {"channelId": hidden, "author": "ann", "body": "s", "n": 2})
        assert (await ann.query("chat:get_table_first", {"id": mine}))["body"] == "hi"
        assert await ann.query("chat:get_table_first", {"id": secret}) is None
        with pytest.raises(ForbiddenError) as info:
            await bob.mutation("chat:edit_table_first", {"id": mine, "body": "x"})
        assert info.value.short_msg == "ModifyNotAllowed"
        with pytest.raises(ForbiddenError) as info:
            await ann.mutation("chat:remove_table_first", {"id": secret})
        assert info.value.short_msg == "ReadNotAllowed"
        await ann.mutation("chat:edit_table_first", {"id": mine, "body": "hi!"})
        assert (await ann.query("chat:get", {"id": mine}))["body"] == "hi!"
        await ann.mutation("chat:remove_table_first", {"id": mine})
        assert await ann.query("chat:get", {"id": mine}) is None


async def test_rules_in_a_mutation_see_its_own_writes():
    async with ConvexTest(SECUREAPP) as t:
        cid = await t.mutation("chat:make_channel", {"name": "c", "public": True, "members": []})
        for n in range(3):
            await t.mutation("chat:raw_insert", {"channelId": cid, "author": "x", "body": "a", "n": n})
        assert await t.mutation("chat:close_and_count", {"channelId": cid}) == [3, 0]
        assert await t.query("chat:by_channel", {"channelId": cid}) == []
