"""The dashboard's live data over the sync protocol, with the official npm client: an
admin ``ConvexClient`` subscribes to ``_system/frontend/*`` queries (the grid page, a
filtered page, the table size) and gets a transition when another client's commit
changes them; time travel reads the page as it was; a client without the admin key is
refused every ``_system`` query."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.conftest import start_server, stop_server

SCRIPT = Path(__file__).parent / "npm" / "system_queries.mjs"


def test_admin_subscriptions_follow_commits_and_others_are_refused(
    tmp_path: Path, node_modules: Path
) -> None:
    server, url = start_server(tmp_path / "db.sqlite3")
    try:
        done = subprocess.run(["node", str(SCRIPT), url, "test-admin-key"], cwd=node_modules.parent,
                              capture_output=True, text=True, timeout=120)
    finally:
        stop_server(server)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert lines, done.stderr
    out = json.loads(lines[-1])
    assert done.returncode == 0, (out.get("failure"), done.stderr)
    assert out["before"] == ["a", "b", "c"]
    assert out["after"] == ["a", "b", "c", "d"]  # the live grid got the insert
    assert (out["sizeBefore"], out["sizeAfter"]) == (3, 4)
    assert out["filteredBefore"] == [] and out["filteredAfter"] == ["d"]
    assert out["plan"]["index"] == "by_name" and out["plan"]["usesIndex"] is True
    assert out["asOf"] == ["a", "b", "c"]  # as of before the insert
    assert out["replaceStatus"] == 200
    assert out["changed"] == ["b", "c", "d", "z"]  # a document on the page changed
    assert out["indexes"] == [{"name": "by_name", "fields": ["name"], "staged": False,
                               "backfill": {"state": "done"}}]
    assert out["errors"] == []
    assert "Could not find public function for '_system/frontend/paginatedTableDocuments'" in out["anonymousError"]
    assert out["anonymousValue"] is None
    assert "Could not find public function for '_system/frontend/tableSize'" in out["anonymousQuery"]
