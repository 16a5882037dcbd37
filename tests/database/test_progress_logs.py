"""Long work is not silent: an index backfill and the first build of a search index
log how far they got and when they are done (``pyconvex dev`` prints these lines on
its console, ``serve`` as JSON on stderr)."""

from __future__ import annotations

import logging

import pytest

from pyconvex.database import Database, push_schema
from pyconvex.database import progress as progress_module
from pyconvex.schema import define_schema, define_table, v

from .conftest import write

ROWS = 1200


@pytest.fixture
def every_step(monkeypatch: pytest.MonkeyPatch) -> None:
    """A line for every step, so a test needs no slow work to see them."""
    monkeypatch.setattr(progress_module, "QUIET_S", 0.0)
    monkeypatch.setattr(progress_module, "EVERY_S", 0.0)


async def _seed(db: Database) -> None:
    async def seed(txn):  # type: ignore[no-untyped-def]
        for n in range(ROWS):
            await txn.insert("t", {"n": float(n), "body": f"word{n % 7} text"})
    await write(db, seed)


async def test_a_backfill_logs_its_progress_and_its_end(db: Database, every_step: None,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    await _seed(db)
    with caplog.at_level(logging.INFO, logger="pyconvex.database"):
        await push_schema(db, define_schema({"t": define_table({"n": v.number(), "body": v.string()})
                                             .index("by_n", ["n"])}))
    lines = [r.getMessage() for r in caplog.records if r.name == "pyconvex.database.schema"]
    assert "backfilling index t.by_n: 512 documents so far" in lines[0]
    assert any("1,024 documents so far" in line for line in lines)
    assert lines[-1].startswith(f"backfilling index t.by_n: done, {ROWS:,} documents in ")


async def test_a_quick_backfill_stays_quiet(db: Database, caplog: pytest.LogCaptureFixture) -> None:
    await write(db, lambda txn: txn.insert("t", {"n": 1.0}))
    with caplog.at_level(logging.INFO, logger="pyconvex.database"):
        await push_schema(db, define_schema({"t": define_table({"n": v.number()}).index("by_n", ["n"])}))
    assert [r for r in caplog.records if r.name == "pyconvex.database.schema"] == []


async def test_the_first_search_after_adding_a_search_index_says_it_builds_it(
    db: Database, every_step: None, caplog: pytest.LogCaptureFixture
) -> None:
    await _seed(db)
    await push_schema(db, define_schema({"t": define_table({"n": v.number(), "body": v.string()})
                                         .search_index("search_body", search_field="body")}))
    with caplog.at_level(logging.INFO, logger="pyconvex.database"):
        found = await db.search.text_search(db.begin(writable=False), "t", "search_body",
                                            lambda q: q.search("body", "word3"))
    assert found
    lines = [r.getMessage() for r in caplog.records if r.name == "pyconvex.database.search"]
    assert lines[0].startswith("building search indexes t.search_body from the document log: 1 ")
    assert lines[-1].startswith("building search indexes t.search_body from the document log: done, ")
