"""The official npm `convex` client (pinned in package.json) against pyconvex serve."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).parent / "npm" / "client.mjs"


def test_npm_http_and_websocket_clients(server: str, node_modules: Path):
    proc = subprocess.run(
        ["node", str(SCRIPT), server], capture_output=True, text=True, timeout=120,
        cwd=node_modules.parent,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    assert lines, f"no result from node: {proc.stdout}\n{proc.stderr}"
    out = json.loads(lines[-1])
    assert "error" not in out, out["error"]
    assert proc.returncode == 0
    assert out["httpChannels"] == ["general"]
    assert out["httpConvexError"] == {"code": "EmptyMessage"}
    assert out["wsConvexError"] == {"code": "EmptyMessage"}
    assert out["updateLatencyMs"] < 1000  # a subscriber sees another client's write within 1 s
    assert out["wsMutationId"] == "string"
    assert out["wsAction"]["count"] == 2
    assert out["pairFinal"] == [21, 21]
    assert out["mixed"] == 0 and out["pairUpdates"] > 0
