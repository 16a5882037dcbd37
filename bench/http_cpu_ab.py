"""HTTP inserts alone, two source trees alternating: rate, and the server process's user
and system CPU per insert.

    .venv/bin/python bench/http_cpu_ab.py <tree A> <tree B> [--rounds 6] [--seconds 3]

bench/ab.py drives each server with WebSocket clients first and HTTP clients after. This
script starts a fresh `pyconvex serve` of bench/channels_app for every round. It warms it
up for a second, then drives `channels:post` from 16 keep-alive connections
(bench/load.mjs `channels`, the request bench/peer.py compares with PocketBase). User and
system time are kept apart: the first is what a change to Python code can move. Which
tree goes first alternates by round. The figures printed are medians.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from wire import Server, node_load

APP = Path(__file__).resolve().parent / "channels_app" / "convex"


def cpu_times(pid: int) -> tuple[float, float]:
    """The process's own user and system seconds (children not included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("trees", nargs=2)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    trees = [str(Path(t).resolve()) for t in args.trees]
    results: dict[str, list[tuple[float, float, float]]] = {t: [] for t in trees}
    os.chdir(tempfile.gettempdir())  # `python -m` puts the working directory first
    for round_ in range(args.rounds):
        for tree in trees if round_ % 2 == 0 else trees[::-1]:
            os.environ["PYTHONPATH"] = tree
            with tempfile.TemporaryDirectory() as tmp:
                server = Server(Path(tmp), APP)
                try:
                    node_load("channels", server.url, 1.0)  # warm-up
                    (user0, sys0), start = cpu_times(server.proc.pid), time.perf_counter()
                    rate = node_load("channels", server.url, args.seconds)
                    done = rate * (time.perf_counter() - start)
                    user1, sys1 = cpu_times(server.proc.pid)
                    results[tree].append(
                        (rate, (user1 - user0) / done * 1e6, (sys1 - sys0) / done * 1e6)
                    )
                finally:
                    server.stop()
            rate, user, system = results[tree][-1]
            print(f"round {round_}: {tree} {rate:,.0f}/s, user {user:.0f} µs, sys {system:.0f} µs",
                  file=sys.stderr, flush=True)
    median = statistics.median
    print("| tree | HTTP inserts/s (median) | server user µs/insert | server sys µs/insert |")
    print("|---|---|---|---|")
    for tree in trees:
        runs = results[tree]
        print(f"| {tree} | {median(r[0] for r in runs):,.0f} | {median(r[1] for r in runs):.0f} | "
              f"{median(r[2] for r in runs):.0f} |")


if __name__ == "__main__":
    main()
