"""A scheduled mutation runs exactly once across a server killed with SIGKILL."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import httpx

from tests.conftest import start_server, stop_server

APP = Path(__file__).resolve().parents[1] / "fixtures" / "schedapp" / "convex"


def _call(url: str, kind: str, path: str, args: dict[str, object]) -> object:
    body = httpx.post(f"{url}/api/{kind}", json={"path": path, "args": args}, timeout=10).json()
    assert body["status"] == "success", body
    return body["value"]


def _admin_query(url: str, path: str, args: dict[str, object]) -> object:
    body = httpx.post(f"{url}/api/query", json={"path": path, "args": args}, timeout=10,
                      headers={"Authorization": "Convex test-admin-key"}).json()
    assert body["status"] == "success", body
    return body["value"]


def _kill(proc) -> None:  # type: ignore[no-untyped-def]
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    if proc.stdout:
        proc.stdout.close()


def test_scheduled_mutations_run_exactly_once_across_sigkill(tmp_path: Path) -> None:
    db = tmp_path / "db.sqlite3"
    proc, url = start_server(db, APP)
    # jobs due shortly before, around and after the kill
    ids = [_call(url, "mutation", "tasks:schedule", {"delay": delay, "text": f"job{delay}"})
           for delay in (0, 300, 600, 900, 1500)]
    time.sleep(0.45)  # the first jobs have run, the rest are pending
    _kill(proc)
    time.sleep(1.2)  # down across the due times of the middle jobs
    proc, url = start_server(db, APP)
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            states = [_admin_query(url, "tasks:job", {"id": i})["state"]["kind"] for i in ids]  # type: ignore[index]
            if all(s == "success" for s in states):
                break
            time.sleep(0.1)
        assert states == ["success"] * 5
        log = [t for t in _call(url, "query", "tasks:log", {}) if t.startswith("job")]  # type: ignore[union-attr]
        assert sorted(log) == sorted(f"job{d}" for d in (0, 300, 600, 900, 1500))  # each exactly once
        # and a second kill right after does not run anything again
        _kill(proc)
        proc, url = start_server(db, APP)
        time.sleep(0.5)
        again = [t for t in _call(url, "query", "tasks:log", {}) if t.startswith("job")]  # type: ignore[union-attr]
        assert sorted(again) == sorted(log)
    finally:
        stop_server(proc)


def test_one_process_and_so_one_executor_per_sqlite_file(tmp_path: Path) -> None:
    """On SQLite a second server on the same file is refused, so two executors can never
    claim one job (on PostgreSQL the committer's transaction is the arbiter)."""
    import subprocess
    import sys

    db = tmp_path / "db.sqlite3"
    proc, _ = start_server(db, APP)
    try:
        second = subprocess.run(
            [sys.executable, "-m", "pyconvex.cli.main", "serve", "--functions", str(APP),
             "--db", f"sqlite:///{db}", "--port", "0", "--site-port", "0"],
            capture_output=True, text=True, timeout=60,
        )
        assert second.returncode == 1
        assert "in use by another pyconvex process" in second.stderr
    finally:
        stop_server(proc)
