"""Upload throughput: MB/s through the upload URL vs a raw durable file copy.

The baseline writes the same bytes to a file on the same disk and fsyncs it (what a
durable upload must at least do); the upload goes over loopback HTTP to a
`pyconvex serve` subprocess, which streams it to a temp file, fsyncs, renames, and
commits the `_storage` row.

    .venv/bin/python bench/files.py --runs 3 --mb 64
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.conftest import start_server, stop_server

APP = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "filesapp" / "convex"
CHUNK = os.urandom(256 * 1024)


def body(mb: int) -> Iterator[bytes]:
    for _ in range(mb * 4):
        yield CHUNK


def raw_copy(path: Path, mb: int) -> float:
    start = time.perf_counter()
    with path.open("wb") as f:
        for chunk in body(mb):
            f.write(chunk)
        f.flush()
        os.fsync(f.fileno())
    return mb / (time.perf_counter() - start)


def upload(url: str, mb: int) -> float:
    post = httpx.post(f"{url}/api/mutation", json={"path": "files:generate_upload_url", "args": {}}).json()
    start = time.perf_counter()
    answer = httpx.post(post["value"], content=body(mb), timeout=300)
    elapsed = time.perf_counter() - start
    assert answer.status_code == 200, answer.text
    return mb / elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--mb", type=int, default=64)
    args = parser.parse_args()
    raws, ups = [], []
    with tempfile.TemporaryDirectory() as tmp:
        proc, url = start_server(Path(tmp) / "db.sqlite3", APP)
        try:
            for i in range(args.runs):
                raws.append(raw_copy(Path(tmp) / f"raw{i}", args.mb))
                ups.append(upload(url, args.mb))
        finally:
            stop_server(proc)
    raw, up = statistics.median(raws), statistics.median(ups)
    print("| figure | median | runs |")
    print("|---|---|---|")
    print(f"| raw durable file write MB/s ({args.mb} MB) | {raw:,.0f} | {', '.join(f'{r:,.0f}' for r in raws)} |")
    print(f"| upload MB/s through the upload URL ({args.mb} MB) | {up:,.0f} | {', '.join(f'{u:,.0f}' for u in ups)} |")
    print(f"| upload / raw | {up / raw:.2f} | |")


if __name__ == "__main__":
    main()
