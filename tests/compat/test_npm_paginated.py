"""Live pagination with the official npm client (`onPaginatedUpdate_experimental`, Node).

The chat example's ``messages:list`` (newest first), served by ``pyconvex serve``. The
cases a user saw break before pages were pinned by the query journal: an insert after two
pages were loaded, three inserts into a fully loaded list, a delete inside the first page;
then a page growing past twice ``initialNumItems`` (the client splits it) and a server
restart in the middle (the client re-subscribes every page with its journal).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import free_port, start_server, stop_server

SCRIPT = Path(__file__).parent / "npm" / "paginated.mjs"
CHAT = Path(__file__).resolve().parents[2] / "examples" / "chat" / "convex"


@pytest.fixture
def outcomes(tmp_path: Path, node_modules: Path) -> Iterator[dict[str, dict]]:
    db = tmp_path / "chat.sqlite3"
    port = free_port()
    server, url = start_server(db, CHAT, port=port)
    node = subprocess.Popen(
        ["node", str(SCRIPT), url], cwd=node_modules.parent, text=True,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    seen: dict[str, dict] = {}
    try:
        assert node.stdout is not None and node.stdin is not None
        for line in node.stdout:
            if not line.startswith("{"):
                continue
            out = json.loads(line)
            if out.get("restart"):
                stop_server(server)
                server, _ = start_server(db, CHAT, port=port)
                node.stdin.write("go\n")
                node.stdin.flush()
            elif "case" in out:
                seen[out["case"]] = out
            elif "error" in out:
                pytest.fail(out["error"])
            elif out.get("done"):
                break
        assert node.wait(timeout=60) == 0, node.stderr.read() if node.stderr else ""
        yield seen
    finally:
        if node.poll() is None:
            node.kill()
            node.wait()
        for stream in (node.stdin, node.stdout, node.stderr):
            if stream is not None:
                stream.close()
        stop_server(server)


def test_live_pages_with_the_npm_client(outcomes: dict[str, dict]) -> None:
    r = [f"r{i}" for i in range(5)][::-1]  # newest first: r4 .. r0
    assert outcomes["insert"]["results"] == ["NEW", *r]  # r3 stays
    full = outcomes["full"]
    assert full["before"] == ["r2", "r1", "r0"]
    assert full["results"] == ["N3", "N2", "N1", "r2", "r1", "r0"]  # the oldest row stays
    assert full["status"] == "Exhausted"  # and "load more" stays off
    assert outcomes["delete"]["results"] == ["r4", "r2", "r1", "r0"]  # nothing twice
    split = outcomes["split"]
    assert split["results"] == ["N3", "N2", "N1", *r]
    assert split["pagesAfter"] == split["pagesBefore"] + 1  # the grown page became two
    reconnect = outcomes["reconnect"]
    assert reconnect["before"] == ["NEW", *r]
    assert reconnect["results"] == ["AFTER", "NEW", *r]  # pinned pages survive the restart
    for case in outcomes.values():
        assert case["errors"] == []
