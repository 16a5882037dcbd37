"""Stopping ``pyconvex serve``: open long polls end at once instead of holding Ctrl-C.

A real process, because what is checked is its answer to a signal."""

from __future__ import annotations

import signal
import subprocess
import threading
from pathlib import Path

import httpx

from tests.conftest import start_server, stop_server

ADMIN = {"Authorization": "Convex test-admin-key"}


def test_ctrl_c_ends_a_followed_log_at_once(tmp_path: Path) -> None:
    proc, url = start_server(tmp_path / "db.sqlite3")
    answers: list[httpx.Response] = []
    try:
        last = httpx.get(f"{url}/api/pyconvex/logs", params={"after": -1}, headers=ADMIN).json()["last"]
        # followed as `pyconvex logs` and the dashboard do: up to 30 s with nothing new
        follow = threading.Thread(target=lambda: answers.append(httpx.get(
            f"{url}/api/pyconvex/logs", params={"after": last, "wait": 30}, headers=ADMIN,
            timeout=60)))
        follow.start()
        threading.Event().wait(0.5)  # the request open on the server
        proc.send_signal(signal.SIGINT)
        try:
            code = proc.wait(20)  # within the poll's own 30 s: it did not hold the stop
        except subprocess.TimeoutExpired:
            raise AssertionError("the server was still waiting for the log follower") from None
        follow.join(10)
        assert code == 0
        assert [a.status_code for a in answers] == [200]
        assert answers[0].json()["entries"] == []
    finally:
        stop_server(proc)
