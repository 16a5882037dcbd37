"""Instructions per insert mutation, counted by valgrind (callgrind): a figure that the
machine's speed does not move, for comparing source trees where timings are noise.

    .venv/bin/python bench/instructions.py [TREE ...] [--mutations 1600] [--repeat 2]

For each tree (default: this checkout), it runs 16 concurrent tasks inserting documents
through ``ConvexTest`` (the engine path of bench/engine.py, SQLite, durable) under
``valgrind --tool=callgrind``, once with 0 and once with ``--mutations`` mutations after
the same start-up, and reports the difference divided by the count. Only the server's own
process is counted (the SQLite writer process is not traced). Group sizes depend on
timing, so repeated counts differ by about 0.2%; ``--repeat`` shows the spread.
Needs valgrind (Debian's package ``valgrind``); it runs about 50 times slower than native.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent

WORKLOAD = """
import asyncio, sys
tree, n = sys.argv[1], int(sys.argv[2])
sys.path.insert(0, tree + "/bench")
import pyconvex
assert pyconvex.__file__.startswith(tree), pyconvex.__file__
from pyconvex.testing import ConvexTest

async def main():
    async with ConvexTest(tree + "/bench/app/convex") as t:
        for _ in range(50):  # tables created, caches warm
            await t.mutation("bench:insert", {"body": "x" * 100})

        async def worker(count):
            for _ in range(count):
                await t.mutation("bench:insert", {"body": "x" * 100})

        await asyncio.gather(*(worker(n // 16) for _ in range(16)))

asyncio.run(main())
"""


def instructions(tree: str, mutations: int) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "workload.py"
        script.write_text(WORKLOAD)
        env = dict(os.environ, PYTHONPATH=tree)
        out = subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={tmp}/out",
             sys.executable, str(script), tree, str(mutations)],
            capture_output=True, text=True, env=env, cwd=tmp, check=True,
        )
    match = re.search(r"Collected : (\d+)", out.stderr)
    if match is None:
        raise SystemExit(f"no instruction count in valgrind's output:\n{out.stderr[-2000:]}")
    return int(match.group(1))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("trees", nargs="*", default=[str(BENCH.parent)])
    parser.add_argument("--mutations", type=int, default=1600)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (apt-get install valgrind)")
    print(f"| tree | instructions per insert mutation (median of {args.repeat}) | runs |")
    print("|---|---|---|")
    for tree in (str(Path(t).resolve()) for t in args.trees):
        base = instructions(tree, 0)
        runs = [(instructions(tree, args.mutations) - base) / args.mutations
                for _ in range(args.repeat)]
        print(f"| {tree} | {statistics.median(runs):,.0f} | "
              f"{', '.join(f'{r:,.0f}' for r in runs)} |", flush=True)


if __name__ == "__main__":
    main()
