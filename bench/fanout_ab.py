"""A/B of source trees on live fan-out and idle subscribers, alternating within one run.

    .venv/bin/python bench/fanout_ab.py TREE_A TREE_B [...] [--runs 3] [--subscribers 500,1000] [--memory]

Each run starts a `pyconvex serve` of `bench/channels_app` from each tree in turn (which
goes first alternates; `PYTHONPATH` is the tree), connects N raw WebSocket clients
speaking the sync protocol (bench/peer.py's `WsClient`), subscribes them all to
`channels:latest`, and measures over 15 rounds of one HTTP insert: commit to the last
subscriber, p50 and max, and the server's CPU per commit (process and children, from
/proc). With --memory: only the RSS growth per connected, subscribed client instead.
A tree is a directory holding a `pyconvex/` package (`git archive <commit> | tar -x`).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from peer import ROUNDS, _timed_rounds, subscribed
from wire import CHANNELS, Server


async def fan_out(server: Server, n: int) -> tuple[float, float, float]:
    """(p50 ms, max ms, server CPU ms per commit)."""
    conns = await subscribed(server, n)
    await asyncio.sleep(0.5)
    cpu = server.cpu_s()
    async with httpx.AsyncClient(timeout=30) as http:
        async def post(body: str) -> None:
            (await http.post(f"{server.url}/api/mutation", json={
                "path": "channels:post", "args": {"channel": "hot", "body": body}})).raise_for_status()
        lat = await _timed_rounds(post, conns, "Transition")
    cpu = (server.cpu_s() - cpu) / ROUNDS * 1000
    for c in conns:
        await c.ws.close()
    return statistics.median(lat), max(lat), cpu


async def memory(server: Server, n: int) -> float:
    """Server RSS KB per connected, subscribed client."""
    before = server.rss_kb()
    conns = await subscribed(server, n)
    await asyncio.sleep(1)
    per = (server.rss_kb() - before) / n
    for c in conns:
        await c.ws.close()
    return per


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("trees", nargs="+")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--subscribers", default="500,1000")
    parser.add_argument("--memory", action="store_true")
    args = parser.parse_args()
    trees = [str(Path(t).resolve()) for t in args.trees]
    sizes = [int(n) for n in args.subscribers.split(",")]
    results: dict[tuple[str, int], list[tuple[float, ...]]] = {}
    os.chdir(tempfile.gettempdir())  # `python -m` puts the working directory first
    for run in range(args.runs):
        for tree in trees if run % 2 == 0 else trees[::-1]:
            os.environ["PYTHONPATH"] = tree
            with tempfile.TemporaryDirectory() as tmp:
                server = Server(Path(tmp), CHANNELS)
                try:
                    for n in sizes:
                        got = ((asyncio.run(memory(server, n)),) if args.memory
                               else asyncio.run(fan_out(server, n)))
                        results.setdefault((tree, n), []).append(got)
                        print(f"  {tree} N={n}: {', '.join(f'{x:.1f}' for x in got)}", file=sys.stderr)
                finally:
                    server.stop()
    if args.memory:
        print("| tree | N | RSS KB per subscriber (median) | runs |\n|---|---|---|---|")
        for (tree, n), rows in results.items():
            print(f"| {tree} | {n} | {statistics.median(r[0] for r in rows):.2f} | "
                  f"{', '.join(f'{r[0]:.2f}' for r in rows)} |")
        return
    print("| tree | N | p50 ms | max ms | server CPU ms per commit |\n|---|---|---|---|---|")
    for (tree, n), rows in results.items():
        print(f"| {tree} | {n} | " + " | ".join(
            f"{statistics.median(r[i] for r in rows):.1f}" for i in range(3)) + " |")


if __name__ == "__main__":
    main()
