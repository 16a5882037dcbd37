"""The query engine: index ranges, order, filters, terminals, pagination."""

from __future__ import annotations

import pytest

from pyconvex.database import Database, Query, push_schema
from pyconvex.errors import InvalidQueryError
from pyconvex.schema import define_schema, define_table, v

from .conftest import write

SCHEMA = define_schema(
    {
        "items": define_table({"n": v.number(), "tag": v.string(), "meta": v.optional(v.any())})
        .index("by_n", ["n"])
        .index("by_tag_n", ["tag", "n"])
        .index("by_category", ["meta.category"])
    }
)


@pytest.fixture
async def items(db: Database) -> Database:
    await push_schema(db, SCHEMA)

    async def seed(txn):
        for n in range(20):
            meta = {"category": "odd" if n % 2 else "even"} if n < 10 else None
            doc = {"n": float(n), "tag": "ab"[n % 2]}
            if meta is not None:
                doc["meta"] = meta
            await txn.insert("items", doc)

    await write(db, seed)
    return db


def q(db: Database) -> Query:
    return Query(db.begin(writable=False), "items")


async def test_index_ranges(items: Database):
    ns = lambda docs: [d["n"] for d in docs]  # noqa: E731
    assert ns(await q(items).with_index("by_n", lambda r: r.gte("n", 3).lt("n", 6)).collect()) == [3, 4, 5]
    assert ns(await q(items).with_index("by_n", lambda r: r.gt("n", 3).lte("n", 6)).collect()) == [4, 5, 6]
    assert ns(await q(items).with_index("by_n", lambda r: r.eq("n", 7.0)).collect()) == [7]
    got = await q(items).with_index("by_tag_n", lambda r: r.eq("tag", "b").gt("n", 10)).collect()
    assert ns(got) == [11, 13, 15, 17, 19]
    got = await q(items).with_index("by_tag_n", lambda r: r.eq("tag", "a")).order("desc").take(3)
    assert ns(got) == [18, 16, 14]
    # Nested field paths; documents without the field sort first (missing < null).
    got = await q(items).with_index("by_category", lambda r: r.eq("meta.category", "odd")).collect()
    assert ns(got) == [1, 3, 5, 7, 9]


async def test_invalid_ranges_are_explained(items: Database):
    with pytest.raises(InvalidQueryError, match="expected a bound on 'tag' next"):
        await q(items).with_index("by_tag_n", lambda r: r.eq("n", 1)).collect()
    with pytest.raises(InvalidQueryError, match="at most one lower bound"):
        await q(items).with_index("by_n", lambda r: r.gt("n", 1).gte("n", 2)).collect()
    with pytest.raises(InvalidQueryError, match="must come before"):
        await q(items).with_index("by_tag_n", lambda r: r.gt("tag", "a").eq("n", 1)).collect()
    with pytest.raises(InvalidQueryError, match="by_nope does not exist"):
        await q(items).with_index("by_nope").collect()


async def test_filters_and_terminals(items: Database):
    got = await q(items).filter(lambda f: f.and_(f.gt(f.field("n"), 4), f.eq(f.field("tag"), "a"))).take(3)
    assert [d["n"] for d in got] == [6, 8, 10]
    got = await q(items).filter(lambda f: f.or_(f.eq(f.field("n"), 1), f.eq(f.field("n"), 2))).collect()
    assert [d["n"] for d in got] == [1, 2]
    # A Python int literal matches a stored number.
    assert (await q(items).filter(lambda f: f.eq(f.field("n"), 5)).unique())["n"] == 5
    assert await q(items).filter(lambda f: f.eq(f.field("n"), 99)).first() is None
    with pytest.raises(InvalidQueryError, match="more than one"):
        await q(items).filter(lambda f: f.eq(f.field("tag"), "a")).unique()
    assert [d["n"] async for d in q(items).with_index("by_n", lambda r: r.lt("n", 3))] == [0, 1, 2]
    with pytest.raises(InvalidQueryError):
        await q(items).order("sideways").collect()


async def test_take_reads_only_as_far_as_it_went(items: Database):
    txn = items.begin(writable=False)
    await Query(txn, "items").with_index("by_n").take(3)
    index = txn.index("items", "by_n")
    (interval,) = txn.reads.intervals(index.id)
    writer = items.begin()
    await writer.insert("items", {"n": 15.5, "tag": "a"})
    ts = await items.commit(writer)
    assert items.write_log.first_conflict(txn.begin_ts, txn.reads) is None
    writer = items.begin()
    await writer.insert("items", {"n": 0.5, "tag": "a"})
    ts = await items.commit(writer)
    assert items.write_log.first_conflict(txn.begin_ts, txn.reads)[0] == ts
    assert interval.hi is not None


async def test_paginate_walks_every_document_once(items: Database):
    seen: list[float] = []
    cursor = None
    pages = 0
    while True:
        page = await q(items).with_index("by_n").paginate({"numItems": 6, "cursor": cursor})
        assert set(page) == {"page", "isDone", "continueCursor", "splitCursor", "pageStatus"}
        assert isinstance(page["continueCursor"], str)
        seen.extend(d["n"] for d in page["page"])
        cursor = page["continueCursor"]
        pages += 1
        if page["isDone"]:
            break
        # Inserting before the cursor never shifts the next page.
        writer = items.begin()
        await writer.insert("items", {"n": -1.0 - pages, "tag": "a"})
        await items.commit(writer)
    assert seen == [float(n) for n in range(20)]
    assert pages == 4
    # Descending, with a filter.
    page = await q(items).with_index("by_n").order("desc").filter(
        lambda f: f.eq(f.field("tag"), "b")
    ).paginate({"numItems": 2, "cursor": None})
    assert [d["n"] for d in page["page"]] == [19, 17]
    nxt = await q(items).with_index("by_n").order("desc").filter(
        lambda f: f.eq(f.field("tag"), "b")
    ).paginate({"numItems": 2, "cursor": page["continueCursor"]})
    assert [d["n"] for d in nxt["page"]] == [15, 13]


async def test_paginate_end_cursor_pins_the_page(items: Database):
    first = await q(items).with_index("by_n").paginate({"numItems": 3, "cursor": None})
    writer = items.begin()
    await writer.insert("items", {"n": 1.5, "tag": "a"})
    await items.commit(writer)
    again = await q(items).with_index("by_n").paginate(
        {"numItems": 3, "cursor": None, "endCursor": first["continueCursor"]}
    )
    assert [d["n"] for d in again["page"]] == [0, 1, 1.5, 2]
    assert again["continueCursor"] == first["continueCursor"]


async def test_paginate_rejects_bad_options(items: Database):
    with pytest.raises(InvalidQueryError, match="numItems"):
        await q(items).paginate({"numItems": 0, "cursor": None})
    with pytest.raises(InvalidQueryError, match="cursor"):
        await q(items).paginate({"numItems": 1, "cursor": "garbage!"})
