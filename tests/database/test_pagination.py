"""Pagination in the engine: pinned ends (the query journal, endCursor), split hints,
read limits, and cursors that belong to one query."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from pyconvex.database import Database, Query, push_schema
from pyconvex.database.query.pagination import QueryJournal, current_journal
from pyconvex.errors import InvalidQueryError
from pyconvex.schema import define_schema, define_table, v

from .conftest import write

SCHEMA = define_schema(
    {"items": define_table({"n": v.number(), "tag": v.string()}).index("by_n", ["n"])}
)


@pytest.fixture
async def items(db: Database) -> Database:
    await push_schema(db, SCHEMA)

    async def seed(txn):
        for n in range(10):
            await txn.insert("items", {"n": float(n), "tag": "ab"[n % 2]})

    await write(db, seed)
    return db


def q(db: Database) -> Query:
    return Query(db.begin(writable=False), "items").with_index("by_n")


@contextmanager
def journal(previous: str | None) -> Iterator[QueryJournal]:
    """A query execution's journal, as FunctionRunner.run_query sets it."""
    j = QueryJournal(previous)
    token = current_journal.set(j)
    try:
        yield j
    finally:
        current_journal.reset(token)


def ns(page: dict) -> list[float]:
    return [d["n"] for d in page["page"]]


async def insert(db: Database, n: float, tag: str = "a") -> None:
    async def fn(txn):
        await txn.insert("items", {"n": n, "tag": tag})

    await write(db, fn)


async def test_the_journal_pins_a_page_end(items: Database):
    with journal(None) as first:
        page = await q(items).paginate({"numItems": 3, "cursor": None})
    assert ns(page) == [0, 1, 2] and not page["isDone"]
    recorded = first.serialize()
    assert recorded is not None and page["continueCursor"] in recorded
    await insert(items, 1.5)
    await insert(items, 2.0)  # equal to the boundary's value: after it in the order
    with journal(recorded) as again:
        grown = await q(items).paginate({"numItems": 3, "cursor": None})
    assert ns(grown) == [0, 1, 1.5, 2]  # grows instead of sliding
    assert grown["continueCursor"] == page["continueCursor"]
    assert again.serialize() == recorded  # the same journal comes back
    nxt = await q(items).paginate({"numItems": 3, "cursor": page["continueCursor"]})
    assert ns(nxt) == [2, 3, 4]  # the new 2.0 starts the next page
    # Without a journal (a one-off read) the page is cut at numItems again.
    assert ns(await q(items).paginate({"numItems": 3, "cursor": None})) == [0, 1, 1.5]


async def test_a_done_page_takes_in_what_is_appended(items: Database):
    with journal(None) as first:
        page = await q(items).paginate({"numItems": 20, "cursor": None})
    assert page["isDone"] and page["continueCursor"] == "end"
    await insert(items, 99.0)
    with journal(first.serialize()):
        grown = await q(items).paginate({"numItems": 20, "cursor": None})
    assert ns(grown)[-1] == 99 and grown["isDone"]


async def test_split_cursor_and_page_status(items: Database):
    page = await q(items).paginate({"numItems": 2, "cursor": None})
    assert page["splitCursor"] is None  # two rows read: nothing to split
    whole = await q(items).paginate({"numItems": 2, "cursor": None, "endCursor": "end"})
    assert ns(whole) == list(range(10)) and whole["pageStatus"] is None
    first = await q(items).paginate({"numItems": 2, "cursor": None, "endCursor": whole["splitCursor"]})
    second = await q(items).paginate(
        {"numItems": 2, "cursor": whole["splitCursor"], "endCursor": whole["continueCursor"]}
    )
    assert ns(first) + ns(second) == list(range(10))
    assert len(ns(first)) == 6  # after the middle row read
    # A pinned page past 3/4 of maximumRowsRead recommends a split.
    big = await q(items).paginate({"numItems": 1, "cursor": None, "endCursor": "end", "maximumRowsRead": 8})
    assert big["pageStatus"] == "SplitRecommended" and ns(big) == list(range(10))
    # An unpinned page stopped by maximumRowsRead requires one.
    short = await Query(items.begin(writable=False), "items").with_index("by_n").filter(
        lambda f: f.eq(f.field("tag"), "zzz")
    ).paginate({"numItems": 5, "cursor": None, "maximumRowsRead": 4})
    assert short["page"] == [] and short["pageStatus"] == "SplitRequired" and not short["isDone"]
    rest = await q(items).paginate({"numItems": 20, "cursor": short["continueCursor"]})
    assert ns(rest) == [4, 5, 6, 7, 8, 9]


async def test_cursors_belong_to_their_query(items: Database):
    page = await q(items).paginate({"numItems": 2, "cursor": None})
    other = Query(items.begin(writable=False), "items").with_index("by_n", lambda r: r.gte("n", 1.0))
    with pytest.raises(InvalidQueryError, match="InvalidCursor: this cursor is from a different query"):
        await other.paginate({"numItems": 2, "cursor": page["continueCursor"]})
    with pytest.raises(InvalidQueryError, match="InvalidCursor"):
        await q(items).order("desc").paginate({"numItems": 2, "cursor": page["continueCursor"]})
    with journal('{"endCursor": "kAAAAAAAAA"}'), pytest.raises(InvalidQueryError, match="InvalidCursor"):
        await q(items).paginate({"numItems": 2, "cursor": None})
    with journal("not a journal"), pytest.raises(InvalidQueryError, match="InvalidCursor: the query journal"):
        await q(items).paginate({"numItems": 2, "cursor": None})


async def test_one_paginate_per_query(items: Database):
    with journal(None):
        await q(items).paginate({"numItems": 2, "cursor": None})
        with pytest.raises(InvalidQueryError, match="paginate\\(\\) twice") as e:
            await q(items).paginate({"numItems": 2, "cursor": None})
    assert e.value.short_msg == "MultiplePaginatedDatabaseQueries"


async def test_bad_limits_are_refused(items: Database):
    with pytest.raises(InvalidQueryError, match="maximumRowsRead must be a positive integer"):
        await q(items).paginate({"numItems": 2, "cursor": None, "maximumRowsRead": 0})
    with pytest.raises(InvalidQueryError, match="numItems 40000 is more than"):
        await q(items).paginate({"numItems": 40000, "cursor": None})
