"""Two ``pyconvex serve`` processes on one PostgreSQL database: consistent and reactive."""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from pyconvex.client import ConvexClient
from tests.conftest import start_server, stop_server


@pytest.fixture
def two(make_db_url, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[object, str, object, str]]:  # type: ignore[no-untyped-def]
    from tests.pg import base_url

    monkeypatch.setenv("PYCONVEX_TEST_DATABASE_URL", base_url())
    url = make_db_url("shared")
    a, url_a = start_server(url)
    try:
        b, url_b = start_server(url)
    except BaseException:
        stop_server(a)
        raise
    try:
        yield a, url_a, b, url_b
    finally:
        stop_server(a)
        stop_server(b)


def _mutation(url: str, path: str, args: dict[str, object]) -> object:
    body = httpx.post(f"{url}/api/mutation", json={"path": path, "args": args}, timeout=30).json()
    assert body["status"] == "success", body
    return body["value"]


def _query(url: str, path: str, args: dict[str, object]) -> object:
    body = httpx.post(f"{url}/api/query", json={"path": path, "args": args}, timeout=30).json()
    assert body["status"] == "success", body
    return body["value"]


def test_a_subscriber_on_a_sees_a_mutation_sent_through_b(two) -> None:  # type: ignore[no-untyped-def]
    _, url_a, _, url_b = two
    client = ConvexClient(url_a)
    seen: list[float] = []
    ready = threading.Event()
    done = threading.Event()

    def follow() -> None:
        for channels in client.subscribe("channels:list", {}):
            if not ready.is_set():
                ready.set()
                continue
            if any(c["name"] == "from-b" for c in channels):
                seen.append(time.monotonic())
                done.set()
                return

    threading.Thread(target=follow, daemon=True).start()
    assert ready.wait(10)
    sent = time.monotonic()
    _mutation(url_b, "channels:create", {"name": "from-b"})
    assert done.wait(5)
    assert seen[0] - sent < 1.0  # within a second, across processes
    client.close()


def test_concurrent_transfers_over_both_processes_keep_the_total(two) -> None:  # type: ignore[no-untyped-def]
    _, url_a, _, url_b = two
    accounts = [str(_mutation(url_a, "bank:open_account", {"owner": f"o{i}", "balance": 100.0}))
                for i in range(5)]
    rng = random.Random(7)
    plan = [(rng.choice((url_a, url_b)), *rng.sample(accounts, 2)) for _ in range(200)]

    def transfer(step: tuple[str, str, str]) -> None:
        url, src, dst = step
        _mutation(url, "bank:transfer", {"src": src, "dst": dst, "amount": 1.0})

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(transfer, plan))
    assert _query(url_a, "bank:total", {}) == 500.0
    assert _query(url_b, "bank:total", {}) == 500.0
    balances_a = _query(url_a, "bank:balances", {})
    assert balances_a == _query(url_b, "bank:balances", {})


def test_kill_9_of_one_process_loses_no_acknowledged_mutation(two) -> None:  # type: ignore[no-untyped-def]
    a, url_a, _, url_b = two
    acknowledged: list[str] = []
    stop = threading.Event()

    def load(url: str, prefix: str) -> None:
        n = 0
        while not stop.is_set():
            n += 1
            try:
                _mutation(url, "channels:create", {"name": f"{prefix}{n}"})
            except (httpx.HTTPError, AssertionError):
                return  # the process died under us: this one was not acknowledged
            acknowledged.append(f"{prefix}{n}")

    workers = [threading.Thread(target=load, args=(u, p)) for u, p in
               ((url_a, "a"), (url_a, "aa"), (url_b, "b"), (url_b, "bb"))]
    for w in workers:
        w.start()
    time.sleep(1.0)
    os.kill(a.pid, signal.SIGKILL)  # type: ignore[attr-defined]
    time.sleep(0.5)
    stop.set()
    for w in workers:
        w.join(30)
    names = {c["name"] for c in _query(url_b, "channels:list", {})}  # type: ignore[union-attr]
    missing = [n for n in acknowledged if n not in names]
    assert not missing, f"{len(missing)} acknowledged mutations lost: {missing[:5]}"
    assert any(n.startswith("b") for n in acknowledged) and any(n.startswith("a") for n in acknowledged)
    _mutation(url_b, "channels:create", {"name": "after the kill"})  # the other keeps serving


def test_two_processes_never_run_a_scheduled_job_twice(make_db_url, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from pathlib import Path

    from tests.pg import base_url

    app = Path(__file__).resolve().parents[1] / "fixtures" / "schedapp" / "convex"
    monkeypatch.setenv("PYCONVEX_TEST_DATABASE_URL", base_url())
    url = make_db_url("sched")
    a, url_a = start_server(url, app)
    b, url_b = start_server(url, app)
    try:
        for i in range(40):  # both executors see every job due at once
            _mutation(url_a if i % 2 else url_b, "tasks:schedule",
                      {"delay": 300, "text": f"job{i}"})
        _mutation(url_a, "tasks:schedule_action", {"delay": 300, "text": "once"})
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            log = _query(url_a, "tasks:log", {})
            if len([t for t in log if t.startswith(("job", "action:"))]) >= 41:  # type: ignore[union-attr]
                break
            time.sleep(0.2)
        time.sleep(1.0)  # anything run twice would show up by now
        log = [t for t in _query(url_b, "tasks:log", {}) if t.startswith(("job", "action:"))]  # type: ignore[union-attr]
        assert sorted(log) == sorted([f"job{i}" for i in range(40)] + ["action:once"])
    finally:
        stop_server(a)
        stop_server(b)


def test_deploy_and_env_through_one_process_reach_the_other(two, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import subprocess
    import sys

    _, url_a, _, url_b = two
    functions = tmp_path / "convex"
    functions.mkdir()
    (functions / "hello.py").write_text(
        "import os\nfrom pyconvex import query\n\n@query\nasync def hi(ctx):\n"
        "    return 'v2 ' + os.environ.get('GREETING', '-')\n"
    )
    admin = ["--url", url_b, "--admin-key", "test-admin-key"]
    cli = [sys.executable, "-m", "pyconvex.cli.main"]
    assert subprocess.run([*cli, "deploy", "--functions", str(functions), *admin],
                          capture_output=True, text=True, timeout=60).returncode == 0
    assert subprocess.run([*cli, "env", "set", "GREETING", "hello", *admin],
                          capture_output=True, text=True, timeout=60).returncode == 0
    deadline = time.monotonic() + 10
    answer = None
    while time.monotonic() < deadline:
        body = httpx.post(f"{url_a}/api/query", json={"path": "hello:hi", "args": {}}).json()
        answer = body.get("value")
        if answer == "v2 hello":
            break
        time.sleep(0.1)
    assert answer == "v2 hello"
