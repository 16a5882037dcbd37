"""Log streams: function executions (and the server's errors) delivered to a real HTTP
receiver and to a JSON-lines file, batched, retried, bounded; configured with
``serve --log-stream`` and with ``pyconvex log-streams`` (kept in the deployment)."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import orjson

from pyconvex.database import Database
from pyconvex.persistence import open_persistence
from pyconvex.server.log_streams import LogStreams, Sink, SinkConfig
from tests.conftest import free_port, start_server, stop_server
from tests.server.inprocess import live_server
from tests.server.receiver import receiver

ADMIN = {"Authorization": "Convex test-admin-key"}


def executions(events: list[dict[str, Any]], path: str) -> list[dict[str, Any]]:
    return [e for e in events if e["topic"] == "function_execution" and e["function"]["path"] == path]


def test_webhook_gets_each_execution_with_its_log_lines_usage_and_failure(tmp_path: Path) -> None:
    with receiver() as recv, live_server(
        tmp_path / "db.sqlite3", log_streams=[SinkConfig.parse(f"webhook:{recv.url}")]
    ) as served:
        url = served.url
        created = httpx.post(f"{url}/api/mutation",
                             json={"path": "channels:create", "args": {"name": "c"}}).json()
        cid = created["value"]
        sent = httpx.post(f"{url}/api/mutation", json={
            "path": "messages:send", "args": {"channelId": cid, "text": "hello"}})
        assert sent.json()["status"] == "success"
        listed = httpx.post(f"{url}/api/query", json={"path": "channels:list", "args": {}})
        assert listed.json()["status"] == "success"
        a = httpx.post(f"{url}/api/mutation", json={
            "path": "bank:open_account", "args": {"owner": "a", "balance": 5}}).json()["value"]
        failed = httpx.post(f"{url}/api/mutation", json={
            "path": "bank:transfer_then_fail", "args": {"src": a, "dst": a, "amount": 1}})
        assert failed.json()["status"] == "error"
        events = recv.wait_for(lambda ev: executions(ev, "bank:transfer_then_fail"))
    send = executions(events, "messages:send")[0]
    assert send["status"] == "success" and send["function"]["type"] == "mutation"
    assert send["function"]["request_id"] and send["execution_time_ms"] >= 0
    assert send["usage"]["database_write_documents"] == 1
    assert send["usage"]["database_write_bytes"] > 0
    query = executions(events, "channels:list")[0]
    assert query["function"]["type"] == "query" and query["usage"]["database_read_documents"] == 1
    assert query["usage"]["database_read_bytes"] > 0 and query["usage"]["database_write_documents"] == 0
    console = [e for e in events if e["topic"] == "console"
               and e["function"]["request_id"] == send["function"]["request_id"]]
    assert [(c["log_level"], c["message"]) for c in console] == [
        ("LOG", "'sending' 'hello'"), ("INFO", f"sent to {cid}")]
    failure = executions(events, "bank:transfer_then_fail")[0]
    assert failure["status"] == "failure" and "boom after the first write" in failure["error_message"]
    assert "RuntimeError" in failure["traceback"] and "transfer_then_fail" in failure["traceback"]


def test_a_failing_receiver_is_retried_and_events_are_batched(tmp_path: Path) -> None:
    with receiver() as recv:
        recv.fail_next = 2
        streams = [SinkConfig.parse(f"webhook:{recv.url}")]
        with live_server(tmp_path / "db.sqlite3", log_streams=streams) as served:
            url = served.url
            for i in range(20):
                httpx.post(f"{url}/api/mutation", json={"path": "channels:create", "args": {"name": f"c{i}"}})
            events = recv.wait_for(lambda ev: len(executions(ev, "channels:create")) == 20)
    assert recv.failed == 2  # the first two deliveries were refused, then retried
    assert len(executions(events, "channels:create")) == 20  # nothing lost, nothing twice
    assert len(recv.batches) < 20  # batched, not one request per execution


async def test_a_dead_receiver_costs_a_bounded_buffer_and_drops_are_counted() -> None:
    dead = f"http://127.0.0.1:{free_port()}/in"  # nothing listens there
    sink = Sink(SinkConfig("webhook", dead, batch_size=5, flush_interval_s=0.01, max_buffer=10,
                           max_attempts=2, initial_backoff_s=0.01), persistent=False)
    sink.start()
    try:
        for i in range(25):
            sink.offer({"topic": "console", "message": str(i)})
        assert sink.buffered <= 10 and sink.dropped >= 15  # the buffer never grows past max_buffer
        assert await sink.flushed(30)
        assert sink.dropped == 25 and sink.sent == 0 and sink.buffered == 0
        assert sink.last_error is not None and "Connect" in sink.last_error
    finally:
        await sink.close()


async def test_server_errors_are_streamed_and_the_streams_own_failures_are_not(tmp_path: Path) -> None:
    db = await Database.open(await open_persistence(f"sqlite:///{tmp_path / 'db.sqlite3'}"))
    out = tmp_path / "events.jsonl"
    streams = LogStreams(db, [SinkConfig("jsonl", str(out), flush_interval_s=0.01)])
    await streams.start()
    try:
        logging.getLogger("pyconvex.scheduler").error("a cron failed to start: %s", "no module")
        logging.getLogger("pyconvex.log_streams").warning("a sink dropped events")
        logging.getLogger("pyconvex.anything").info("below the streamed level")
        await asyncio.to_thread(logging.getLogger("pyconvex.persistence").warning, "from a thread")
        await asyncio.sleep(0)  # the thread's record is handed to the loop
        sink = next(iter(streams.sinks.values()))
        assert await sink.flushed(10)
    finally:
        await streams.stop()
        await db.close()
    events = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    assert [(e["topic"], e["level"], e["logger"], e["message"]) for e in events] == [
        ("server_log", "error", "pyconvex.scheduler", "a cron failed to start: no module"),
        ("server_log", "warning", "pyconvex.persistence", "from a thread")]


def test_log_format_json_prints_executions_on_stdout(tmp_path: Path) -> None:
    proc, url = start_server(tmp_path / "db.sqlite3", extra=["--log-format", "json"])
    try:
        httpx.post(f"{url}/api/mutation", json={"path": "channels:create", "args": {"name": "x"}})
        from tests.conftest import server_output

        deadline = 200
        while deadline and '"function_execution"' not in server_output(proc):
            deadline -= 1
            asyncio.run(asyncio.sleep(0.05))
        lines = [orjson.loads(line) for line in server_output(proc).splitlines() if line.startswith("{")]
    finally:
        stop_server(proc)
    done = [e for e in lines if e.get("topic") == "function_execution"]
    assert done and done[0]["function"]["path"] == "channels:create" and done[0]["status"] == "success"


def cli(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pyconvex.cli.main", "log-streams", *args,
                           "--url", url, "--admin-key", "test-admin-key"],
                          capture_output=True, text=True, env={**os.environ, "NO_COLOR": "1"}, timeout=60)


def test_cli_configured_stream_is_kept_in_the_deployment_across_restarts(tmp_path: Path) -> None:
    db = tmp_path / "db.sqlite3"
    with receiver() as recv:
        port = free_port()
        proc, url = start_server(db, port=port)
        try:
            added = cli(url, "add", "webhook", recv.url, "--header", "Authorization:Bearer s3cret",
                        "--flush-interval", "0.05")
            assert added.returncode == 0, added.stderr
            stream_id = added.stdout.split()[3]
            tested = cli(url, "test", stream_id)
            assert tested.returncode == 0, tested.stdout + tested.stderr
            assert recv.wait_for(lambda ev: any(e["topic"] == "verification" for e in ev))
            assert recv.headers[0]["authorization"] == "Bearer s3cret"
        finally:
            stop_server(proc)
        proc, url = start_server(db, port=port)  # a restart streams to the same place
        try:
            httpx.post(f"{url}/api/mutation", json={"path": "channels:create", "args": {"name": "after"}})
            recv.wait_for(lambda ev: executions(ev, "channels:create"))
            listed = cli(url, "list")
            assert stream_id in listed.stdout and "kept in the deployment" in listed.stdout
            assert cli(url, "remove", stream_id).returncode == 0
            assert cli(url, "list").stdout.strip() == "No log streams."
            missing = cli(url, "remove", stream_id)
            assert missing.returncode == 1 and "no log stream" in missing.stderr
        finally:
            stop_server(proc)


def test_bad_stream_configurations_are_refused_by_name(tmp_path: Path, server: str) -> None:
    bad = httpx.post(f"{server}/api/pyconvex/log_streams", json={"kind": "kafka", "target": "x"},
                     headers=ADMIN)
    assert bad.status_code == 400 and "kafka" in bad.json()["message"]
    bad = httpx.post(f"{server}/api/pyconvex/log_streams", json={"kind": "webhook", "target": "ftp://x"},
                     headers=ADMIN)
    assert bad.status_code == 400 and "http://" in bad.json()["message"]
    unknown = httpx.post(f"{server}/api/pyconvex/log_streams",
                         json={"kind": "jsonl", "target": "-", "batch": 3}, headers=ADMIN)
    assert unknown.status_code == 400 and "batch" in unknown.json()["message"]
    assert httpx.get(f"{server}/api/pyconvex/log_streams").status_code == 401
    served = subprocess.run([sys.executable, "-m", "pyconvex.cli.main", "serve", "--log-stream", "nope"],
                            capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert served.returncode == 1 and "KIND:TARGET" in served.stderr


def otlp_records(bodies: list[bytes]) -> list[tuple[dict[str, Any], Any]]:
    """(attributes, record) for every log record the OTLP receiver got, decoded with the
    official protobuf definitions, as a collector would."""
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

    out = []
    for body in bodies:
        request = ExportLogsServiceRequest.FromString(body)
        for resource in request.resource_logs:
            service = {a.key: a.value.string_value for a in resource.resource.attributes}
            assert service["service.name"] == "pyconvex"
            for scope in resource.scope_logs:
                for record in scope.log_records:
                    attrs = {}
                    for a in record.attributes:
                        kind = a.value.WhichOneof("value")
                        attrs[a.key] = getattr(a.value, kind)
                    out.append((attrs, record))
    return out


def test_opentelemetry_receiver_gets_otlp_http_logs(tmp_path: Path) -> None:
    with receiver() as recv:
        recv.fail_next = 1  # the first export is refused and retried
        streams = [SinkConfig.parse(f"otlp:{recv.otlp_url}")]
        with live_server(tmp_path / "db.sqlite3", log_streams=streams) as served:
            url = served.url
            created = httpx.post(f"{url}/api/mutation", json={"path": "channels:create", "args": {"name": "c"}})
            cid = created.json()["value"]
            httpx.post(f"{url}/api/mutation", json={"path": "messages:send",
                                                   "args": {"channelId": cid, "text": "otel"}})
            a = httpx.post(f"{url}/api/mutation", json={
                "path": "bank:open_account", "args": {"owner": "a", "balance": 5}}).json()["value"]
            httpx.post(f"{url}/api/mutation", json={
                "path": "bank:transfer_then_fail", "args": {"src": a, "dst": a, "amount": 1}})

            def failed_arrived() -> bool:
                return any(attrs.get("convex.function.path") == "bank:transfer_then_fail"
                           for attrs, _ in otlp_records(list(recv.otlp)))
            recv.wait_for(lambda _: failed_arrived())
    assert recv.failed == 1 and set(recv.otlp_types) == {"application/x-protobuf"}
    records = otlp_records(recv.otlp)
    console = [(attrs, r) for attrs, r in records if attrs.get("convex.topic") == "console"]
    line = next(r for attrs, r in console if attrs["convex.function.path"] == "messages:send")
    assert line.body.string_value == "'sending' 'otel'" and line.severity_text == "LOG"
    assert line.severity_number == 9 and line.time_unix_nano > 1_600_000_000 * 10**9
    done = next((attrs, r) for attrs, r in records if attrs.get("convex.topic") == "function_execution"
                and attrs["convex.function.path"] == "messages:send")
    assert done[0]["convex.status"] == "success" and done[0]["convex.usage.database_write_documents"] == 1
    assert done[1].body.string_value.startswith("mutation messages:send success in ")
    failure = next((attrs, r) for attrs, r in records
                   if attrs.get("convex.function.path") == "bank:transfer_then_fail"
                   and attrs.get("convex.topic") == "function_execution")
    assert failure[1].severity_text == "ERROR" and failure[1].severity_number == 17
    assert "boom after the first write" in failure[0]["exception.message"]
    assert "RuntimeError" in failure[0]["exception.stacktrace"]
