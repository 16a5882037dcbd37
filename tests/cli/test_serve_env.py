"""``pyconvex serve`` configured from the environment, as the container image runs it:
database, files, admin key, functions and public URL."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import httpx

from tests.cli.devproc import CLI
from tests.conftest import free_port

FILES_APP = Path(__file__).resolve().parents[1] / "fixtures" / "filesapp" / "convex"


def test_serve_reads_its_settings_from_the_environment(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "PYCONVEX_DB": f"sqlite:///{tmp_path / 'data' / 'db.sqlite3'}",
           "PYCONVEX_FILES": str(tmp_path / "files"), "PYCONVEX_ADMIN_KEY": "from-env",
           "PYCONVEX_FUNCTIONS": str(FILES_APP), "PYCONVEX_PUBLIC_URL": "https://api.example.com"}
    (tmp_path / "data").mkdir()
    proc = subprocess.Popen([*CLI, "serve", "--port", str(port), "--site-port", "0"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if httpx.get(f"{url}/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            time.sleep(0.05)
        assert httpx.get(f"{url}/ready").status_code == 200
        admin = httpx.get(f"{url}/api/pyconvex/tables", headers={"Authorization": "Convex from-env"})
        assert admin.status_code == 200
        # (The first action starts the worker processes: on a busy machine that can take
        # longer than httpx's 5-second default.)
        stored = httpx.post(f"{url}/api/action", json={"path": "files:store_text", "args": {"text": "hi"}},
                            timeout=60).json()
        file_url = httpx.post(f"{url}/api/query", json={"path": "files:url",
                                                        "args": {"storageId": stored["value"]}}).json()["value"]
        assert file_url == f"https://api.example.com/api/storage/{stored['value']}"
        assert (tmp_path / "data" / "db.sqlite3").exists()
        assert any((tmp_path / "files" / "blobs").rglob("*"))
    finally:
        proc.terminate()
        proc.wait(20)
        if proc.stdout:
            proc.stdout.close()
