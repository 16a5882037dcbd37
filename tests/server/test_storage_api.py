"""File storage over real HTTP: upload URLs, downloads, ranges, bounded memory."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import start_server, stop_server
from tests.server.inprocess import live_server

APP = Path(__file__).resolve().parents[1] / "fixtures" / "filesapp" / "convex"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    with live_server(tmp_path / "db.sqlite3", APP, actions=True) as server:
        yield server.url


@pytest.fixture
def served_process(tmp_path: Path) -> Iterator[tuple[str, int]]:
    """A ``pyconvex serve`` process of its own, whose memory the test measures."""
    proc, url = start_server(tmp_path / "db.sqlite3", APP)
    try:
        yield url, proc.pid
    finally:
        stop_server(proc)


def _call(url: str, kind: str, path: str, args: dict[str, object]) -> object:
    body = httpx.post(f"{url}/api/{kind}", json={"path": path, "args": args}, timeout=30).json()
    assert body["status"] == "success", body
    return body["value"]


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_upload_download_ranges_and_single_use(served: str) -> None:
    url = served
    data = bytes(range(256)) * 1000
    upload_url = str(_call(url, "mutation", "files:generate_upload_url", {}))
    answer = httpx.post(upload_url, content=data, headers={"Content-Type": "application/x-test"})
    assert answer.status_code == 200, answer.text
    sid = answer.json()["storageId"]
    file_url = str(_call(url, "query", "files:url", {"storageId": sid}))
    got = httpx.get(file_url)
    assert got.content == data and got.headers["content-type"] == "application/x-test"
    part = httpx.get(file_url, headers={"Range": "bytes=1000-1999"})
    assert part.status_code == 206 and part.content == data[1000:2000]
    assert part.headers["content-range"] == f"bytes 1000-1999/{len(data)}"
    reused = httpx.post(upload_url, content=b"again")
    assert reused.status_code == 401 and reused.json()["code"] == "StorageTokenUsed"
    forged = httpx.post(upload_url[:-3] + "abc", content=b"x")
    assert forged.status_code == 401
    assert httpx.get(f"{url}/api/storage/not-an-id").status_code == 404
    meta = _call(url, "query", "files:meta", {"storageId": sid})
    assert meta["size"] == len(data)  # type: ignore[index]


def test_signed_urls_expire(served: str) -> None:
    url = served
    sid = _call(url, "action", "files:store_text", {"text": "secret"})
    signed = str(_call(url, "query", "files:url", {"storageId": sid, "expiresIn": 0.5}))
    assert httpx.get(signed).content == b"secret"
    time.sleep(0.6)
    expired = httpx.get(signed)
    assert expired.status_code == 401 and "expired" in expired.json()["message"]


def test_a_10_mb_file_streams_with_bounded_memory(served_process: tuple[str, int]) -> None:
    url, pid = served_process
    chunk = hashlib.sha256(b"seed").digest() * 2048  # 64 KiB
    total = 10 * 1024 * 1024

    def body() -> Iterator[bytes]:
        for _ in range(total // len(chunk)):
            yield chunk

    before = _rss_kb(pid)
    upload_url = str(_call(url, "mutation", "files:generate_upload_url", {}))
    sid = httpx.post(upload_url, content=body(), timeout=60).json()["storageId"]
    digest = hashlib.sha256()
    size = 0
    with httpx.stream("GET", str(_call(url, "query", "files:url", {"storageId": sid}))) as response:
        for piece in response.iter_bytes():
            digest.update(piece)
            size += len(piece)
    assert size == total
    expected = hashlib.sha256()
    for piece in body():
        expected.update(piece)
    assert digest.digest() == expected.digest()
    growth_kb = _rss_kb(pid) - before
    assert growth_kb < 6 * 1024, f"server RSS grew {growth_kb} KB for a 10 MB upload and download"
