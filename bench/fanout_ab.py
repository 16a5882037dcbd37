"""A/B of source trees on live fan-out and idle subscribers, alternating within one run.

    .venv/bin/python bench/fanout_ab.py TREE_A TREE_B [...] [--runs 3] [--subscribers 500,1000]
                                        [--memory | --gc]

Each run starts a `pyconvex serve` of `bench/channels_app` from each tree in turn (which
goes first alternates; `PYTHONPATH` is the tree), connects N raw WebSocket clients
speaking the sync protocol (bench/light_clients.py `LightWs`), subscribes them all to
`channels:latest`, and measures over 15 rounds of one HTTP insert: commit to the last
subscriber, p50 and max, and the server's CPU per commit (process and children, from
/proc). With --memory: only the RSS growth per connected, subscribed client instead.
With --gc: the server runs with a probe (SIGUSR1) and reports, per connected,
subscribed client, the growth of the objects the garbage collector tracks
(``gc.get_objects()``), and the time of a full collection with N clients connected
(median of 3), the types that grew most going to stderr: the pause a generation-2
collection puts into a fan-out round grows with the tracked objects.
A tree is a directory holding a `pyconvex/` package (`git archive <commit> | tar -x`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import sys
import tempfile
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from peer import _timed_rounds, subscribed
from wire import CHANNELS, Server


async def fan_out(server: Server, n: int) -> tuple[float, float, float]:
    """(p50 ms, max ms, server CPU ms per commit)."""
    conns = await subscribed(server, n, True)
    await asyncio.sleep(0.5)
    async with httpx.AsyncClient(timeout=30) as http:
        async def post(body: str) -> None:
            (await http.post(f"{server.url}/api/mutation", json={
                "path": "channels:post", "args": {"channel": "hot", "body": body}})).raise_for_status()
        lat, cpu, _ = await _timed_rounds(post, conns, "Transition", server.proc.pid)
    for c in conns:
        c.close()
    return statistics.median(lat), max(lat), cpu


# The server's sitecustomize (a directory put after the tree on PYTHONPATH): a SIGUSR1
# handler that writes what the collector tracks, and how long full collections take, to
# $PYCONVEX_GC_PROBE.
KIND = """
def kind(o):
    name = type(o).__qualname__
    if name == "coroutine":
        return "coroutine " + o.cr_code.co_qualname
    if name in ("function", "method"):
        return name + " " + getattr(o, "__qualname__", "?")
    if name == "cell":
        try:
            return "cell of " + type(o.cell_contents).__qualname__
        except ValueError:
            return "cell (empty)"
    return name
"""
"""The probes' name for a tracked object's kind (source, run inside the server;
bench/idle_bytes.py's probe uses it too)."""
PROBE = """
import collections, gc, json, os, signal, time
""" + KIND + """
def probe(signum, frame):
    gc.collect()
    objects = gc.get_objects()
    kinds = collections.Counter(kind(o) for o in objects)
    del objects
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        gc.collect()
        times.append(time.perf_counter() - t0)
    with open(os.environ["PYCONVEX_GC_PROBE"], "w") as f:
        json.dump({"objects": sum(kinds.values()), "kinds": kinds,
                   "collect_s": sorted(times)[1]}, f)
if os.environ.get("PYCONVEX_GC_PROBE"):
    signal.signal(signal.SIGUSR1, probe)
"""


class ProbedServer(Server):
    """``Server`` started under ``PROBE``."""

    def __init__(self, tmp: Path, app: Path) -> None:
        self.probe_file = tmp / "gc.json"
        (tmp / "probe").mkdir()
        (tmp / "probe" / "sitecustomize.py").write_text(PROBE)
        saved = dict(os.environ)
        os.environ["PYTHONPATH"] = os.pathsep.join([saved["PYTHONPATH"], str(tmp / "probe")])
        os.environ["PYCONVEX_GC_PROBE"] = str(self.probe_file)
        try:
            super().__init__(tmp, app)
        finally:
            os.environ.clear()
            os.environ.update(saved)

    async def probe(self) -> dict[str, object]:
        self.probe_file.unlink(missing_ok=True)
        os.kill(self.proc.pid, signal.SIGUSR1)
        for _ in range(400):
            await asyncio.sleep(0.05)
            try:
                return dict(json.loads(self.probe_file.read_text()))
            except (FileNotFoundError, json.JSONDecodeError):
                continue
        raise RuntimeError("the server did not answer the probe")


async def gc_figures(server: ProbedServer, n: int) -> tuple[float, float, float]:
    """(tracked objects per subscriber, full collection ms with none, with ``n``)."""
    await asyncio.sleep(0.5)
    before = await server.probe()
    conns = await subscribed(server, n, True)
    await asyncio.sleep(1)
    after = await server.probe()
    grew = {k: after["kinds"][k] - before["kinds"].get(k, 0)  # type: ignore[index]
            for k in after["kinds"]}  # type: ignore[union-attr]
    top = sorted(grew.items(), key=lambda kv: -kv[1])[:80]
    print("   grew per subscriber: " + ", ".join(f"{k} {v / n:.2f}" for k, v in top),
          file=sys.stderr)
    for c in conns:
        c.close()
    per = (int(after["objects"]) - int(before["objects"])) / n  # type: ignore[call-overload]
    return per, float(before["collect_s"]) * 1000, float(after["collect_s"]) * 1000  # type: ignore[arg-type]


async def memory(server: Server, n: int) -> float:
    """Server RSS KB per connected, subscribed client."""
    before = server.rss_kb()
    conns = await subscribed(server, n, True)
    await asyncio.sleep(1)
    per = (server.rss_kb() - before) / n
    for c in conns:
        c.close()
    return per


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("trees", nargs="+")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--subscribers", default="500,1000")
    parser.add_argument("--memory", action="store_true")
    parser.add_argument("--gc", action="store_true")
    args = parser.parse_args()
    trees = [str(Path(t).resolve()) for t in args.trees]
    sizes = [int(n) for n in args.subscribers.split(",")]
    results: dict[tuple[str, int], list[tuple[float, ...]]] = {}
    os.chdir(tempfile.gettempdir())  # `python -m` puts the working directory first
    for run in range(args.runs):
        for tree in trees if run % 2 == 0 else trees[::-1]:
            os.environ["PYTHONPATH"] = tree
            with tempfile.TemporaryDirectory() as tmp:
                server = ProbedServer(Path(tmp), CHANNELS) if args.gc else Server(Path(tmp), CHANNELS)
                try:
                    for n in sizes:
                        if isinstance(server, ProbedServer):
                            got = asyncio.run(gc_figures(server, n))
                        elif args.memory:
                            got = (asyncio.run(memory(server, n)),)
                        else:
                            got = asyncio.run(fan_out(server, n))
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
    if args.gc:
        print("| tree | N | tracked objects per subscriber | full collection ms, none | "
              "with N |\n|---|---|---|---|---|")
        for (tree, n), rows in results.items():
            print(f"| {tree} | {n} | " + " | ".join(
                f"{statistics.median(r[i] for r in rows):.1f}" for i in range(3)) + " |")
        return
    print("| tree | N | p50 ms | max ms | server CPU ms per commit |\n|---|---|---|---|---|")
    for (tree, n), rows in results.items():
        print(f"| {tree} | {n} | " + " | ".join(
            f"{statistics.median(r[i] for r in rows):.1f}" for i in range(3)) + " |")


if __name__ == "__main__":
    main()
