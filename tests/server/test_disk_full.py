"""A full disk (a real one: a small tmpfs) is reported as what it is, to the client and
in the log; writes are refused cleanly while it lasts and succeed once space returns,
and nothing acknowledged is lost."""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from pyconvex.errors import StorageFullError
from pyconvex.files.local import LocalFileStore
from pyconvex.server.errors import request_error_reply
from tests.conftest import server_output, start_server, stop_server


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=12m", "tmpfs", str(disk)],
                             capture_output=True, text=True)
    # make test runs as root (it installs Debian packages too): a full disk is a real one
    assert mounted.returncode == 0, f"mounting a 12 MB tmpfs failed: {mounted.stderr.strip()}"
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def _create(url: str, name: str) -> dict[str, object]:
    r = httpx.post(f"{url}/api/mutation", json={"path": "channels:create", "args": {"name": name}},
                   timeout=60)
    assert r.status_code == 200
    return dict(r.json())


def test_a_full_disk_is_named_refused_cleanly_and_recovered_from(small_disk: Path):
    filler = small_disk / "filler"
    filler.write_bytes(b"\0" * (3 * 1024 * 1024))  # freed later: space comes back
    proc, url = start_server(
        f"sqlite:///{small_disk / 'db.sqlite3'}", extra=["--files", str(small_disk / "files")]
    )
    try:
        acknowledged = 0
        for _ in range(200):
            reply = _create(url, "x" * 200_000)
            if reply["status"] != "success":
                break
            acknowledged += 1
        else:
            raise AssertionError("the disk never filled")
        message = str(reply["errorMessage"])
        assert "storage is full" in message and "Server Error" not in message, message
        # Still full: every write is refused the same way, and reads still work.
        assert "storage is full" in str(_create(url, "y" * 200_000)["errorMessage"])
        names = httpx.post(f"{url}/api/query", json={"path": "channels:list", "args": {}},
                           timeout=60).json()["value"]
        assert len(names) == acknowledged
        filler.unlink()
        assert _create(url, "after")["status"] == "success"
        assert "storage is full" in server_output(proc)  # the log says what happened
    finally:
        stop_server(proc)
    proc, url = start_server(f"sqlite:///{small_disk / 'db.sqlite3'}")
    try:
        names = httpx.post(f"{url}/api/query", json={"path": "channels:list", "args": {}},
                           timeout=60).json()["value"]
        assert len(names) == acknowledged + 1  # nothing acknowledged was lost
    finally:
        stop_server(proc)


async def test_a_file_upload_to_a_full_disk_is_named_and_leaves_nothing(small_disk: Path):
    store = LocalFileStore(small_disk / "files")

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(20):
            yield b"z" * (1024 * 1024)

    with pytest.raises(StorageFullError, match="storage is full") as info:
        await store.put(chunks())
    assert info.value.short_msg == "StorageFull"
    assert not [p for p in (small_disk / "files").rglob("*") if p.is_file()]  # no partial file
    assert request_error_reply(info.value)[0] == 503  # what an upload answers
