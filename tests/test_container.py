"""The repository's Dockerfile, built and run with podman as an operator would run it
(docs/production.md): a non-root ``pyconvex serve`` configured from the environment,
SQLite and files on a volume that outlives the container, PostgreSQL by URL, the
health check, and the official ``convex`` client talking to it from the host.

The image is built on a base made locally with debootstrap (tests/container.py): no
registry is reachable where the tests run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from convex import ConvexClient

from tests.conftest import FIXTURES, free_port
from tests.container import Podman, base_image, build_image
from tests.pg import drop_schema, pg_url, schema_for

APP = FIXTURES / "containerapp" / "convex"
TAG = "localhost/pyconvex:test"
ADMIN_KEY = "container-admin-key"
UID = "10001"

pytestmark = pytest.mark.timeout(1200)


@pytest.fixture(scope="module")
def podman() -> Iterator[Podman]:
    engine = Podman()
    build_image(engine, base_image(engine), TAG)
    yield engine
    engine("rm", "--all", "--force", check=False)
    engine("volume", "prune", "--force", check=False)


class Container:
    """One ``podman run -d`` of the image on the host's network, on free ports."""

    def __init__(self, podman: Podman, name: str, *, volume: str, env: dict[str, str]) -> None:
        self.podman, self.name = podman, name
        self.port, self.site_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        settings = {"PYCONVEX_ADMIN_KEY": ADMIN_KEY, "PYCONVEX_PORT": str(self.port),
                    "PYCONVEX_SITE_PORT": str(self.site_port), "PYCONVEX_PUBLIC_URL": self.url, **env}
        podman("run", "--detach", "--name", name, "--network", "host", *podman.ulimits(),
               "--volume", f"{volume}:/data",
               *[f"--env={key}={value}" for key, value in settings.items()], TAG)
        self.wait(lambda: self.get("/health").status_code == 200, "/health")

    def get(self, path: str) -> httpx.Response:
        return httpx.get(self.url + path, timeout=5)

    def wait(self, ready: object, what: str) -> None:
        assert callable(ready)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if ready():
                    return
            except httpx.HTTPError:
                pass
            state = self.inspect("{{.State.Status}}")
            assert state == "running", f"container {state}:\n{self.logs()}"
            time.sleep(0.1)
        raise AssertionError(f"{what} not ready within 60 s:\n{self.logs()}")

    def inspect(self, template: str) -> str:
        return self.podman("inspect", "--format", template, self.name).stdout.strip()

    def logs(self) -> str:
        done = self.podman("logs", self.name, check=False)
        return done.stdout + done.stderr

    def stop(self) -> None:
        """SIGTERM, as ``podman stop`` and orchestrators send it: pyconvex is PID 1 and must
        shut down cleanly on it (not be killed when the grace period ends)."""
        self.podman("stop", "--time", "20", self.name, timeout=60)
        assert self.inspect("{{.State.ExitCode}}") == "0", self.logs()
        self.podman("rm", self.name)


def deploy(url: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pyconvex.cli.main", "deploy", "--functions", str(APP), "--url", url,
         "--admin-key", ADMIN_KEY], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def add_note(client: ConvexClient, text: str, data: bytes) -> None:
    upload = client.mutation("notes:upload_url")
    stored = httpx.post(upload, content=data, headers={"Content-Type": "application/octet-stream"})
    assert stored.status_code == 200, stored.text
    client.mutation("notes:add", {"text": text, "file": stored.json()["storageId"]})


def notes(client: ConvexClient) -> dict[str, bytes]:
    return {note["text"]: httpx.get(note["url"]).content for note in client.query("notes:list")}


def test_image_runs_non_root_and_keeps_sqlite_and_files_on_its_volume(podman: Podman) -> None:
    volume = "pyconvex-test-data"
    podman("volume", "rm", "--force", volume)
    podman("volume", "create", volume)
    blob = os.urandom(100_000)

    first = Container(podman, "pyconvex-test-sqlite", volume=volume, env={})
    # Before any code is deployed the deployment is alive but not ready, and says why.
    ready = first.get("/ready")
    assert ready.status_code == 503 and "no code loaded" in ready.json()["checks"]["functions"]
    deploy(first.url)
    assert first.get("/ready").json() == {"status": "ready", "checks": {
        "database": "ok", "committer": "ok", "functions": "3 loaded"}}
    # Non-root: the image's user, the server process's, and the owner of what it wrote.
    assert first.inspect("{{.Config.User}}") == f"{UID}:{UID}"
    assert podman("exec", first.name, "id", "-u").stdout.strip() == UID
    processes = podman("top", first.name, "huser", "args").stdout.splitlines()[1:]
    assert any("pyconvex serve" in line for line in processes), processes
    assert {line.split()[0] for line in processes} == {UID}, processes
    data = Path(podman("volume", "inspect", "--format", "{{.Mountpoint}}", volume).stdout.strip())
    assert {(path.name, path.stat().st_uid) for path in data.iterdir()} >= {
        ("db.sqlite3", int(UID)), ("files", int(UID))}

    client = ConvexClient(first.url)
    add_note(client, "before restart", blob)
    assert notes(client) == {"before restart": blob}

    # The image's HEALTHCHECK, run as the engine runs it; it fails while the server cannot answer.
    health = json.loads(first.inspect("{{json .Config.Healthcheck}}"))
    assert health["Test"][0] == "CMD" and "/health" in " ".join(health["Test"])
    assert podman("healthcheck", "run", first.name, check=False).returncode == 0
    assert first.inspect("{{.State.Health.Status}}") == "healthy"
    podman("kill", "--signal", "STOP", first.name)
    try:
        failed = podman("healthcheck", "run", first.name, check=False)
        assert failed.returncode != 0, failed.stdout + failed.stderr
    finally:
        podman("kill", "--signal", "CONT", first.name)
    first.stop()

    # A new container on the same volume: the same database, code and file bytes.
    second = Container(podman, "pyconvex-test-sqlite-2", volume=volume, env={})
    second.wait(lambda: second.get("/ready").status_code == 200, "/ready")
    client = ConvexClient(second.url)
    add_note(client, "after restart", b"second")
    assert notes(client) == {"before restart": blob, "after restart": b"second"}
    second.stop()
    podman("volume", "rm", volume)


async def test_image_serves_postgresql_by_url(podman: Podman, tmp_path: Path) -> None:
    schema = schema_for(tmp_path)
    await drop_schema(schema)
    url = pg_url(schema)
    try:
        first = Container(podman, "pyconvex-test-postgres", volume="pyconvex-test-pgfiles",
                          env={"PYCONVEX_DB": url})
        deploy(first.url)
        first.wait(lambda: first.get("/ready").status_code == 200, "/ready")
        client = ConvexClient(first.url)
        add_note(client, "in postgres", b"file bytes")
        assert notes(client) == {"in postgres": b"file bytes"}
        # Nothing of the database is on the volume: it is all in PostgreSQL's schema.
        data = Path(podman("volume", "inspect", "--format", "{{.Mountpoint}}",
                           "pyconvex-test-pgfiles").stdout.strip())
        assert not list(data.glob("*.sqlite3*"))
        first.stop()
        # A fresh container with an empty volume still has the documents and the code.
        podman("volume", "rm", "pyconvex-test-pgfiles")
        second = Container(podman, "pyconvex-test-postgres-2", volume="pyconvex-test-pgfiles-2",
                           env={"PYCONVEX_DB": url})
        second.wait(lambda: second.get("/ready").status_code == 200, "/ready")
        listed = ConvexClient(second.url).query("notes:list")
        assert [note["text"] for note in listed] == ["in postgres"]
        second.stop()
        podman("volume", "rm", "pyconvex-test-pgfiles-2")
    finally:
        await drop_schema(schema)
