"""Secure functions: what row-level security and a sharded rate limit cost.

(a) A 1,000-document query (``collect``) through row-level security against the same
    query without it, in one run: a rule on a field of the document, and a rule that
    reads another document (the item's channel) for each document.
(b) 16 concurrent clients calling one mutation that consumes a sharded limit (64
    shards, 1,000 tokens/s, capacity 200) against the same mutation without the limit:
    throughput ratio, and over-admissions (admitted calls beyond capacity + rate x
    elapsed, from the transaction times the admitted calls recorded). That limit binds,
    and a refused call commits nothing, so the same ratio is also taken for a limit too
    wide to bind (every call consumes a token and inserts): the limiter's own cost.

In-process (``Deployment.runner``, the path clients' requests take after decoding),
on SQLite in a temporary directory.

    .venv/bin/python bench/secure.py --runs 5
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pyconvex.deployment import Deployment

APP = Path(__file__).resolve().parent / "secure_app" / "convex"
RATE_PER_MS = 1.0
CAPACITY = 200


PATHS = ("bench:plain", "bench:with_field_rule", "bench:with_reading_rule")


async def rls_run(reps: int) -> dict[str, float]:
    """Median time of each query, the three interleaved (rotating which goes first)."""
    with tempfile.TemporaryDirectory() as tmp:
        d = await Deployment.open(f"sqlite:///{tmp}/db.sqlite3", APP)
        try:
            await d.runner.run_mutation("bench:populate", {"n": 1000})
            times: dict[str, list[float]] = {p: [] for p in PATHS}
            for rep in range(reps + 2):
                for path in PATHS[rep % 3:] + PATHS[:rep % 3]:
                    start = time.perf_counter()
                    result = await d.runner.run_query(path, {})
                    elapsed = time.perf_counter() - start
                    assert result.value == 1000, result.value
                    if rep >= 2:  # the first two rounds warm up
                        times[path].append(elapsed)
            return {p: statistics.median(ts) for p, ts in times.items()}
        finally:
            await d.close()


def over_admissions(times: list[float]) -> int:
    """The most admitted calls beyond capacity + rate x length in any window of the
    sorted admission times: calls k..i hold i - k + 1 admissions in t_i - t_k ms, so the
    excess is (i + 1 - CAPACITY - RATE t_i) + max over k <= i of (RATE t_k - k), kept as a
    running maximum (every window, in one pass)."""
    over = 0.0
    best = float("-inf")
    for i, t in enumerate(times):
        best = max(best, RATE_PER_MS * t - i)
        over = max(over, i + 1 - CAPACITY - RATE_PER_MS * t + best)
    return int(over - 1e-6) if over > 1e-6 else 0


async def admitted_times(d: Deployment) -> list[float]:
    """Every admitted call's transaction time, page by page."""
    times: list[float] = []
    cursor: str | None = None
    while True:
        page = (await d.runner.run_query("bench:admitted_times", {"cursor": cursor})).value
        times.extend(page["times"])
        if page["isDone"]:
            return times
        cursor = page["continueCursor"]


async def limit_run(path: str, clients: int, seconds: float) -> tuple[float, int, int]:
    with tempfile.TemporaryDirectory() as tmp:
        d = await Deployment.open(f"sqlite:///{tmp}/db.sqlite3", APP)
        try:
            done = 0
            deadline = time.perf_counter() + seconds

            async def client(i: int) -> None:
                nonlocal done
                while time.perf_counter() < deadline:
                    await d.runner.run_mutation(path, {"client": i})
                    done += 1

            start, cpu_start = time.perf_counter(), time.process_time()
            await asyncio.gather(*(client(i) for i in range(clients)))
            elapsed = time.perf_counter() - start
            cpu = time.process_time() - cpu_start
            times = sorted(await admitted_times(d))
            over = over_admissions(times) if path == "bench:limited" else 0
            print(f"    {path}: {done} calls, {d.runner.occ_retries} OCC retries, "
                  f"{cpu / done * 1e6:.0f} µs CPU per call (this process)", file=sys.stderr)
            return done / elapsed, len(times), over
        finally:
            await d.close()


def row(figure: str, values: list[float]) -> None:
    print(f"| {figure} | {statistics.median(values):.2f} | {', '.join(f'{x:.2f}' for x in values)} |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--parts", default="ab", help="a: row-level security, b: rate limit")
    args = parser.parse_args()

    print("| figure | median | runs |")
    print("|---|---|---|")
    if "a" in args.parts:
        field, reading = [], []
        for _ in range(args.runs):
            r = asyncio.run(rls_run(args.reps))
            field.append(r["bench:with_field_rule"] / r["bench:plain"])
            reading.append(r["bench:with_reading_rule"] / r["bench:plain"])
            print(f"  run: plain {r['bench:plain'] * 1e3:.2f} ms, field rule "
                  f"{r['bench:with_field_rule'] * 1e3:.2f} ms, reading rule "
                  f"{r['bench:with_reading_rule'] * 1e3:.2f} ms", file=sys.stderr)
        row("1,000-doc query with a field rule / without RLS (goal <= 1.3)", field)
        row("1,000-doc query with a rule reading one document per doc / without RLS", reading)
    if "b" in args.parts:
        ratios, open_ratios, overs = [], [], []
        for run in range(args.runs):
            # which mutation goes first alternates, so a machine slowing down mid-run
            # does not always favour the same one
            rates: dict[str, float] = {}
            paths = ("bench:unlimited", "bench:limited", "bench:limited_open")
            for path in paths[:: 1 if run % 2 == 0 else -1]:
                rate, n_admitted, over = asyncio.run(limit_run(path, args.clients, args.seconds))
                rates[path] = rate
                if path == "bench:limited":
                    overs.append(over)
                    admitted = n_admitted
            ratios.append(rates["bench:limited"] / rates["bench:unlimited"])
            open_ratios.append(rates["bench:limited_open"] / rates["bench:unlimited"])
            print(f"  run: unlimited {rates['bench:unlimited']:,.0f}/s, limited "
                  f"{rates['bench:limited']:,.0f}/s (admitted {admitted}, "
                  f"over-admitted {overs[-1]}), limit never binding "
                  f"{rates['bench:limited_open']:,.0f}/s", file=sys.stderr)
        row(f"{args.clients} clients, sharded limit / same mutation unlimited (goal >= 0.5)", ratios)
        row(f"{args.clients} clients, sharded limit that never binds (every call consumes and "
            "inserts) / same mutation unlimited", open_ratios)
        print(f"| over-admissions (goal 0) | {max(overs)} | {', '.join(map(str, overs))} |")

if __name__ == "__main__":
    main()
