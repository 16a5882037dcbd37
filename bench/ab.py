"""A/B of two source trees on the wire figures, alternating within one run.

    git worktree add /tmp/before <commit>
    .venv/bin/python bench/ab.py /tmp/before . --runs 4 --seconds 3 [--fan-out 1000]
        [--python-before PYTHON] [--python-after PYTHON]

On a noisy machine a figure measured at one commit and later at another compares the
machine as much as the code. Here every run starts a `pyconvex serve` from each tree in
turn (which goes first alternates), with `PYTHONPATH` set to that tree, and measures:
  - insert mutations/s from 16 WebSocket and 16 HTTP clients (bench/load.mjs), with the
    CPU time the server process and its SQLite writer child spent per mutation;
  - with --fan-out N: commit-to-last-subscriber latency for N WebSocket subscribers,
    next to the raw `websockets` broadcast floor of the same run.
Raw SQLite single-document commits/s are measured once per run, for the ratios.
``--python-before`` / ``--python-after`` serve a side with another interpreter (a venv's
python with the same dependencies): the same tree twice then compares interpreters.
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from baselines import raw_sqlite_single_doc_commits
from cpu import cpu_seconds
from wire import Server, broadcast_floor, fan_out, node_load


def _check_tree(tree: str, python: str) -> None:
    out = subprocess.run([python, "-c", "import pyconvex; print(pyconvex.__file__)"],
                         capture_output=True, text=True, check=True).stdout.strip()
    if not out.startswith(tree):
        raise SystemExit(f"pyconvex was imported from {out}, not from {tree}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("before")
    parser.add_argument("after")
    parser.add_argument("--runs", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--fan-out", type=int, default=0)
    parser.add_argument("--python-before", default=sys.executable)
    parser.add_argument("--python-after", default=sys.executable)
    args = parser.parse_args()
    pythons = {"before": args.python_before, "after": args.python_after}
    trees = {"before": str(Path(args.before).resolve()), "after": str(Path(args.after).resolve())}
    modes = ("ws", "http")
    rates: dict[tuple[str, str], list[float]] = {(t, m): [] for t in trees for m in modes}
    cpu: dict[tuple[str, str], list[tuple[float, float]]] = {k: [] for k in rates}
    fan: dict[str, list[tuple[float, float]]] = {t: [] for t in trees}
    raws: list[float] = []
    floors: list[float] = []
    os.chdir(tempfile.gettempdir())  # `python -m` puts the working directory first
    for run in range(args.runs):
        with tempfile.TemporaryDirectory() as tmp:
            raws.append(raw_sqlite_single_doc_commits(Path(tmp) / "raw.sqlite3", 2000))
        if args.fan_out:
            floors.append(asyncio.run(broadcast_floor(args.fan_out)))
        for name in list(trees) if run % 2 == 0 else list(reversed(trees)):
            os.environ["PYTHONPATH"] = trees[name]
            _check_tree(trees[name], pythons[name])
            with tempfile.TemporaryDirectory() as tmp:
                server = Server(Path(tmp), python=pythons[name])
                try:
                    pid = server.proc.pid
                    for mode in modes:
                        (own0, kids0), start = cpu_seconds(pid), time.perf_counter()
                        rate = node_load(mode, server.url, args.seconds)
                        done = rate * (time.perf_counter() - start)
                        own1, kids1 = cpu_seconds(pid)
                        rates[(name, mode)].append(rate)
                        cpu[(name, mode)].append(((own1 - own0) / done * 1e6, (kids1 - kids0) / done * 1e6))
                    if args.fan_out:
                        fan[name].append(asyncio.run(fan_out(server.url, args.fan_out)))
                finally:
                    server.stop()
        print(f"run {run}: raw {raws[-1]:,.0f}/s, "
              + ", ".join(f"{t} {m} {rates[(t, m)][-1]:,.0f}/s" for t in trees for m in modes),
              file=sys.stderr, flush=True)
    med = statistics.median
    raw = med(raws)
    print(f"raw SQLite single-doc commits/s, median of {args.runs}: {raw:,.0f}\n")
    print("| tree | clients | mutations/s (median) | / raw | server CPU µs/mutation | writer CPU µs/mutation |")
    print("|---|---|---|---|---|---|")
    for mode in modes:
        for name in trees:
            r = med(rates[(name, mode)])
            own = med(c[0] for c in cpu[(name, mode)])
            kids = med(c[1] for c in cpu[(name, mode)])
            print(f"| {name} | 16 {mode.upper()} | {r:,.0f} | {r / raw:.2f} | {own:.0f} | {kids:.0f} |")
    if args.fan_out:
        print(f"\n| tree | {args.fan_out} subscribers p50 ms | max ms | raw floor ms |")
        print("|---|---|---|---|")
        for name in trees:
            print(f"| {name} | {med(f[0] for f in fan[name]):.1f} | "
                  f"{med(f[1] for f in fan[name]):.1f} | {med(floors):.1f} |")


if __name__ == "__main__":
    main()
