"""``pyconvex export`` / ``pyconvex import`` as an operator uses them: a deployment with
uploaded files exported from SQLite and restored into an empty PostgreSQL one, every
document and every file byte for byte; long imports say what they are doing; an import
into a non-empty deployment is refused before anything is uploaded."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
import zipfile
from pathlib import Path

import httpx
import orjson

from pyconvex.values import encode_id
from tests.cli.devproc import CLI
from tests.conftest import server_output, start_server, stop_server
from tests.pg import drop_schema, pg_url, schema_for

FILES_APP = Path(__file__).resolve().parents[1] / "fixtures" / "filesapp" / "convex"
ADMIN_KEY = "test-admin-key"


def call(url: str, kind: str, path: str, args: dict[str, object]) -> object:
    body = httpx.post(f"{url}/api/{kind}", json={"path": path, "args": args}, timeout=30).json()
    assert body["status"] == "success", body
    return body["value"]


def cli(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args, "--url", url, "--admin-key", ADMIN_KEY], capture_output=True,
                          text=True, timeout=600, env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200"})


def table(url: str, name: str) -> list[dict[str, object]]:
    body = httpx.get(
        f"{url}/api/pyconvex/data", params={"table": name, "limit": 10_000, "order": "asc"},
        headers={"Authorization": f"Convex {ADMIN_KEY}"}).json()
    if body.get("code") == "TableNotFound":
        return []
    docs: list[dict[str, object]] = body["documents"]
    return docs


def test_sqlite_deployment_with_files_restores_into_postgres(tmp_path: Path) -> None:
    files = {"a.txt": b"first file\n", "b.bin": os.urandom(200_000)}
    proc, url = start_server(tmp_path / "db.sqlite3", FILES_APP)
    try:
        ids = {}
        for name, data in files.items():
            upload = str(call(url, "mutation", "files:generate_upload_url", {}))
            sid = httpx.post(upload, content=data).json()["storageId"]
            call(url, "mutation", "files:save", {"storageId": sid, "name": name})
            ids[name] = sid
        uploads, storage = table(url, "uploads"), table(url, "_storage")
        snapshot = tmp_path / "backup.zip"
        exported = cli(url, "export", "--path", str(snapshot))
        assert exported.returncode == 0, exported.stderr
        assert "with 2 files (200011 bytes)" in exported.stdout
        assert "Writing the snapshot on the server" in exported.stderr
        assert "Downloading snapshot" in exported.stdout  # the bar, full by the end
    finally:
        stop_server(proc)
    schema = schema_for(tmp_path)
    proc, url = start_server(pg_url(schema), FILES_APP)  # no --files: nowhere to put them
    try:
        refused = cli(url, "import", str(snapshot))
        assert refused.returncode == 1 and "serve with --files DIR" in refused.stderr
        assert table(url, "uploads") == []
    finally:
        stop_server(proc)
    proc, url = start_server(pg_url(schema), FILES_APP, extra=["--files", str(tmp_path / "pg-files")])
    try:
        imported = cli(url, "import", str(snapshot))
        assert imported.returncode == 0, imported.stdout + imported.stderr
        assert "_storage: 2 files" in imported.stdout and "uploads: 2 documents" in imported.stdout
        assert table(url, "uploads") == uploads
        restored = table(url, "_storage")
        strip = [{k: v for k, v in d.items() if k != "internalId"} for d in storage]
        assert [{k: v for k, v in d.items() if k != "internalId"} for d in restored] == strip
        for name, data in files.items():
            got = httpx.get(str(call(url, "query", "files:url", {"storageId": ids[name]})))
            assert got.status_code == 200 and got.content == data
        again = cli(url, "import", str(snapshot))  # now the deployment is not empty
        assert again.returncode == 1
        assert "Table '_storage' already has documents" in again.stderr
        assert "Nothing was uploaded" in again.stderr and "Uploading" not in again.stdout
        replaced = cli(url, "import", str(snapshot), "--replace")
        assert replaced.returncode == 0, replaced.stderr
        assert table(url, "uploads") == uploads
    finally:
        stop_server(proc)
        asyncio.run(drop_schema(schema))


def test_a_long_import_reports_each_phase(tmp_path: Path) -> None:
    rows = 5000
    snapshot = tmp_path / "things.zip"
    with zipfile.ZipFile(snapshot, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("_tables/documents.jsonl", orjson.dumps({"name": "things", "id": 10_050}) + b"\n")
        archive.writestr("things/documents.jsonl", b"".join(
            orjson.dumps({"_id": encode_id(10_050, os.urandom(16)), "_creationTime": 1e12 + i, "i": i})
            + b"\n" for i in range(rows)))
    proc, url = start_server(tmp_path / "db.sqlite3", FILES_APP)
    try:
        imported = cli(url, "import", str(snapshot))
        assert imported.returncode == 0, imported.stderr
        out = imported.stdout
        assert "Uploading snapshot" in out
        assert "Writing things" in out and f"{rows}/{rows}" in out
        assert f"Committing {rows} documents" in out
        assert f"things: {rows} documents" in out
        assert len(table(url, "things")) == rows
        log = server_output(proc)  # the server's log says it too (pyconvex dev prints it)
        assert "import: things: 5,000 documents written" in log
        assert "import: committing 5,000 documents" in log and "import: done, 5,000 documents" in log
    finally:
        stop_server(proc)


def test_backup_keeps_the_newest_and_restores(tmp_path: Path) -> None:
    proc, url = start_server(tmp_path / "db.sqlite3", FILES_APP)
    folder = tmp_path / "backups"
    folder.mkdir()
    (folder / "notes.txt").write_text("not a backup")
    try:
        sid = str(call(url, "action", "files:store_text", {"text": "kept"}))
        for i in range(3):
            call(url, "mutation", "files:save", {"storageId": sid, "name": f"n{i}"})
            done = cli(url, "backup", "--to", str(folder), "--keep", "2")
            assert done.returncode == 0, done.stderr
            assert "wrote pyconvex-backup-" in done.stdout and "1 files" in done.stdout
        names = sorted(p.name for p in folder.iterdir())
        assert len(names) == 3 and names[0] == "notes.txt"  # two backups, and the stranger
        assert "removed pyconvex-backup-" in done.stdout
        wanted = table(url, "uploads")
    finally:
        stop_server(proc)
    newest = folder / names[2]
    proc, url = start_server(tmp_path / "fresh.sqlite3", FILES_APP)
    try:
        assert cli(url, "import", str(newest)).returncode == 0
        assert table(url, "uploads") == wanted and len(wanted) == 3
        got = httpx.get(str(call(url, "query", "files:url", {"storageId": sid})))
        assert got.content == b"kept"
    finally:
        stop_server(proc)


def test_backup_on_a_schedule(tmp_path: Path) -> None:
    proc, url = start_server(tmp_path / "db.sqlite3", FILES_APP)
    folder = tmp_path / "backups"
    seen: set[str] = set()
    runner = subprocess.Popen([*CLI, "backup", "--to", str(folder), "--every", "1s", "--keep", "2",
                               "--url", url, "--admin-key", ADMIN_KEY],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        for _ in range(1200):
            if folder.exists():
                seen |= {p.name for p in folder.iterdir() if p.suffix == ".zip"}
            if len(seen) >= 4 or runner.poll() is not None:
                break
            time.sleep(0.05)
        assert len(seen) >= 4, runner.stdout.read() if runner.poll() is not None and runner.stdout else seen
    finally:
        runner.send_signal(signal.SIGTERM)
        try:
            out, _ = runner.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            runner.kill()
            runner.communicate()
            raise
        finally:
            stop_server(proc)
    left = sorted(p.name for p in folder.iterdir())
    assert len(left) <= 3 and all(name.endswith(".zip") for name in left), left  # no .partial
    assert len([n for n in left if n in seen]) >= 2
    assert "every 1s, keeping 2" in out


def test_a_scheduled_backup_stops_on_ctrl_c_even_started_in_the_background(tmp_path: Path) -> None:
    # a shell starts background commands with SIGINT ignored; Ctrl-C must still stop it
    proc, url = start_server(tmp_path / "db.sqlite3", FILES_APP)
    runner = subprocess.Popen([*CLI, "backup", "--to", str(tmp_path / "b"), "--every", "1h",
                               "--url", url, "--admin-key", ADMIN_KEY],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    try:
        assert runner.stdout is not None
        lines = [runner.stdout.readline(), runner.stdout.readline()]
        assert "wrote pyconvex-backup-" in lines[1], lines
        runner.send_signal(signal.SIGINT)
        assert runner.wait(30) == 0
    finally:
        if runner.poll() is None:
            runner.kill()
        runner.communicate()
        stop_server(proc)


def test_backup_refuses_a_bad_interval(tmp_path: Path) -> None:
    bad = cli("http://127.0.0.1:9", "backup", "--to", str(tmp_path), "--every", "soon")
    assert bad.returncode == 1 and "--every 'soon'" in bad.stderr


def test_backup_to_an_s3_prefix(tmp_path: Path) -> None:
    import boto3

    from tests.s3peer import BUCKET, moto_s3

    with moto_s3() as s3env:
        proc, url = start_server(tmp_path / "db.sqlite3", FILES_APP)
        try:
            call(url, "action", "files:store_text", {"text": "to s3"})
            for _ in range(3):
                done = subprocess.run([*CLI, "backup", "--to", f"s3://{BUCKET}/nightly", "--keep", "2",
                                       "--url", url, "--admin-key", ADMIN_KEY], capture_output=True,
                                      text=True, timeout=300, env={**os.environ, **s3env})
                assert done.returncode == 0, done.stderr
        finally:
            stop_server(proc)
        client = boto3.client("s3", endpoint_url=s3env["AWS_ENDPOINT_URL"], aws_access_key_id="testing",
                              aws_secret_access_key="testing", region_name="us-east-1")
        keys = sorted(o["Key"] for o in client.list_objects_v2(Bucket=BUCKET, Prefix="nightly/")["Contents"])
        assert len(keys) == 2 and all(k.startswith("nightly/pyconvex-backup-") for k in keys)
        newest = tmp_path / "newest.zip"
        client.download_file(BUCKET, keys[-1], str(newest))
    with zipfile.ZipFile(newest) as archive:
        stored = [n for n in archive.namelist() if n.startswith("_storage/") and not n.endswith(".jsonl")]
        assert [archive.read(n) for n in stored] == [b"to s3"]
