"""PostgreSQL: durable insert mutations vs raw single-statement transactions, and the
aggregate throughput of two `pyconvex serve` processes vs one.

    .venv/bin/python bench/postgres.py --runs 3 --seconds 3

a. raw: one INSERT of a 100-byte document per autocommit transaction (one round trip,
   one WAL flush), from 1 and from 4 connections.
b. pyconvex insert mutations through the function runner on PostgreSQL, from 1 and from
   4 concurrent tasks (every commit is one statement: head compare-and-set + inserts).
   (a) and (b) run on the server's event loop (uvloop).
c. insert mutations over HTTP (16 keep-alive clients, bench/load.mjs) against one
   `pyconvex serve` process, and spread over two processes sharing the database.

``--parts ab`` runs only (a) and (b). For an A/B of two trees, run each tree's copy of
this script (it imports pyconvex from the tree it is in).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pyconvex.deployment import Deployment
from pyconvex.persistence.postgres import drop_schema
from pyconvex.server.runner import run_on_server_loop
from tests.conftest import start_server, stop_server
from tests.pg import base_url, pg_url

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cpu import cpu_seconds

APP = Path(__file__).resolve().parent / "app" / "convex"
LOAD = Path(__file__).resolve().parent / "load.mjs"


async def raw_inserts(clients: int, seconds: float) -> float:
    schema = f"bench_raw_{os.getpid()}"
    admin = await psycopg.AsyncConnection.connect(base_url(), autocommit=True)
    await admin.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    await admin.execute(f"CREATE TABLE IF NOT EXISTS {schema}.docs (id text PRIMARY KEY, ts bigint, value bytea)")
    done = 0
    stop = time.perf_counter() + seconds

    async def worker(w: int) -> None:
        nonlocal done
        async with await psycopg.AsyncConnection.connect(base_url(), autocommit=True) as conn:
            n = 0
            while time.perf_counter() < stop:
                n += 1
                await conn.execute(f"INSERT INTO {schema}.docs VALUES (%s, %s, %s)",
                                   (f"{w}-{n}", time.time_ns(), b"x" * 100), prepare=True)
                done += 1

    start = time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(clients)))
    rate = done / (time.perf_counter() - start)
    await admin.execute(f"DROP SCHEMA {schema} CASCADE")
    await admin.close()
    return rate


async def mutations(clients: int, seconds: float) -> float:
    url = pg_url(f"bench_mut_{os.getpid()}")
    d = await Deployment.open(url, APP)
    done = 0
    stop = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done
        while time.perf_counter() < stop:
            await d.runner.run_mutation("bench:insert", {"body": "x" * 100})
            done += 1

    try:
        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        return done / (time.perf_counter() - start)
    finally:
        await d.close()
        await drop_schema(url)


def _postmaster() -> int:
    """PostgreSQL's postmaster: the parent of a backend (its children are the backends)."""
    with psycopg.connect(base_url(), autocommit=True) as conn:
        backend = conn.execute("SELECT pg_backend_pid()").fetchone()[0]  # type: ignore[index]
    return int(Path(f"/proc/{backend}/stat").read_text().rsplit(")", 1)[1].split()[1])


def over_http(processes: int, seconds: float) -> tuple[float, float, float]:
    """Mutations/s, and the CPU µs per mutation of the pyconvex processes (with their
    children) and of PostgreSQL's backends."""
    url = pg_url(f"bench_http_{os.getpid()}")
    servers = [start_server(url, APP, extra=["--site-port", "0"]) for _ in range(processes)]
    try:
        urls = ",".join(u for _, u in servers)
        postmaster = _postmaster()

        def cpu() -> tuple[float, float]:
            return (sum(sum(cpu_seconds(proc.pid)) for proc, _ in servers),
                    cpu_seconds(postmaster)[1])

        before = cpu()
        out = subprocess.run(["node", str(LOAD), "http", urls, "16", str(seconds)],
                             capture_output=True, text=True, check=True, timeout=seconds + 60)
        after = cpu()
        rate = float(out.stdout.strip())
        done = rate * seconds
        return (rate, (after[0] - before[0]) / done * 1e6, (after[1] - before[1]) / done * 1e6)
    finally:
        for proc, _ in servers:
            stop_server(proc)
        asyncio.run(drop_schema(url))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--parts", default="abc",
                        help="which figures: a and b (in-process), c (HTTP, processes)")
    args = parser.parse_args()
    rows: dict[str, list[float]] = {}

    def add(name: str, value: float) -> None:
        rows.setdefault(name, []).append(value)

    with tempfile.TemporaryDirectory():
        for _ in range(args.runs):
            for clients in (1, 4) if "a" in args.parts or "b" in args.parts else ():
                add(f"a. raw single-statement INSERT transactions/s, {clients} client(s)",
                    run_on_server_loop(raw_inserts(clients, args.seconds)))
                cpu = time.process_time()
                rate = run_on_server_loop(mutations(clients, args.seconds))
                cpu = time.process_time() - cpu
                add(f"b. pyconvex insert mutations/s on PostgreSQL, {clients} client(s)", rate)
                add(f"b. Python CPU µs per mutation (opening included), {clients} client(s)",
                    cpu / (rate * args.seconds) * 1e6)
            for n in (1, 2) if "c" in args.parts else ():
                label = "1 process" if n == 1 else f"{n} processes"
                rate, ours, theirs = over_http(n, args.seconds)
                add(f"c. HTTP insert mutations/s, {label}", rate)
                add(f"c. pyconvex CPU µs per mutation, {label}", ours)
                add(f"c. PostgreSQL CPU µs per mutation, {label}", theirs)
    med = {k: statistics.median(v) for k, v in rows.items()}
    print(f"| figure | median of {args.runs} | runs |")
    print("|---|---|---|")
    for name, values in rows.items():
        print(f"| {name} | {med[name]:,.0f} | {', '.join(f'{v:,.0f}' for v in values)} |")
    for clients in (1, 4) if "b" in args.parts or "a" in args.parts else ():
        ratio = med[f"b. pyconvex insert mutations/s on PostgreSQL, {clients} client(s)"] / \
            med[f"a. raw single-statement INSERT transactions/s, {clients} client(s)"]
        print(f"| b/a, {clients} client(s) (goal >= 0.5) | {ratio:.2f} | |")
    if "c" in args.parts:
        print(f"| c. 2 processes / 1 process | "
              f"{med['c. HTTP insert mutations/s, 2 processes'] / med['c. HTTP insert mutations/s, 1 process']:.2f} | |")


if __name__ == "__main__":
    main()
