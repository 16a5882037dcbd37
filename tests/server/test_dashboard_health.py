"""The dashboard's figures over HTTP (in-process): per-function metrics per minute,
insights from read sets (documents read without an index, the largest read sets, the
documents hot with OCC conflicts), backfill progress, and health."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from pyconvex.database import AFTER_VALIDATE, Database, push_schema
from pyconvex.database.progress import ProgressLog, progress_board
from pyconvex.schema import define_schema
from tests.server.inprocess import ADMIN, app_client

BASE = "/api/pyconvex/dashboard"


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(tmp_path / "db.sqlite3") as c:
        yield c


def database(client: httpx.AsyncClient) -> Database:
    app: Any = client._transport.app  # type: ignore[attr-defined]
    db: Database = app.state.server.deployment.db
    return db


async def call(client: httpx.AsyncClient, kind: str, path: str, args: dict[str, Any]) -> Any:
    r = await client.post(f"/api/{kind}", json={"path": path, "args": args, "format": "json"})
    return r.json()


def summed(buckets: list[dict[str, Any]], key: str) -> int:
    return sum(b[key] for b in buckets)


async def test_per_minute_metrics_count_calls_errors_and_documents(client: httpx.AsyncClient) -> None:
    channel = (await call(client, "mutation", "channels:create", {"name": "a"}))["value"]
    for name in ("b", "c"):
        await call(client, "mutation", "channels:create", {"name": name})
    for _ in range(2):
        await call(client, "query", "channels:list", {})
    failed = await call(client, "mutation", "messages:send", {"channelId": channel, "text": " "})
    assert failed["status"] == "error"
    metrics = (await client.get(f"{BASE}/function_metrics", headers=ADMIN)).json()
    assert metrics["bucketMs"] == 60_000
    functions = metrics["functions"]
    create = functions["channels:create"]
    assert create["kind"] == "mutation" and len(create["buckets"]) == 60
    assert summed(create["buckets"], "calls") == 3
    assert summed(create["buckets"], "documentsWritten") == 3
    listing = functions["channels:list"]["buckets"]
    assert summed(listing, "calls") == 2 and summed(listing, "documentsRead") == 6
    assert all(b["p50Ms"] is not None and b["p50Ms"] <= b["p99Ms"] for b in listing if b["calls"])
    send = functions["messages:send"]["buckets"]
    assert summed(send, "errors") == 1 and summed(send, "documentsWritten") == 0
    one = (await client.get(f"{BASE}/function_metrics", params={"path": "channels:list"},
                            headers=ADMIN)).json()
    assert list(one["functions"]) == ["channels:list"]


async def test_insights_name_reads_without_an_index_and_the_largest_read_sets(
    client: httpx.AsyncClient,
) -> None:
    for i in range(5):
        await call(client, "mutation", "channels:create", {"name": f"c{i}"})
    await call(client, "query", "channels:list", {})  # a full scan: no index range
    await call(client, "query", "channels:by_name", {"name": "c1"})  # an index range
    report = (await client.get(f"{BASE}/insights", headers=ADMIN)).json()
    by_path = {f["path"]: f for f in report["functions"]}
    assert by_path["channels:list"]["unindexedDocumentsRead"] == 5
    assert by_path["channels:list"]["unindexedCalls"] == 1
    assert by_path["channels:list"]["unindexedTables"] == {"channels": 5}
    assert by_path["channels:by_name"]["unindexedDocumentsRead"] == 0
    assert by_path["channels:by_name"]["documentsRead"] == 1
    assert [f["path"] for f in report["unindexedReads"]] == ["channels:list"]
    largest = report["largestReadSets"][0]
    assert largest["path"] == "channels:list" and largest["documentsRead"] == 5
    assert largest["requestId"]


async def test_a_document_hot_with_occ_conflicts_is_named_with_its_functions(
    client: httpx.AsyncClient,
) -> None:
    await call(client, "mutation", "counters:increment", {"name": "hot"})
    db = database(client)
    counter = (await call(client, "query", "counters:get", {"name": "hot"}))["value"]
    assert counter == 1
    # A's commit is held between validation and write; B reads the counter meanwhile,
    # so B's commit conflicts with A's write and B runs again.
    hold = db.pauses.hold(AFTER_VALIDATE)
    first = asyncio.ensure_future(call(client, "mutation", "counters:increment", {"name": "hot"}))
    await hold.wait_arrived()
    second = asyncio.ensure_future(call(client, "mutation", "counters:increment", {"name": "hot"}))
    while db.committer.queue_depth == 0:
        await asyncio.sleep(0.001)
    hold.release()
    assert sorted([(await first)["value"], (await second)["value"]]) == [2, 3]
    report = (await client.get(f"{BASE}/insights", headers=ADMIN)).json()
    hot = report["conflicts"]
    assert len(hot) == 1
    assert hot[0]["table"] == "counters" and hot[0]["conflicts"] == 1
    assert hot[0]["functions"] == {"counters:increment": 1}
    ids = [d["_id"] for d in (await client.get(f"{BASE}/documents", params={"table": "counters"},
                                               headers=ADMIN)).json()["page"]]
    assert hot[0]["documentId"] == ids[0]
    by_path = {f["path"]: f for f in report["functions"]}
    assert by_path["counters:increment"]["occConflicts"] == 1


async def test_backfill_progress_names_the_index_with_done_and_total(client: httpx.AsyncClient) -> None:
    r = await client.post(f"{BASE}/insert", headers=ADMIN, json={
        "table": "items", "documents": [{"n": i, "tag": "t"} for i in range(1000)]})
    assert r.status_code == 200
    db = database(client)
    schema = db.catalog.schema  # the deployment's, plus one index
    assert schema is not None
    items = schema.tables["items"].index("by_tag_only", ["tag"])
    push = asyncio.ensure_future(push_schema(db, define_schema({**schema.tables, "items": items})))
    seen: list[dict[str, Any]] = []
    while not push.done():  # what the dashboard would see, asked at every turn of the loop
        for work in progress_board(db).running():
            seen.append(work.to_json())
        await asyncio.sleep(0)
    await push
    backfills = [w for w in seen if w["kind"] == "index"]
    assert backfills and {(w["table"], w["index"]) for w in backfills} == {("items", "by_tag_only")}
    assert backfills[-1]["done"] > backfills[0]["done"] or len(backfills) == 1
    assert progress_board(db).running() == []  # off the board once done
    done = (await client.get(f"{BASE}/progress", headers=ADMIN)).json()
    assert done == {"work": []}


async def test_progress_and_tables_fill_in_the_tables_total(client: httpx.AsyncClient) -> None:
    await client.post(f"{BASE}/insert", headers=ADMIN, json={
        "table": "items", "documents": [{"n": i, "tag": "t"} for i in range(30)]})
    db = database(client)
    work = ProgressLog(logging.getLogger("test"), "backfilling index items.by_n", "documents",
                       board=progress_board(db), kind="index", table="items", index="by_n")
    work.advance(12)
    try:
        body = (await client.get(f"{BASE}/progress", headers=ADMIN)).json()
        tables = (await client.get(f"{BASE}/tables", headers=ADMIN)).json()["tables"]
    finally:
        work.close()
    assert [(w["table"], w["index"], w["done"], w["total"]) for w in body["work"]] == [
        ("items", "by_n", 12, 30)]
    items = next(t for t in tables if t["name"] == "items")
    backfills = {i["name"]: i["backfill"] for i in items["indexes"]}
    assert backfills["by_n"] == {"done": 12, "total": 30}
    assert backfills["by_tag_n"] is None


async def test_health_has_commit_rate_sessions_latency_and_sizes(client: httpx.AsyncClient) -> None:
    for name in ("a", "b"):
        await call(client, "mutation", "channels:create", {"name": name})
    health = (await client.get(f"{BASE}/health", headers=ADMIN)).json()
    assert health["commitsPerSecond"] >= 0 and health["commits"] >= 2
    assert health["sessions"] == 0 and health["subscriptions"] == 0
    assert health["latency"]["calls"] >= 2 and health["latency"]["p99Ms"] is not None
    assert health["databaseBytes"] > 0 and health["fileBytes"] is not None
    assert health["tables"]["channels"] == 2
    assert sum(health["callsPerMinute"]) == health["latency"]["calls"]
    create = next(f for f in health["functions"] if f["path"] == "channels:create")
    assert create["calls"] == 2 and create["documentsWritten"] == 2


async def test_system_functions_are_left_out_of_the_figures(client: httpx.AsyncClient) -> None:
    """The dashboard's own subscriptions (``_system/frontend/...``) are no function of the
    deployment's: they count in neither the charts, the insights nor the health figures."""
    await call(client, "mutation", "channels:create", {"name": "a"})
    r = await client.post("/api/query", headers=ADMIN, json={
        "path": "_system/frontend/tableSize", "args": {"tableName": "channels"}, "format": "json"})
    assert r.json()["value"] == 1  # the system query ran
    metrics = (await client.get(f"{BASE}/function_metrics", headers=ADMIN)).json()
    assert set(metrics["functions"]) == {"channels:create"}
    insights = (await client.get(f"{BASE}/insights", headers=ADMIN)).json()
    assert [f["path"] for f in insights["functions"]] == ["channels:create"]
    health = (await client.get(f"{BASE}/health", headers=ADMIN)).json()
    assert sum(health["callsPerMinute"]) == 1 and health["latency"]["calls"] == 1
