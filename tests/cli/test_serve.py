"""``pyconvex serve`` refuses a busy port before starting, naming the option to change."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

from tests.cli.devproc import CLI
from tests.conftest import APP, free_port


def test_a_busy_site_port_names_site_port(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        result = subprocess.run(
            [*CLI, "serve", "--functions", str(APP), "--db", f"sqlite:///{tmp_path / 'db.sqlite3'}",
             "--port", str(free_port()), "--site-port", str(taken)],
            capture_output=True, text=True, timeout=60,
        )
    assert result.returncode == 1
    assert f"Port {taken} on 127.0.0.1 is already in use" in result.stderr
    assert "pass another --site-port." in result.stderr


def test_a_busy_port_names_port(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        result = subprocess.run(
            [*CLI, "serve", "--functions", str(APP), "--db", f"sqlite:///{tmp_path / 'db.sqlite3'}",
             "--port", str(taken), "--site-port", str(free_port())],
            capture_output=True, text=True, timeout=60,
        )
    assert result.returncode == 1
    assert "pass another --port." in result.stderr
