"""``pyconvex deploy``: code swaps atomically, sessions stay, and the code is kept."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from pathlib import Path

from pyconvex.client import ConvexClient
from tests.cli.devproc import CLI
from tests.conftest import start_server, stop_server

FUNCTIONS_V1 = '''from pyconvex import mutation, query, v

@query(args={})
async def greeting(ctx):
    return "hello v1"

@mutation(args={"name": v.string()})
async def add(ctx, name):
    await ctx.db.insert("people", {"name": name})
'''


def _deploy(functions: Path, url: str, key: str = "test-admin-key") -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, "deploy", "--functions", str(functions), "--url", url,
                           "--admin-key", key], capture_output=True, text=True, timeout=60)


def test_deploy_swaps_code_without_dropping_sessions_and_persists(tmp_path: Path) -> None:
    functions = tmp_path / "convex"
    functions.mkdir()
    (functions / "hello.py").write_text(FUNCTIONS_V1)
    db = tmp_path / "db.sqlite3"
    proc, url = start_server(db, functions)
    try:
        client = ConvexClient(url)
        results: list[str] = []
        seen_v2 = threading.Event()

        def follow() -> None:
            for value in client.subscribe("hello:greeting", {}):
                results.append(value)
                if value == "hello v2":
                    seen_v2.set()
                    return

        threading.Thread(target=follow, daemon=True).start()
        # a deploy with a syntax error is refused and changes nothing
        broken = tmp_path / "broken"
        shutil.copytree(functions, broken)
        (broken / "hello.py").write_text(FUNCTIONS_V1 + "\ndef oops(:\n")
        refused = _deploy(broken, url)
        assert refused.returncode == 1 and "hello.py" in refused.stderr and "SyntaxError" in refused.stderr
        assert _deploy(functions, url, key="wrong").returncode == 1
        (functions / "hello.py").write_text(FUNCTIONS_V1.replace("hello v1", "hello v2"))
        deployed = _deploy(functions, url)
        assert deployed.returncode == 0, deployed.stderr
        assert "Deployed 2 functions" in deployed.stdout
        assert seen_v2.wait(10), results  # the same session got the new code's result
        assert results[0] == "hello v1"
        client.close()
    finally:
        stop_server(proc)
    # restarted without --functions: serves the deployed code from the database
    proc, url = start_server(db, functions=None)
    try:
        out = subprocess.run([*CLI, "run", "hello:greeting", "--url", url, "--admin-key",
                              "test-admin-key"], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout) == "hello v2"
    finally:
        stop_server(proc)
