"""migrate-storage: a SQLite deployment copied to PostgreSQL reads the same everywhere."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from pyconvex.deployment import Deployment
from pyconvex.persistence.postgres import drop_schema
from pyconvex.values import convex_to_json
from tests.pg import pg_url, schema_for

APP = Path(__file__).resolve().parents[1] / "fixtures" / "app" / "convex"


async def _snapshot(d: Deployment) -> dict[str, list[object]]:
    txn = d.db.begin(writable=False, limits=None)
    return {t.name: [convex_to_json(doc) async for _, doc in txn.scan(t.by_id, b"", None)]
            for t in txn.catalog.user_tables()}


@pytest.mark.one_backend  # the source is a SQLite deployment; the target is PostgreSQL
async def test_migrate_storage_copies_and_verifies(tmp_path: Path) -> None:
    source = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    d = await Deployment.open(source, APP)
    cid = (await d.runner.run_mutation("channels:create", {"name": "general"})).value
    for i in range(30):
        await d.runner.run_mutation("messages:send", {"channelId": cid, "text": f"m{i}"})
    await d.runner.run_mutation("channels:create", {"name": "random"})
    expected = await _snapshot(d)
    expected_ts = d.db.latest_ts
    await d.close()
    target = pg_url(schema_for(tmp_path / "migrate"))
    try:
        cli = [sys.executable, "-m", "pyconvex.cli.main", "migrate-storage", "--from", source, "--to", target]
        done = subprocess.run(cli, capture_output=True, text=True, timeout=120,
                              env={**os.environ, "COLUMNS": "200"})
        assert done.returncode == 0, done.stderr
        assert "counts and checksums match" in done.stdout
        # The bars (issue: long work is never silent), full by the end.
        assert "Copying documents" in done.stdout and "Copying indexes" in done.stdout
        documents = re.search(r"Copied (\d+) document versions", done.stdout)
        assert documents is not None and f"{documents[1]}/{documents[1]}" in done.stdout
        again = subprocess.run(cli, capture_output=True, text=True, timeout=120)
        assert again.returncode == 1 and "not empty" in again.stderr
        moved = await Deployment.open(target, APP)
        try:
            assert moved.db.latest_ts == expected_ts  # the same schema: opening writes nothing
            assert await _snapshot(moved) == expected
            listed = (await moved.runner.run_query("messages:list", {"channelId": cid})).value
            assert [m["text"] for m in listed][:2] == ["m29", "m28"]  # indexes came along
            await moved.runner.run_mutation("channels:create", {"name": "after"})  # and it commits
        finally:
            await moved.close()
    finally:
        await drop_schema(target)
