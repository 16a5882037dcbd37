"""``pyconvex deploy`` is not silent while a schema push backfills a new index: a bar per
index from the server's progress board while the request runs, and each backfill's
count when it is done (also for one that ran between two looks)."""

from __future__ import annotations

import logging
import os
import subprocess
from pathlib import Path

import httpx

from pyconvex.cli.commands.deploy import BackfillBars
from pyconvex.cli.target import Target
from pyconvex.database.progress import ProgressLog, progress_board
from tests.cli.devproc import CLI
from tests.conftest import start_server, stop_server
from tests.server.inprocess import ADMIN_KEY, live_server

NOTES = '''from pyconvex import mutation, query, v

@mutation(args={"count": v.number()})
async def add_many(ctx, count):
    for i in range(int(count)):
        await ctx.db.insert("notes", {"n": i})
'''
SCHEMA = '''from pyconvex import define_schema, define_table, v

schema = define_schema({"notes": define_table({"n": v.number()}).index("by_n", ["n"])})
'''


def test_deploy_reports_each_index_it_backfilled(tmp_path: Path) -> None:
    functions = tmp_path / "convex"
    functions.mkdir()
    (functions / "notes.py").write_text(NOTES)
    proc, url = start_server(tmp_path / "db.sqlite3", functions)
    try:
        for _ in range(3):
            added = httpx.post(f"{url}/api/mutation", json={"path": "notes:add_many", "args": {"count": 1000}})
            assert added.json()["status"] == "success", added.text
        (functions / "schema.py").write_text(SCHEMA)
        deployed = subprocess.run(
            [*CLI, "deploy", "--functions", str(functions), "--url", url, "--admin-key", ADMIN_KEY],
            capture_output=True, text=True, timeout=120, env={**os.environ, "COLUMNS": "200"})
        assert deployed.returncode == 0, deployed.stderr
        out = deployed.stdout
        assert "Backfilling index notes.by_n" in out and "3000/3000" in out, out
        assert "added indexes notes.by_n (backfilled 3,000 documents)" in out, out
    finally:
        stop_server(proc)


def test_bars_follow_the_servers_progress_board(tmp_path: Path) -> None:
    with live_server(tmp_path / "db.sqlite3") as served:
        work = ProgressLog(logging.getLogger("test"), "backfilling index things.by_x", "documents",
                           board=progress_board(served.deployment.db), kind="index",
                           table="things", index="by_x", total=100)
        work.advance(40)
        bars = BackfillBars(Target(served.url, ADMIN_KEY))
        bars.poll()
        (task,) = bars.bar.tasks
        assert (task.description, task.completed, task.total) == ("Backfilling index things.by_x", 40, 100)
        work.advance(60)
        bars.poll()
        assert (task.completed, task.total) == (100, 100)
        work.done()
        # A server that refuses the look (here: a wrong key) leaves the deploy without bars.
        refused = BackfillBars(Target(served.url, "wrong-key"))
        refused.poll()
        assert not refused.polling and not refused.bar.tasks
