"""Long work on the database's progress board while it runs (what the dashboard shows):
an index backfill and a search index build, each with its count growing, and off the
board when done."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

from pyconvex.database import Database, push_schema
from pyconvex.database.progress import progress_board
from pyconvex.schema import define_schema, define_table, v

from .conftest import write

DOCS = 3000


async def seed(db: Database) -> None:
    async def insert(txn):  # type: ignore[no-untyped-def]
        for n in range(DOCS):
            await txn.insert("t", {"n": n, "body": f"word{n % 7} text"})

    await write(db, insert)


async def watch(db: Database, work: Awaitable[Any]) -> list[dict[str, Any]]:
    """What the board shows at every turn of the loop while ``work`` runs."""
    task = asyncio.ensure_future(work)
    seen: list[dict[str, Any]] = []
    while not task.done():
        seen.extend(w.to_json() for w in progress_board(db).running())
        await asyncio.sleep(0)
    await task
    assert progress_board(db).running() == []
    return seen


async def test_an_index_backfill_is_on_the_board_while_it_runs(db: Database) -> None:
    await seed(db)
    schema = define_schema({"t": define_table({"n": v.number(), "body": v.string()}).index("by_n", ["n"])})
    seen = await watch(db, push_schema(db, schema))
    assert seen and {(w["kind"], w["table"], w["index"]) for w in seen} == {("index", "t", "by_n")}
    counts = [w["done"] for w in seen]
    assert counts == sorted(counts) and counts[-1] < DOCS  # seen part-way, growing


async def test_a_search_index_build_is_on_the_board_while_it_runs(db: Database) -> None:
    await seed(db)
    await push_schema(db, define_schema({"t": define_table({"n": v.number(), "body": v.string()})}))
    await db.search.ensure(db.latest_ts)  # the document log indexed so far: none wanted
    table = define_table({"n": v.number(), "body": v.string()}).search_index(
        "search_body", search_field="body")
    await push_schema(db, define_schema({"t": table}))
    seen = await watch(db, db.search.ensure(db.latest_ts))
    assert seen and {w["kind"] for w in seen} == {"search"}
    assert all("t.search_body" in w["index"] and w["total"] is None for w in seen)
    for what in {w["what"] for w in seen}:  # a build from the log, then maybe an update
        counts = [w["done"] for w in seen if w["what"] == what]
        assert counts == sorted(counts) and counts[-1] <= DOCS
    assert any(w["what"].startswith("building search indexes t.search_body") for w in seen)
