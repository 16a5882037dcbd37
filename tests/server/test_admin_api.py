"""The admin API under /api/pyconvex/ and the dashboard page, served in-process."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.server.inprocess import ADMIN_KEY, app_client

ADMIN = {"Authorization": f"Convex {ADMIN_KEY}"}


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(tmp_path / "db.sqlite3") as c:
        yield c


async def test_every_admin_endpoint_needs_the_admin_key(client: httpx.AsyncClient) -> None:
    for method, path in [("GET", "/api/pyconvex/tables"), ("GET", "/api/pyconvex/data?table=x"),
                         ("GET", "/api/pyconvex/logs"), ("GET", "/api/pyconvex/env"),
                         ("POST", "/api/pyconvex/env"), ("POST", "/api/pyconvex/deploy")]:
        anonymous = await client.request(method, path)
        assert anonymous.status_code == 401, (path, anonymous.text)
        wrong = await client.request(method, path, headers={"Authorization": "Convex nope"})
        assert wrong.status_code == 401 and wrong.json()["code"] == "BadAdminKey"


async def test_tables_data_and_system_tables(client: httpx.AsyncClient) -> None:
    created = await client.post("/api/mutation", json={"path": "channels:create", "args": {"name": "a"}})
    cid = created.json()["value"]
    assert "channels" in (await client.get("/api/pyconvex/tables", headers=ADMIN)).json()["tables"]
    docs = (await client.get("/api/pyconvex/data", params={"table": "channels"}, headers=ADMIN)).json()
    assert [d["_id"] for d in docs["documents"]] == [cid]
    storage = await client.get("/api/pyconvex/data", params={"table": "_storage"}, headers=ADMIN)
    assert storage.json()["documents"] == []
    hidden = await client.get("/api/pyconvex/data", params={"table": "_modules"}, headers=ADMIN)
    assert hidden.status_code == 400 and hidden.json()["code"] == "TableNotFound"
    bad = await client.get("/api/pyconvex/data", params={"table": "channels", "limit": 0}, headers=ADMIN)
    assert bad.status_code == 400 and "limit" in bad.json()["message"]


async def test_logs_long_poll_returns_as_soon_as_a_function_logs(client: httpx.AsyncClient) -> None:
    last = (await client.get("/api/pyconvex/logs", params={"after": -1}, headers=ADMIN)).json()["last"]
    poll = asyncio.ensure_future(client.get(
        "/api/pyconvex/logs", params={"after": last, "wait": 20}, headers=ADMIN, timeout=30))
    await asyncio.sleep(0.1)
    assert not poll.done()  # waiting for an execution
    await client.post("/api/mutation", json={"path": "channels:create", "args": {"name": "logged"}})
    entries = (await asyncio.wait_for(poll, 10)).json()["entries"]
    assert entries and entries[0]["path"] == "channels:create" and entries[0]["kind"] == "mutation"


async def test_environment_variables_round_trip(client: httpx.AsyncClient) -> None:
    env = "/api/pyconvex/env"
    set_one = await client.post(env, json={"changes": {"PYCONVEX_T1": "v1"}}, headers=ADMIN)
    assert set_one.json()["variables"]["PYCONVEX_T1"] == "v1"
    assert (await client.get(env, headers=ADMIN)).json()["variables"] == {"PYCONVEX_T1": "v1"}
    removed = await client.post(env, json={"changes": {"PYCONVEX_T1": None}}, headers=ADMIN)
    assert removed.json()["variables"] == {}
    bad = await client.post(env, json={"changes": {"has space": "x"}}, headers=ADMIN)
    assert bad.status_code == 400 and "has space" in bad.json()["message"]


async def test_dashboard_page_is_served(client: httpx.AsyncClient) -> None:
    page = await client.get("/dashboard")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "/api/pyconvex/dashboard/tables" in page.text  # it works through the admin API
