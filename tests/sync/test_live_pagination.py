"""Live paginated queries never lose or repeat a document (Convex's reactive pagination).

A client holds a set of live pages, the way convex-js's paginated query client does: the
first page from cursor None, more pages from the last page's ``continueCursor``, a page
split in two bounded pages (``endCursor``) once it reports a ``splitCursor`` and grew past
twice the initial page size, and a page re-subscribed with its last journal (what a
client sends in ``Add.journal`` after a reconnect). Hypothesis drives random programs of
commits (inserts, deletes and updates inside, between and around the loaded pages, with
keys equal to a page's boundary key) interleaved with those client steps; after every
step, with every page live at the subscriptions' common timestamp, the concatenated
pages must equal the brute-force ordered result: no gap, no duplicate.

Four queries (``tests/fixtures/pagesapp``): ascending and descending index ranges, a
filtered range, and a full-text search; on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from pyconvex.sync import Subscription, SubscriptionManager, format_function_error
from pyconvex.testing import ConvexTest

APP = Path(__file__).resolve().parents[1] / "fixtures" / "pagesapp" / "convex"
PATH = "items:page"

keys = st.integers(0, 10)
tags = st.sampled_from("ab")
bodies = st.sampled_from(["apple", "apple pie", "banana", "apple apple tart", "pie"])
anywhere = st.integers(0, 10**6)  # an index into the live documents, modulo their count
page_no = st.integers(0, 10)  # a loaded page, modulo their count
writes = st.one_of(
    st.tuples(st.just("insert"), keys, tags, bodies),
    st.tuples(st.just("insert_at_boundary"), page_no, tags, bodies),
    st.tuples(st.just("delete"), anywhere),
    st.tuples(st.just("delete_boundary"), page_no),
    st.tuples(st.just("update"), anywhere, st.none() | keys, st.none() | tags, st.none() | bodies),
    st.tuples(st.just("update_to_boundary"), anywhere, page_no),
)
steps = st.one_of(
    st.lists(writes, min_size=1, max_size=3).map(lambda ws: ("commit", ws)),
    st.tuples(st.just("load_more"), st.integers(1, 4)),
    st.tuples(st.just("reconnect"), page_no),
)
programs = st.tuples(
    st.lists(st.tuples(keys, tags, bodies), max_size=12),  # documents before the first page
    st.integers(1, 3),  # initialNumItems
    st.lists(steps, min_size=1, max_size=14),
)

GROWS = (  # first pages that grow past twice their size at either end: a split, surely
    [(5, "a", "apple")] * 3,
    1,
    [("commit", [("insert", 0, "a", "apple")] * 3), ("commit", [("insert", 10, "a", "apple")] * 3)],
)



@dataclass
class Model:
    """The brute force: every live document of the group, with its insertion order."""

    docs: dict[str, dict[str, Any]] = field(default_factory=dict)
    seq: itertools.count[int] = field(default_factory=itertools.count)

    def ordered(self, mode: str) -> list[str]:
        docs = sorted(self.docs.items(), key=lambda item: (item[1]["k"], item[1]["seq"]))
        if mode == "filtered":
            docs = [d for d in docs if d[1]["tag"] == "a"]
        if mode in ("desc", "filtered"):
            docs.reverse()
        return [doc_id for doc_id, _ in docs]


@dataclass
class Page:
    args: dict[str, Any]
    sub: Subscription

    @property
    def result(self) -> dict[str, Any]:
        assert self.sub.error is None, self.sub.error
        value = self.sub.value_json
        assert isinstance(value, dict)
        return value


class Client:
    """A paginated query's pages, kept as convex-js keeps them."""

    def __init__(self, t: ConvexTest, manager: SubscriptionManager, group: str, mode: str, n0: int):
        self.t, self.manager, self.group, self.mode, self.n0 = t, manager, group, mode, n0
        self.pages: list[Page] = []
        self.splits = 0
        self.model = Model()

    async def subscribe(self, opts: dict[str, Any], journal: str | None = None) -> Page:
        args = {"group": self.group, "mode": self.mode, "paginationOpts": opts}
        return Page(args, await self.manager.subscribe(PATH, args, None, journal))

    async def start(self) -> None:
        self.pages = [await self.subscribe({"numItems": self.n0, "cursor": None})]

    async def load_more(self, n: int) -> None:
        last = self.pages[-1].result
        if not last["isDone"]:
            self.pages.append(await self.subscribe({"numItems": n, "cursor": last["continueCursor"]}))

    async def reconnect(self, i: int) -> None:
        """Re-subscribe one page with its journal, as a client does after a reconnect."""
        i %= len(self.pages)
        old = self.pages[i]
        self.pages[i] = await self.subscribe(old.args["paginationOpts"], old.sub.journal)
        self.manager.unsubscribe(old.sub)

    async def split_grown_pages(self) -> None:
        """convex-js's rule: split a page that has a splitCursor and either asks for a
        split or holds more than twice the initial page size."""
        i = 0
        while i < len(self.pages):
            page = self.pages[i]
            r = page.result
            if r["splitCursor"] and (
                r["pageStatus"] in ("SplitRecommended", "SplitRequired")
                or len(r["page"]) > 2 * self.n0
            ):
                opts = page.args["paginationOpts"]
                first = await self.subscribe({**opts, "endCursor": r["splitCursor"]})
                second = await self.subscribe(
                    {**opts, "cursor": r["splitCursor"], "endCursor": r["continueCursor"]}
                )
                self.pages[i : i + 1] = [first, second]
                self.manager.unsubscribe(page.sub)
                self.splits += 1
            else:
                i += 1

    def close(self) -> None:
        for page in self.pages:
            self.manager.unsubscribe(page.sub)

    # ------------------------------------------------------------------ writes
    def boundary(self, i: int) -> dict[str, Any] | None:
        """The last document of loaded page ``i`` (a page's boundary), if any."""
        page = self.pages[i % len(self.pages)].result["page"]
        return page[-1] if page else None

    def pick(self, n: int) -> str | None:
        ids = sorted(self.model.docs)
        return ids[n % len(ids)] if ids else None

    async def commit(self, ops: list[tuple[Any, ...]]) -> None:
        wire: list[list[Any]] = []
        inserted: list[dict[str, Any]] = []
        touched: set[str] = set()
        for op in ops:
            kind = op[0]
            if kind in ("insert", "insert_at_boundary"):
                if kind == "insert":
                    k = float(op[1])
                else:
                    edge = self.boundary(op[1])
                    k = float(edge["k"]) if edge else 5.0
                doc = {"group": self.group, "k": k, "tag": op[2], "body": op[3]}
                wire.append(["insert", doc])
                inserted.append(doc)
                continue
            if kind == "delete_boundary":
                edge = self.boundary(op[1])
                target = edge["_id"] if edge else None
            else:
                target = self.pick(op[1])
            if target is None or target in touched:
                continue
            touched.add(target)
            if kind in ("delete", "delete_boundary"):
                wire.append(["delete", target])
                del self.model.docs[target]
                continue
            fields: dict[str, Any] = {}
            if kind == "update_to_boundary":
                edge = self.boundary(op[2])
                if edge is not None:
                    fields["k"] = float(edge["k"])
            else:
                for name, value in zip(("k", "tag", "body"), op[2:], strict=True):
                    if value is not None:
                        fields[name] = float(value) if name == "k" else value
            wire.append(["patch", target, fields])
            self.model.docs[target].update(fields)
        if not wire:
            return
        ids = await self.t.mutation("items:apply", {"writes": wire})
        for doc_id, doc in zip(ids, inserted, strict=True):
            self.model.docs[doc_id] = {**doc, "seq": next(self.model.seq)}

    # ------------------------------------------------------------------ checks
    async def settle_and_check(self) -> None:
        await self.manager.wait_for(self.t.deployment.db.latest_ts)
        await self.manager.settled()
        await self.split_grown_pages()
        ts = self.manager.processed_ts
        assert all(
            page.sub.outcome is not None and page.sub.outcome.covers(ts, ts) for page in self.pages
        )
        shown = [doc["_id"] for page in self.pages for doc in page.result["page"]]
        expected = await self.expected(ts)
        assert len(set(shown)) == len(shown), f"a document is shown twice: {shown}"
        assert shown == expected[: len(shown)], f"pages {shown} != brute force {expected}"
        if self.pages[-1].result["isDone"]:
            assert shown == expected, f"the last page is done but {expected[len(shown):]} are missing"

    async def expected(self, ts: int) -> list[str]:
        if self.mode != "search":
            return self.model.ordered(self.mode)
        runner = self.t.deployment.runner
        found = await runner.run_query("items:all", {"group": self.group, "mode": "search"}, ts=ts)
        ids = [doc["_id"] for doc in found.value]
        assert set(ids) == {
            i for i, d in self.model.docs.items() if "apple" in d["body"].split()
        }
        return ids


async def _run_program(t: ConvexTest, manager: SubscriptionManager, group: str, mode: str,
                       program: tuple[Any, ...]) -> int:
    initial, n0, script = program
    client = Client(t, manager, group, mode, n0)
    if initial:
        await client.commit([("insert", k, tag, body) for k, tag, body in initial])
    await manager.wait_for(t.deployment.db.latest_ts)
    await client.start()
    await client.settle_and_check()
    try:
        for step in script:
            if step[0] == "commit":
                await client.commit(step[1])
            elif step[0] == "load_more":
                await client.load_more(step[1])
            else:
                await client.reconnect(step[1])
            await client.settle_and_check()
        for _ in range(100):  # finally load everything: it must all be there, once
            if client.pages[-1].result["isDone"]:
                break
            await client.load_more(3)
            await client.settle_and_check()
        assert client.pages[-1].result["isDone"]
        await client.settle_and_check()
        return client.splits
    finally:
        client.close()


@pytest.mark.parametrize("mode", ["asc", "desc", "filtered", "search"])
def test_live_pages_stay_gapless_and_unique(mode: str) -> None:
    with asyncio.Runner() as runner:
        t = ConvexTest(APP)
        runner.run(t.__aenter__())
        manager = SubscriptionManager(t.deployment.db, t.deployment.runner, format_function_error)
        runner.run(_start(manager))
        groups = itertools.count()
        splits = 0

        @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
        @given(programs)
        @example(GROWS)
        def check(program: tuple[Any, ...]) -> None:
            nonlocal splits
            group = f"{mode}-{next(groups)}"
            splits += runner.run(_run_program(t, manager, group, mode, program))

        try:
            check()
        finally:
            runner.run(manager.stop())
            runner.run(t.__aexit__(None, None, None))
        if mode != "search":  # search pages have no split cursor (as in Convex)
            assert splits > 0, "no page ever grew past the split threshold"


async def _start(manager: SubscriptionManager) -> None:
    manager.start()


async def test_a_new_subscriber_gets_its_own_first_page() -> None:
    """Pages are shared by journal: a subscriber without one gets a page cut at its
    numItems now (not another client's grown page); one resending a journal shares the
    subscription that journal pins."""
    async with ConvexTest(APP) as t:
        manager = SubscriptionManager(t.deployment.db, t.deployment.runner, format_function_error)
        manager.start()
        try:
            docs = [["insert", {"group": "g", "k": float(k), "tag": "a", "body": "x"}] for k in range(4)]
            await t.mutation("items:apply", {"writes": docs})
            await manager.wait_for(t.deployment.db.latest_ts)
            await manager.settled()
            args = {"group": "g", "mode": "asc", "paginationOpts": {"numItems": 2, "cursor": None}}
            first = await manager.subscribe(PATH, args, None)
            assert [d["k"] for d in first.value_json["page"]] == [0, 1]
            grow = [["insert", {"group": "g", "k": 0.5, "tag": "a", "body": "x"}]]
            await t.mutation("items:apply", {"writes": grow})
            await manager.wait_for(t.deployment.db.latest_ts)
            await manager.settled()
            assert [d["k"] for d in first.value_json["page"]] == [0, 0.5, 1]  # pinned: grew
            fresh = await manager.subscribe(PATH, args, None)
            assert fresh is not first
            assert [d["k"] for d in fresh.value_json["page"]] == [0, 0.5]  # cut at numItems
            resent = await manager.subscribe(PATH, args, None, first.journal)
            assert resent is first  # the journal names the pinned page
            assert first.journal != fresh.journal
        finally:
            await manager.stop()
