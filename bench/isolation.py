"""Does a busy action stall anybody else? Trivial-query latency over the wire, three ways.

    .venv/bin/python bench/isolation.py --runs 3 --seconds 3
    .venv/bin/python bench/isolation.py --alternatives --seconds 3
    .venv/bin/python bench/isolation.py --cores --runs 3

One `pyconvex serve` (actions in worker processes) serves the isolation fixture app.
A client sends `limits:fast` (a query returning a constant) back to back over one
keep-alive HTTP connection for `--seconds`, and reports p50/p99 in ms:
  (a) idle;
  (b) while 4 actions busy-loop the CPU (`limits:busy`);
  (c) while 4 actions call `time.sleep` (`limits:block`).
Goal (issue: isolation): p99 in (b) and (c) at most 2x the idle p99, and at most 50 ms.
Medians over `--runs` runs; each run measures (a), (b), (c) in turn on the same server.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from wire import Server

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "tests" / "fixtures" / "isolation" / "convex"


def start(tmp: Path) -> tuple[Server, str]:
    server = Server(tmp, APP, ("--action-timeout", "120"))
    return server, server.url


def latencies(client: httpx.Client, url: str, seconds: float) -> tuple[float, float]:
    body = {"path": "limits:fast", "args": {}}
    times: list[float] = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        t0 = time.perf_counter()
        response = client.post(f"{url}/api/query", json=body)
        times.append((time.perf_counter() - t0) * 1000)
        assert response.json()["status"] == "success", response.text
    times.sort()
    return times[len(times) // 2], times[max(0, int(len(times) * 0.99) - 1)]


def with_actions(
    url: str, path: str, seconds: float, measure: Callable[[], tuple[float, float]],
) -> tuple[float, float]:
    def run() -> None:
        httpx.post(f"{url}/api/action", json={"path": path, "args": {"seconds": seconds + 2}},
                   timeout=seconds + 60)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(1.0)  # workers started and busy
    result: tuple[float, float] = measure()
    for t in threads:
        t.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--cores", action="store_true",
                        help="do CPU-bound actions use more than one core?")
    parser.add_argument("--alternatives", action="store_true",
                        help="measure the designs not chosen (see the end of this file)")
    args = parser.parse_args()
    if args.alternatives:
        alternatives(args.seconds)
        return
    if args.cores:
        cores(args.runs)
        return
    figures: dict[str, list[tuple[float, float]]] = {"idle": [], "busy": [], "sleep": []}
    with tempfile.TemporaryDirectory() as tmp:
        proc, url = start(Path(tmp))
        try:
            with httpx.Client(timeout=60) as client:
                latencies(client, url, 1.0)  # warm up
                for _ in range(args.runs):
                    figures["idle"].append(latencies(client, url, args.seconds))
                    for name, path in (("busy", "limits:busy"), ("sleep", "limits:block")):
                        figures[name].append(with_actions(
                            url, path, args.seconds,
                            lambda: latencies(client, url, args.seconds),
                        ))
        finally:
            proc.stop()
    idle_p99 = statistics.median(p99 for _, p99 in figures["idle"])
    print(f"trivial query over HTTP, medians of {args.runs} runs of {args.seconds:g} s")
    for name, label in (("idle", "(a) idle"), ("busy", "(b) 4 actions busy-looping"),
                        ("sleep", "(c) 4 actions in time.sleep")):
        p50 = statistics.median(p for p, _ in figures[name])
        p99 = statistics.median(p for _, p in figures[name])
        verdict = "" if name == "idle" else (
            f"  {p99 / idle_p99:.2f}x idle p99: "
            + ("goal met" if p99 <= 2 * idle_p99 and p99 <= 50 else "goal NOT met")
        )
        print(f"{label:32s} p50 {p50:6.2f} ms  p99 {p99:6.2f} ms{verdict}")


def cores(runs: int, n: float = 2e7) -> None:
    """Wall time of 4 CPU-bound actions (a fixed amount of work each) run one after the
    other, then all at once: with actions in worker processes the second is ~1/cores
    of the first; on the server's own loop it could only be the same."""
    with tempfile.TemporaryDirectory() as tmp:
        proc, url = start(Path(tmp))
        try:
            def crunch() -> None:
                body = httpx.post(f"{url}/api/action",
                                  json={"path": "limits:crunch", "args": {"n": n}}, timeout=120)
                assert body.json()["status"] == "success", body.text

            def all_at_once() -> float:
                threads = [threading.Thread(target=crunch) for _ in range(4)]
                t0 = time.perf_counter()
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
                return time.perf_counter() - t0

            all_at_once()  # four workers started and warm
            sequential, parallel = [], []
            for _ in range(runs):
                t0 = time.perf_counter()
                for _ in range(4):
                    crunch()
                sequential.append(time.perf_counter() - t0)
                parallel.append(all_at_once())
        finally:
            proc.stop()
    seq, par = statistics.median(sequential), statistics.median(parallel)
    print(f"4 CPU-bound actions: one after the other {seq:.2f} s, all at once {par:.2f} s "
          f"({seq / par:.2f}x: function code on more than one core), medians of {runs}")


# ------------------------------------------------------------------ the alternatives
# `--alternatives`: why worker processes, and why at a lower priority. An asyncio loop
# measures how late a 1 ms timer fires (its lag: what every client's request waits on
# top of its own work) while 4 busy loops run as threads of the same process, as
# processes at the server's priority, and as processes at nice 19; and the round trip of
# one pickled frame over a socket pair (what each ctx call from a worker costs).

def _spin() -> None:
    while True:
        pass


def _loop_lag(seconds: float) -> tuple[float, float]:
    import asyncio

    async def measure() -> list[float]:
        lags: list[float] = []
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            t0 = time.perf_counter()
            await asyncio.sleep(0.001)
            lags.append((time.perf_counter() - t0 - 0.001) * 1000)
        return lags

    lags = sorted(asyncio.run(measure()))
    return lags[len(lags) // 2], lags[int(len(lags) * 0.99) - 1]


def _spinners(kind: str) -> Callable[[], None]:
    import os
    import signal

    if kind == "none":
        return lambda: None
    if kind == "threads":
        for _ in range(4):
            threading.Thread(target=_spin, daemon=True).start()
        return lambda: None  # daemon threads end with the measuring child
    nice = 19 if kind == "processes-nice" else 0
    procs = [subprocess.Popen([sys.executable, "-c",
                               f"import os; os.nice({nice}); exec('while True: pass')"])
             for _ in range(4)]
    time.sleep(0.3)

    def stop() -> None:
        for p in procs:
            os.kill(p.pid, signal.SIGKILL)
            p.wait()

    return stop


def _frame_round_trip(n: int = 5000) -> float:
    import pickle

    a, b = socket.socketpair()
    message = ("call", 1, "run_query", ("messages:list", {"channel": "x"}), {})
    start = time.perf_counter()
    for _ in range(n):
        data = pickle.dumps(message)
        a.sendall(len(data).to_bytes(4, "big") + data)
        size = int.from_bytes(b.recv(4), "big")
        pickle.loads(b.recv(size))
        b.sendall(len(data).to_bytes(4, "big") + data)
        size = int.from_bytes(a.recv(4), "big")
        pickle.loads(a.recv(size))
    return (time.perf_counter() - start) / n * 1e6


def alternatives(seconds: float) -> None:
    print(f"event-loop lag of a 1 ms timer over {seconds:g} s (p50 / p99 ms):")
    for kind in ("none", "threads", "processes", "processes-nice"):
        code = (f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); "
                f"import isolation as m; stop = m._spinners({kind!r}); "
                f"print(*m._loop_lag({seconds})); stop()")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             check=True).stdout.split()
        print(f"  4 busy loops as {kind:15s} p50 {float(out[0]):7.2f}  p99 {float(out[1]):7.2f}")
    print(f"one ctx call's frame round trip over a socket pair: {_frame_round_trip():.1f} µs")


if __name__ == "__main__":
    main()
