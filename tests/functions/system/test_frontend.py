"""The ``_system/frontend`` queries through the HTTP API (in-process): sorted pages by
an index in either order, a filter planned onto an index range, paging by cursor, time
travel and its retention error, clear errors for bad filters and tables, and no access
without the admin key. (Live subscriptions with the npm client: tests/compat.)"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import FIXTURES
from tests.server.inprocess import ADMIN, app_client

pytestmark = pytest.mark.one_backend  # served by the in-process app, on SQLite

PAGE = "_system/frontend/paginatedTableDocuments"


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(tmp_path / "db.sqlite3") as c:
        r = await c.post("/api/pyconvex/dashboard/insert", headers=ADMIN, json={
            "table": "items", "documents": [{"n": i, "tag": "odd" if i % 2 else "even"}
                                            for i in range(10)]})
        assert r.status_code == 200
        yield c


def expression(**kw: Any) -> str:
    return base64.b64encode(json.dumps(kw).encode()).decode()


async def page(client: httpx.AsyncClient, headers: dict[str, str] | None = ADMIN,
               **args: Any) -> dict[str, Any]:
    body = {"path": PAGE, "format": "json",
            "args": {"table": "items", "paginationOpts": {"numItems": 4, "cursor": None},
                     "filters": None, **args}}
    r = await client.post("/api/query", json=body, headers=headers or {})
    out: dict[str, Any] = r.json()
    return out


def ns(result: dict[str, Any]) -> list[float]:
    return [d["n"] for d in result["value"]["page"]]


async def test_sorted_by_an_index_in_both_orders_and_paged_by_cursor(client: httpx.AsyncClient) -> None:
    first = await page(client, filters=expression(clauses=[], order="asc", index={"name": "by_n"}))
    assert ns(first) == [0, 1, 2, 3] and first["value"]["isDone"] is False
    assert first["value"]["plan"]["index"] == "by_n"
    second = await page(client, filters=expression(clauses=[], order="asc", index={"name": "by_n"}),
                        paginationOpts={"numItems": 4, "cursor": first["value"]["continueCursor"]})
    assert ns(second) == [4, 5, 6, 7]
    newest = await page(client, filters=expression(clauses=[], order="desc", index={"name": "by_n"}))
    assert ns(newest) == [9, 8, 7, 6]


async def test_a_filter_is_planned_onto_an_index_range(client: httpx.AsyncClient) -> None:
    clauses = [{"field": "tag", "op": "eq", "value": "odd", "enabled": True, "id": "a"},
               {"field": "n", "op": "gte", "value": 5, "enabled": True, "id": "b"},
               {"field": "n", "op": "lt", "value": 0, "enabled": False, "id": "c"}]  # off
    result = await page(client, filters=expression(clauses=clauses, order="asc"))
    assert ns(result) == [5, 7, 9]
    plan = result["value"]["plan"]
    assert plan["index"] == "by_tag_n" and plan["checked"] == [] and plan["usesIndex"] is True
    unindexed = await page(client, filters=expression(
        clauses=[{"field": "meta", "op": "eq", "value": None}]))
    assert unindexed["value"]["plan"]["usesIndex"] is False
    assert "No index fits the filter on meta" in unindexed["value"]["plan"]["message"]


async def test_time_travel_reads_the_table_as_it_was(client: httpx.AsyncClient) -> None:
    before_ms = time.time() * 1000
    await client.post("/api/pyconvex/dashboard/clear", headers=ADMIN,
                      json={"table": "items", "confirm": "items"})
    assert ns(await page(client)) == []
    past = await page(client, at=before_ms, filters=expression(clauses=[], order="asc"))
    assert ns(past) == [0, 1, 2, 3]
    db = client._transport.app.state.server.deployment.db  # type: ignore[attr-defined]
    await db.collect_old_versions(0)  # retention: nothing older than the newest commit
    too_old = await page(client, at=before_ms)
    assert too_old["status"] == "error"
    assert "older than the retention window" in too_old["errorMessage"]


async def test_bad_input_is_named_and_only_the_admin_may_ask(client: httpx.AsyncClient) -> None:
    bad = await page(client, filters="not base64!")
    assert "filters must be base64" in bad["errorMessage"]
    op = await page(client, filters=expression(clauses=[{"field": "n", "op": "like", "value": 1}]))
    assert "operator must be one of" in op["errorMessage"]
    missing = await page(client, table="nope")
    assert "There is no table 'nope'" in missing["errorMessage"]
    system = await page(client, table="_tables")
    assert "There is no table '_tables'" in system["errorMessage"]
    anonymous = await page(client, headers=None)
    assert anonymous["status"] == "error"
    assert f"Could not find public function for '{PAGE}'" in anonymous["errorMessage"]
    size = await client.post("/api/query", headers=ADMIN, json={
        "path": "_system/frontend/tableSize", "args": {"tableName": "items"}, "format": "json"})
    assert size.json()["value"] == 10


async def test_cron_jobs_are_listed(tmp_path: Path) -> None:
    async with app_client(tmp_path / "sched.sqlite3", FIXTURES / "schedapp" / "convex") as c:
        body = {"path": "_system/frontend/listCronJobs", "args": {}, "format": "json"}
        for _ in range(200):  # the crons are registered as the deployment's services start
            jobs = (await c.post("/api/query", json=body, headers=ADMIN)).json()["value"]
            if len(jobs) == 2:
                break
            await asyncio.sleep(0.05)
        assert sorted(j["name"] for j in jobs) == ["noon", "tick"]
        refused = (await c.post("/api/query", json=body)).json()
        assert "Could not find public function" in refused["errorMessage"]
