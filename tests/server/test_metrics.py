"""/metrics (Prometheus text format), /health and /ready, scraped from a real server
(served in-process, tests/server/inprocess.py)."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from pyconvex.client import ConvexClient
from tests.server.inprocess import live_server

ADMIN = {"Authorization": "Convex test-admin-key"}
FILES_APP = Path(__file__).resolve().parents[1] / "fixtures" / "filesapp" / "convex"


def scrape(url: str, headers: dict[str, str] | None = ADMIN) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = httpx.get(f"{url}/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    out = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def value(metrics: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return metrics.get((name, tuple(sorted(labels.items()))), 0.0)


def mutation(url: str, path: str, args: dict[str, object]) -> dict[str, object]:
    body: dict[str, object] = httpx.post(f"{url}/api/mutation", json={"path": path, "args": args}).json()
    return body


def test_metrics_move_with_calls_commits_sessions_and_workers(tmp_path: Path) -> None:
    with live_server(tmp_path / "db.sqlite3", actions=True) as served:
        url = served.url
        before = scrape(url)
        for i in range(3):
            assert mutation(url, "channels:create", {"name": f"c{i}"})["status"] == "success"
        a = mutation(url, "bank:open_account", {"owner": "a", "balance": 1})["value"]
        assert mutation(url, "bank:transfer_then_fail", {"src": a, "dst": a, "amount": 1})["status"] == "error"
        action = httpx.post(f"{url}/api/action", json={"path": "actions:make_channel_and_count",
                                                        "args": {"name": "from-action"}}).json()
        assert action["status"] == "success", action
        after = scrape(url)

        ok = {"path": "channels:create", "kind": "mutation", "status": "success"}
        assert value(after, "pyconvex_function_executions_total", **ok) - \
            value(before, "pyconvex_function_executions_total", **ok) == 4  # 3, and the action's
        called = {"path": "actions:make_channel_and_count", "kind": "action", "status": "success"}
        assert value(after, "pyconvex_function_executions_total", **called) == 1
        failed = {"path": "bank:transfer_then_fail", "kind": "mutation", "status": "failure"}
        assert value(after, "pyconvex_function_executions_total", **failed) == 1
        timed = {"path": "channels:create", "kind": "mutation"}
        assert value(after, "pyconvex_function_duration_seconds_count", **timed) == 4
        assert value(after, "pyconvex_function_duration_seconds_bucket", le="+Inf", **timed) == 4
        assert value(after, "pyconvex_function_duration_seconds_sum", **timed) > 0
        # 3 channels, 1 account, and the action's channel: five commits, each timed
        assert value(after, "pyconvex_commits_total") - value(before, "pyconvex_commits_total") >= 5
        assert value(after, "pyconvex_commit_duration_seconds_count") - \
            value(before, "pyconvex_commit_duration_seconds_count") == 5
        assert value(after, "pyconvex_action_workers_started_total") >= 1
        assert value(after, "pyconvex_action_workers_busy") == 0
        assert value(after, "pyconvex_committer_queue_depth") == 0
        assert ("pyconvex_occ_retries_total", ()) in after
        assert value(after, "pyconvex_database_size_bytes") > 0
        assert value(after, "pyconvex_scheduler_lag_seconds") == 0

        assert value(after, "pyconvex_websocket_sessions") == 0
        client = ConvexClient(url)
        first, changed = threading.Event(), threading.Event()

        def follow() -> None:
            for result in client.subscribe("channels:list", {}):
                first.set()
                if any(channel["name"] == "pushed" for channel in result):
                    changed.set()

        threading.Thread(target=follow, daemon=True).start()
        assert first.wait(10)
        live = scrape(url)
        assert value(live, "pyconvex_websocket_sessions") == 1
        assert value(live, "pyconvex_subscriptions") == 1
        # The first result is no change: only a commit's push is a transition's latency.
        assert value(live, "pyconvex_transition_latency_seconds_count") == 0
        assert mutation(url, "channels:create", {"name": "pushed"})["status"] == "success"
        assert changed.wait(10)
        pushed = scrape(url)
        assert value(pushed, "pyconvex_transition_latency_seconds_count") == 1
        assert value(pushed, "pyconvex_transition_latency_seconds_bucket", le="+Inf") == 1
        assert value(pushed, "pyconvex_transition_latency_seconds_sum") > 0
        client.close()


def test_metrics_need_the_admin_key_unless_public(tmp_path: Path) -> None:
    with live_server(tmp_path / "db.sqlite3") as served:
        url = served.url
        assert httpx.get(f"{url}/metrics").status_code == 401
        wrong = httpx.get(f"{url}/metrics", headers={"Authorization": "Convex nope"})
        assert wrong.status_code == 401
    with live_server(tmp_path / "db.sqlite3", public_metrics=True) as served:
        url = served.url
        assert "pyconvex_commits_total" in {name for name, _ in scrape(url, headers=None)}


def test_file_storage_size_moves_with_an_upload(tmp_path: Path) -> None:
    with live_server(tmp_path / "db.sqlite3", FILES_APP) as served:
        url = served.url
        before = value(scrape(url), "pyconvex_file_storage_bytes")
        upload_url = mutation(url, "files:generate_upload_url", {})["value"]
        assert httpx.post(str(upload_url), content=b"x" * 5000).status_code == 200
        assert value(scrape(url), "pyconvex_file_storage_bytes") - before == 5000


def test_health_and_readiness(tmp_path: Path) -> None:
    with live_server(tmp_path / "db.sqlite3") as served:
        url = served.url
        assert httpx.get(f"{url}/health").json() == {"status": "ok"}
        ready = httpx.get(f"{url}/ready")
        assert ready.status_code == 200, ready.text
        checks = ready.json()["checks"]
        assert checks["database"] == "ok" and checks["committer"] == "ok"
        assert checks["functions"].endswith("loaded") and not checks["functions"].startswith("0 ")
    with live_server(tmp_path / "empty.sqlite3", functions=None) as served:  # nothing deployed yet
        url = served.url
        assert httpx.get(f"{url}/health").status_code == 200
        ready = httpx.get(f"{url}/ready")
        assert ready.status_code == 503 and ready.json()["status"] == "unavailable"
        assert "no code loaded" in ready.json()["checks"]["functions"]


def test_postgres_database_size_grows_with_data(tmp_path: Path) -> None:
    import asyncio

    from tests.pg import drop_schema, pg_url, schema_for

    schema = schema_for(tmp_path)
    try:
        with live_server(pg_url(schema)) as served:
            url = served.url
            before = value(scrape(url), "pyconvex_database_size_bytes")
            assert before > 0
            for i in range(50):
                mutation(url, "channels:create", {"name": "x" * 2000 + str(i)})
            after = scrape(url)
            assert value(after, "pyconvex_database_size_bytes") > before
            assert ("pyconvex_file_storage_bytes", ()) not in after  # no file store without --files
    finally:
        asyncio.run(drop_schema(schema))
