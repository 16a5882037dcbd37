"""File upload through the official npm client's documented flow."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import start_server, stop_server

SCRIPT = Path(__file__).parent / "npm" / "upload.mjs"
APP = Path(__file__).resolve().parents[1] / "fixtures" / "filesapp" / "convex"


@pytest.fixture
def files_server(tmp_path: Path) -> Iterator[str]:
    proc, url = start_server(tmp_path / "db.sqlite3", APP)
    try:
        yield url
    finally:
        stop_server(proc)


def test_official_client_upload_flow(files_server: str, node_modules: Path) -> None:
    proc = subprocess.run(["node", str(SCRIPT), files_server], capture_output=True, text=True,
                          timeout=120, cwd=node_modules.parent)
    out = json.loads([line for line in proc.stdout.splitlines() if line.startswith("{")][-1])
    assert "error" not in out, out["error"]
    assert out["same"] is True and out["contentType"] == "image/png"
    assert out["reusedStatus"] == 401  # single use
