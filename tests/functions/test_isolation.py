"""Functions that cannot stall the deployment, over the wire against ``pyconvex serve``.

Actions run in worker processes and queries/mutations are metered (see
pyconvex/functions/isolation and runtime/limits.py). Nothing here times a request: each
check is an order of events (a fast query answered while blocking actions are still
running) or an outcome (stopped, wrote nothing, failed with this error).
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import FIXTURES, server_output, start_server, stop_server

pytestmark = pytest.mark.one_backend

APP = FIXTURES / "isolation" / "convex"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, str]]:
    tmp = tmp_path_factory.mktemp("isolation")
    proc, url = start_server(tmp / "db.sqlite3", APP)
    try:
        yield proc, url
    finally:
        stop_server(proc)


def call(url: str, kind: str, path: str, args: dict[str, Any] | None = None,
         timeout: float = 60) -> dict[str, Any]:
    response = httpx.post(f"{url}/api/{kind}", json={"path": path, "args": args or {},
                                                      "format": "json"}, timeout=timeout)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_a_query_keeps_answering_while_actions_block_and_spin(served: tuple[Any, str]) -> None:
    _, url = served
    finished: list[str] = []

    def run(path: str) -> None:
        body = call(url, "action", path, {"seconds": 12})
        assert body["status"] == "success", body
        finished.append(path)

    threads = [threading.Thread(target=run, args=(p,))
               for p in ["limits:busy"] * 4 + ["limits:block"] * 4]
    for t in threads:
        t.start()
    time.sleep(1.0)  # the actions are under way (each takes 12 s)
    answers = [call(url, "query", "limits:fast")["value"] for _ in range(10)]
    assert finished == [], "the fast queries waited for the actions to finish"
    assert answers == ["ok"] * 10
    for t in threads:
        t.join()
    assert sorted(finished) == sorted(["limits:busy"] * 4 + ["limits:block"] * 4)


@pytest.mark.parametrize("path", ["limits:spin", "limits:sleepy", "limits:awaits",
                                  "limits:swallows"])
def test_a_query_past_one_second_is_stopped(served: tuple[Any, str], path: str) -> None:
    _, url = served
    body = call(url, "query", path, {"seconds": 5})
    assert body["status"] == "error"
    assert f"{path}: function execution timed out" in body["errorMessage"]
    assert "1 s (the limit for queries)" in body["errorMessage"]
    assert call(url, "query", "limits:fast")["value"] == "ok"  # and the server serves on


def test_a_mutation_past_its_limit_is_stopped_and_writes_nothing(served: tuple[Any, str]) -> None:
    _, url = served
    before = call(url, "query", "limits:marks")["value"]
    body = call(url, "mutation", "limits:spin_after_write", {"seconds": 5})
    assert body["status"] == "error"
    assert "timed out" in body["errorMessage"] and "before committing anything" in body["errorMessage"]
    assert call(url, "query", "limits:marks")["value"] == before


def test_a_query_that_allocates_without_bound_is_stopped(served: tuple[Any, str]) -> None:
    _, url = served
    body = call(url, "query", "limits:hog")
    assert body["status"] == "error"
    assert "past its limit of 64 MiB" in body["errorMessage"]
    assert call(url, "query", "limits:fast")["value"] == "ok"


@pytest.mark.parametrize(("path", "args", "what"), [
    ("limits:write_file", {"path": "/tmp/pyconvex-must-not-exist"}, "writing a file"),
    ("limits:start_thread", {}, "starting a thread"),
    ("limits:run_subprocess", {}, "starting a subprocess"),
])
def test_side_effects_in_a_query_are_refused_by_name(
    served: tuple[Any, str], path: str, args: dict[str, Any], what: str
) -> None:
    _, url = served
    body = call(url, "query", path, args)
    assert body["status"] == "error"
    assert f"{path}: {what}" in body["errorMessage"]
    assert "not allowed in queries and mutations" in body["errorMessage"]
    assert not Path("/tmp/pyconvex-must-not-exist").exists()


def test_an_action_calls_back_into_the_deployment(served: tuple[Any, str]) -> None:
    _, url = served
    body = call(url, "action", "limits:calls_back")
    assert body["status"] == "success", body
    value = body["value"]
    assert "from-action" in value["labels"]
    assert value["upload"] is True and value["data"] == "hello" and value["who"] is None


def test_actions_run_outside_the_server_process(served: tuple[Any, str]) -> None:
    proc, url = served
    pid = call(url, "action", "limits:pid")["value"]
    assert pid != proc.pid
    assert Path(f"/proc/{pid}").exists()


def test_a_killed_worker_fails_its_action_and_the_deployment_serves_on(
    served: tuple[Any, str],
) -> None:
    _, url = served
    outcome: dict[str, Any] = {}

    def run() -> None:
        outcome.update(call(url, "action", "limits:report_pid_then_block", {"seconds": 30}))

    thread = threading.Thread(target=run)
    thread.start()
    pid = None
    for _ in range(200):
        labels = call(url, "query", "limits:marks")["value"]
        pids = [int(label[4:]) for label in labels if label.startswith("pid:")]
        if pids:
            pid = pids[-1]
            break
        time.sleep(0.05)
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    thread.join(30)
    assert outcome["status"] == "error"
    assert "killed by signal SIGKILL" in outcome["errorMessage"]
    assert "limits:report_pid_then_block" in outcome["errorMessage"]
    assert outcome["logLines"] == []  # the server's own record is not the action's log
    assert call(url, "query", "limits:fast")["value"] == "ok"
    assert call(url, "action", "limits:pid")["status"] == "success"


def test_an_action_past_its_memory_limit_is_stopped(tmp_path: Path) -> None:
    proc, url = start_server(tmp_path / "db.sqlite3", APP,
                             extra=["--action-memory", "64", "--action-timeout", "3"])
    try:
        body = call(url, "action", "limits:hog_action")
        assert body["status"] == "error"
        assert "past its limit of 64 MiB" in body["errorMessage"]
        body = call(url, "action", "limits:block", {"seconds": 10})
        assert body["status"] == "error"
        assert "ran for more than 3 s (the limit for actions)" in body["errorMessage"]
        assert call(url, "action", "limits:pid")["status"] == "success"
    finally:
        stop_server(proc)


def test_a_failure_leaves_its_traceback_path_and_request_id_in_the_server_log(
    served: tuple[Any, str],
) -> None:
    proc, url = served
    body = call(url, "action", "limits:action_fails", {"key": "b"})
    assert body["status"] == "error"
    request_id = body["errorMessage"].split("Request ID: ")[1].split("]")[0]
    assert body["errorMessage"] == f"[Request ID: {request_id}] Server Error"
    records = []
    for _ in range(100):
        records = [json.loads(line) for line in server_output(proc).splitlines()
                   if line.startswith("{") and request_id in line]
        if records:
            break
        time.sleep(0.05)
    assert len(records) == 1
    record = records[0]
    assert record["path"] == "limits:action_fails" and record["kind"] == "action"
    assert record["requestId"] == request_id and record["level"] == "error"
    assert "limits.py\", line" in record["traceback"] and "in action_fails" in record["traceback"]
    assert record["traceback"].rstrip().endswith("KeyError: 'b'")
    assert record["logLines"] == ["[LOG] 'about to fail'"]

    entries = httpx.get(f"{url}/api/pyconvex/logs", params={"after": 0},
                        headers={"Authorization": "Convex test-admin-key"}).json()["entries"]
    logged = [e for e in entries if e.get("requestId") == request_id]
    assert logged and "in action_fails" in logged[0]["traceback"]


def test_an_http_action_runs_in_a_worker_and_its_failure_is_logged(
    served: tuple[Any, str],
) -> None:
    proc, _ = served
    site = _site_url(proc)
    echoed = httpx.post(f"{site}/echo", content=b"hello")
    assert echoed.status_code == 200 and echoed.text == "HELLO"
    assert echoed.headers["x-echo"] == "yes"
    broken = httpx.get(f"{site}/broken")
    assert broken.status_code == 500
    request_id = broken.headers["x-request-id"]
    for _ in range(100):
        if request_id in server_output(proc):
            break
        time.sleep(0.05)
    line = next(line for line in server_output(proc).splitlines() if request_id in line)
    record = json.loads(line)
    assert record["kind"] == "http" and "in broken" in record["traceback"]


def _site_url(proc: Any) -> str:
    args = proc.args
    return f"http://127.0.0.1:{args[args.index('--site-port') + 1]}"


@pytest.mark.parametrize(("start", "path", "message"), [
    (("mutation", "limits:schedule_failure", {}), "limits:fails_later", "a scheduled job broke"),
    (("mutation", "limits:mark", {"label": "cron:fail"}), "limits:cron_check", "the cron broke"),
])
def test_scheduled_and_cron_failures_are_logged_with_their_traceback(
    served: tuple[Any, str], start: tuple[str, str, dict[str, Any]], path: str, message: str,
) -> None:
    proc, url = served
    kind, first, args = start
    body = httpx.post(f"{url}/api/{kind}", json={"path": first, "args": args},
                      headers={"Authorization": "Convex test-admin-key"}).json()
    assert body["status"] == "success", body
    record = None
    for _ in range(200):
        found = [json.loads(line) for line in server_output(proc).splitlines()
                 if line.startswith("{") and f'"path":"{path}"' in line]
        if found:
            record = found[0]
            break
        time.sleep(0.05)
    assert record is not None, server_output(proc)[-2000:]
    assert record["kind"] == "mutation" and record["requestId"]
    assert f"RuntimeError: {message}" in record["traceback"] and "limits.py" in record["traceback"]


def test_each_execution_record_carries_its_usage(served: tuple[Any, str]) -> None:
    _, url = served
    admin = {"Authorization": "Convex test-admin-key"}
    last = httpx.get(f"{url}/api/pyconvex/logs", params={"after": -1}, headers=admin).json()["last"]
    httpx.post(f"{url}/api/mutation", json={"path": "limits:mark", "args": {"label": "usage"}},
               headers=admin)
    assert call(url, "query", "limits:marks")["status"] == "success"
    entries = httpx.get(f"{url}/api/pyconvex/logs", params={"after": last},
                        headers=admin).json()["entries"]
    by_path = {e["path"]: e for e in entries}
    wrote, read = by_path["limits:mark"], by_path["limits:marks"]
    assert wrote["usage"]["documentsWritten"] == 1 and wrote["usage"]["bytesWritten"] > 0
    assert read["usage"]["documentsRead"] >= 1 and read["usage"]["bytesRead"] > 0
    assert read["durationMs"] >= 0 and read["requestId"] and read["error"] is None
