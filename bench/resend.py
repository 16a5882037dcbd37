"""Exactly-once client mutations under kill -9: the official npm ConvexClient keeps 4
mutations in flight while `pyconvex serve` is killed (SIGKILL) and restarted on the same
port; prints, per backend, the mutations sent, those committed but unanswered at a kill
(which the client resends), and how many were applied other than once.

    .venv/bin/python bench/resend.py --rounds 20

(The assertion form of this is tests/compat/test_npm_resend.py.)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pyconvex.database import Database, Query
from pyconvex.persistence import open_persistence
from pyconvex.persistence.postgres import drop_schema
from tests.conftest import free_port, start_server, stop_server
from tests.pg import pg_url

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tests" / "compat" / "npm" / "resend.mjs"


async def committed(url: str) -> Counter[str]:
    db = await Database.open(await open_persistence(url))
    try:
        txn = db.begin(writable=False, limits=None)
        if txn.table("items") is None:
            return Counter()
        return Counter(str(d["tag"]) for d in await Query(txn, "items").collect())
    finally:
        await db.close()


def run(url: str, rounds: int) -> dict[str, int]:
    port = free_port()
    server, http = start_server(url, port=port)
    client = subprocess.Popen(["node", str(SCRIPT), http, "4"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                              cwd=ROOT)
    sent: list[str] = []
    acked: set[str] = set()
    done = threading.Event()

    def read() -> None:
        assert client.stdout is not None
        for line in client.stdout:
            kind, _, tag = line.strip().partition(" ")
            if kind == "sent":
                sent.append(tag)
            elif kind == "ack":
                acked.add(tag)
            elif kind == "done":
                done.set()

    threading.Thread(target=read, daemon=True).start()
    rng = random.Random(22)
    unanswered = 0
    try:
        for _ in range(rounds):
            target = len(acked) + 3
            while len(acked) < target:
                time.sleep(0.01)
            time.sleep(rng.uniform(0.0, 0.3))
            os.kill(server.pid, signal.SIGKILL)
            stop_server(server)
            time.sleep(0.2)
            unanswered += sum(1 for t in asyncio.run(committed(url)) if t not in acked)
            server, _ = start_server(url, port=port)
        assert client.stdin is not None
        client.stdin.write("stop\n")
        client.stdin.flush()
        done.wait(120)
    finally:
        client.kill()
        client.wait()
        os.kill(server.pid, signal.SIGKILL)
        stop_server(server)
    final = asyncio.run(committed(url))
    return {"sent": len(sent), "answered": len(acked), "unanswered at a kill": unanswered,
            "applied other than once": sum(1 for n in final.values() if n != 2)
            + len(set(sent) - set(final))}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        print("sqlite", run(f"sqlite:///{tmp}/db.sqlite3", args.rounds), flush=True)
    url = pg_url(f"bench_resend_{os.getpid()}")
    try:
        print("postgres", run(url, args.rounds), flush=True)
    finally:
        asyncio.run(drop_schema(url))


if __name__ == "__main__":
    main()
