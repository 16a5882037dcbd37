"""Shared fixtures: the fixture app, and a real ``pyconvex serve`` subprocess."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

FIXTURES = Path(__file__).resolve().parent / "fixtures"
APP = FIXTURES / "app" / "convex"


_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A port below the kernel's ephemeral range (32768 and up here): a port the kernel
    picked (bind to 0) can be given to an outgoing connection before the server that was
    to take it starts, which failed a test with "port already in use"."""
    rng = random.Random()
    for _ in range(1000):
        port = rng.randrange(20_000, 32_000)
        if port in _HANDED_OUT:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _HANDED_OUT.add(port)
        return port
    raise RuntimeError("no free port between 20000 and 32000")


def start_server(
    db_path: Path | str,
    functions: Path | None = APP,
    extra: list[str] | None = None,
    env: dict[str, str] | None = None,
    port: int | None = None,
) -> tuple[subprocess.Popen[str], str]:
    """``pyconvex serve`` on ``db_path`` (a SQLite file, or a full database URL), on
    ``port`` if given (a restarted server keeps its clients' URL)."""
    db = db_path if isinstance(db_path, str) else f"sqlite:///{db_path}"
    port = port or free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "pyconvex.cli.main", "serve",
         *(["--functions", str(functions)] if functions is not None else []),
         "--db", db, "--port", str(port), "--admin-key", "test-admin-key",
         "--site-port", str(free_port()),
         *(extra or [])],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, **(env or {})},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            output = proc.stdout.read() if proc.stdout else ""
            if proc.stdout:
                proc.stdout.close()
            raise RuntimeError(f"server exited: {output}")
        try:
            if httpx.get(f"{url}/version", timeout=1).status_code == 200:
                _drain(proc)
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.05)
    proc.kill()
    proc.wait()
    if proc.stdout:
        proc.stdout.close()
    raise RuntimeError("server did not answer /version within 30 s")


_OUTPUT: dict[int, tuple[threading.Thread, list[str]]] = {}


def _drain(proc: subprocess.Popen[str]) -> None:
    """Read the server's output as it comes (its log is one JSON line per failure: a pipe
    nobody reads would fill and stop the server), keeping it for ``server_output``."""
    lines: list[str] = []

    def read() -> None:
        assert proc.stdout is not None
        try:
            for line in proc.stdout:
                lines.append(line)
        except (ValueError, OSError):  # a test closed the pipe itself (after a kill)
            pass

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    _OUTPUT[proc.pid] = (thread, lines)


def server_output(proc: subprocess.Popen[str]) -> str:
    """What a server started by ``start_server`` has printed so far."""
    found = _OUTPUT.get(proc.pid)
    return "".join(found[1]) if found is not None else ""


def stop_server(proc: subprocess.Popen[str]) -> None:
    drained = _OUTPUT.pop(proc.pid, None)
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if drained is not None:
        drained[0].join(5)
    if proc.stdout:
        proc.stdout.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    proc, url = start_server(tmp_path / "db.sqlite3")
    try:
        yield url
    finally:
        stop_server(proc)




os.environ.setdefault("NO_COLOR", "1")


# Tests under these folders of tests/ run once per backend, unless marked
# ``one_backend`` (they open no database, or choose their backends themselves).
PER_BACKEND_FOLDERS = frozenset(
    {"database", "e2e", "files", "functions", "scheduler", "search", "snapshot", "sync"}
)
BACKENDS = ("sqlite", "postgres")


def _per_backend(definition: pytest.Item) -> bool:
    path = Path(str(definition.path)).resolve()
    parts = path.relative_to(Path(__file__).resolve().parent).parts
    return (len(parts) > 1 and parts[0] in PER_BACKEND_FOLDERS
            and definition.get_closest_marker("one_backend") is None)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """One parametrisation for every per-backend folder (instead of an autouse fixture
    pasted into each folder's conftest.py): a test there gets ``engine_backend`` set to
    each backend in turn; a test marked ``one_backend`` runs once, on SQLite."""
    if "engine_backend" in metafunc.fixturenames and _per_backend(metafunc.definition):
        metafunc.parametrize("engine_backend", BACKENDS, indirect=True)


@pytest.fixture(autouse=True)
def engine_backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The backend engine tests run on (see ``pytest_generate_tests``): with "postgres",
    every ConvexTest and every ``make_db_url()`` gets a fresh schema on the test
    PostgreSQL server. Outside the per-backend folders it leaves the environment alone."""
    from pyconvex.testing.convex_test import DATABASE_URL_ENV
    from tests.pg import base_url

    backend = str(getattr(request, "param", "sqlite"))
    if backend == "postgres":
        monkeypatch.setenv(DATABASE_URL_ENV, base_url())
    elif hasattr(request, "param") or request.node.get_closest_marker("one_backend"):
        monkeypatch.delenv(DATABASE_URL_ENV, raising=False)
    return backend


@pytest.fixture
def app_dir() -> Path:
    return APP


@pytest.fixture
async def make_db_url(tmp_path: Path):  # type: ignore[no-untyped-def]
    """``make_db_url(name)``: a fresh database URL on the active backend (dropped after)."""
    from pyconvex.testing.convex_test import _drop, fresh_database_url

    made: list[str] = []

    def make(name: str = "db") -> str:
        folder = tmp_path / name
        folder.mkdir(exist_ok=True)
        url = fresh_database_url(folder)
        made.append(url)
        return url

    yield make
    for url in made:
        await _drop(url)


@pytest.fixture
def db_url(make_db_url) -> str:  # type: ignore[no-untyped-def]
    return str(make_db_url("db"))


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture
def browser() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright (one browser per test)."""
    import shutil

    from playwright.sync_api import sync_playwright

    assert shutil.which(CHROMIUM), "Debian's chromium is missing: make test installs it"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()

