"""The dashboard's admin endpoints (/api/pyconvex/dashboard/*), served in-process: the
admin key, clear errors for bad input, counts kept exact, paging, the planner's choice."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from pyconvex.server.dashboard_api import ROUTES
from tests.server.inprocess import ADMIN, app_client

BASE = "/api/pyconvex/dashboard"


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(tmp_path / "db.sqlite3") as c:
        yield c


async def count(client: httpx.AsyncClient, table: str) -> int:
    tables = (await client.get(f"{BASE}/tables", headers=ADMIN)).json()["tables"]
    found: int = next(t["count"] for t in tables if t["name"] == table)
    return found


async def test_every_dashboard_endpoint_needs_the_admin_key(client: httpx.AsyncClient) -> None:
    for route in ROUTES:
        method = "POST" if route.methods and "POST" in route.methods else "GET"
        anonymous = await client.request(method, route.path)
        assert anonymous.status_code == 401, (route.path, anonymous.text)
        wrong = await client.request(method, route.path, headers={"Authorization": "Convex nope"})
        assert wrong.json()["code"] == "BadAdminKey", route.path


async def test_counts_stay_exact_through_inserts_deletes_and_clear(client: httpx.AsyncClient) -> None:
    r = await client.post(f"{BASE}/insert", headers=ADMIN, json={
        "table": "items", "documents": [{"n": i, "tag": "a"} for i in range(30)]})
    ids = r.json()["ids"]
    assert await count(client, "items") == 30  # counted by a scan
    await client.post(f"{BASE}/insert", headers=ADMIN, json={"table": "items", "documents": [{"n": 99, "tag": "b"}]})
    await client.post(f"{BASE}/delete", headers=ADMIN, json={"ids": ids[:5]})
    assert await count(client, "items") == 26  # kept from the commits
    replaced = await client.post(f"{BASE}/replace", headers=ADMIN, json={"id": ids[6], "value": {"n": 1, "tag": "z"}})
    assert replaced.status_code == 200
    assert await count(client, "items") == 26
    wrong = await client.post(f"{BASE}/clear", headers=ADMIN, json={"table": "items", "confirm": "item"})
    assert wrong.status_code == 400 and wrong.json()["code"] == "ConfirmationMismatch"
    assert "'items'" in wrong.json()["message"]
    cleared = await client.post(f"{BASE}/clear", headers=ADMIN, json={"table": "items", "confirm": "items"})
    assert cleared.json() == {"deleted": 26}
    assert await count(client, "items") == 0


async def test_a_failed_write_writes_nothing(client: httpx.AsyncClient) -> None:
    bad = await client.post(f"{BASE}/insert", headers=ADMIN, json={
        "table": "items", "documents": [{"n": 1, "tag": "ok"}, {"n": "two", "tag": "bad"}]})
    assert bad.status_code == 400 and bad.json()["code"] == "SchemaValidationError"
    assert "n: expected number" in bad.json()["message"]
    assert await count(client, "items") == 0
    system = await client.post(f"{BASE}/insert", headers=ADMIN, json={"table": "_storage", "documents": [{}]})
    assert system.status_code == 404 and system.json()["code"] == "TableNotFound"


async def test_paging_by_cursor_and_the_planners_choice(client: httpx.AsyncClient) -> None:
    await client.post(f"{BASE}/insert", headers=ADMIN, json={
        "table": "items", "documents": [{"n": i, "tag": "odd" if i % 2 else "even"} for i in range(250)]})
    seen: list[float] = []
    cursor = None
    while True:
        params = {"table": "items", "numItems": "100", "order": "asc", "index": "by_n"}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get(f"{BASE}/documents", params=params, headers=ADMIN)).json()
        seen += [d["n"] for d in page["page"]]
        cursor = page["continueCursor"]
        if page["isDone"]:
            break
    assert seen == [float(i) for i in range(250)]
    filters = [{"field": "tag", "op": "eq", "value": "odd"}, {"field": "n", "op": "lt", "value": 7}]
    page = (await client.get(f"{BASE}/documents", headers=ADMIN,
                             params={"table": "items", "filters": json.dumps(filters)})).json()
    assert page["plan"]["index"] == "by_tag_n" and page["plan"]["checked"] == []
    assert sorted(d["n"] for d in page["page"]) == [1.0, 3.0, 5.0]
    unindexed = [{"field": "meta", "op": "eq", "value": None}]
    page = (await client.get(f"{BASE}/documents", headers=ADMIN,
                             params={"table": "items", "filters": json.dumps(unindexed)})).json()
    assert not page["plan"]["usesIndex"] and "No index fits the filter on meta" in page["plan"]["message"]
    bad = await client.get(f"{BASE}/documents", headers=ADMIN, params={
        "table": "items", "filters": json.dumps([{"field": "n", "op": "like", "value": 1}])})
    assert bad.status_code == 400 and "filter 1 (n): operator must be one of" in bad.json()["message"]


