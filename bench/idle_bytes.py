"""Where an idle subscriber's bytes are, in the server process.

    cd /tmp && PYTHONPATH=<tree> /work/main/.venv/bin/python /work/main/bench/idle_bytes.py \
        [--subscribers 1000] [--top 30]

Starts `pyconvex serve` of bench/channels_app from the tree on PYTHONPATH (run it from
outside /work/main: `python -m` puts the current directory first) under a probe (its
sitecustomize, after the tree on PYTHONPATH) that starts ``tracemalloc`` and, on
SIGUSR1, collects, counts what the garbage collector tracks by type and dumps a
snapshot. 50 subscribed clients warm the server; then N more connect, speak the sync
protocol and subscribe to `channels:latest` (bench/peer.py's clients). Printed per
subscriber: the growth of traced Python allocations by line that allocated them
(largest first), and of tracked objects by type with their ``sys.getsizeof``.
tracemalloc's own bookkeeping inflates RSS here: read RSS from bench/fanout_ab.py
--memory or bench/peer.py instead.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import tempfile
import tracemalloc
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fanout_ab import KIND
from light_clients import LightWs
from peer import subscribed
from wire import CHANNELS, Server

PROBE = r'''
import collections, gc, json, os, signal, sys, tracemalloc
tracemalloc.start(1)
''' + KIND + r'''
def probe(signum, frame):
    gc.collect()
    objects = gc.get_objects()
    kinds, sizes = collections.Counter(), collections.Counter()
    for o in objects:
        k = kind(o)
        kinds[k] += 1
        sizes[k] += sys.getsizeof(o)
    del objects
    out = os.environ["IDLE_BYTES_PROBE"]
    tracemalloc.take_snapshot().dump(out + ".snap")
    with open(out + ".tmp", "w") as f:
        json.dump({"kinds": kinds, "sizes": sizes}, f)
    os.rename(out + ".tmp", out)
if os.environ.get("IDLE_BYTES_PROBE"):
    signal.signal(signal.SIGUSR1, probe)
'''


async def _probe(server: Server, path: Path) -> tuple[dict[str, Any], tracemalloc.Snapshot]:
    path.unlink(missing_ok=True)
    os.kill(server.proc.pid, signal.SIGUSR1)
    for _ in range(2000):
        await asyncio.sleep(0.05)
        if path.exists():
            return json.loads(path.read_text()), tracemalloc.Snapshot.load(f"{path}.snap")
    raise RuntimeError("the server did not answer the probe")


async def measure(server: Server, out: Path, n: int, top: int) -> None:
    warm = await subscribed(server, 50, True)
    await asyncio.sleep(0.5)
    counts0, snap0 = await _probe(server, out)
    conns = await subscribed(server, n, True)
    await asyncio.sleep(1)
    counts1, snap1 = await _probe(server, out)
    stats = snap1.compare_to(snap0, "lineno")
    total = sum(s.size_diff for s in stats)
    print(f"traced Python allocations per subscriber: {total / n:,.0f} B "
          f"({sum(s.count_diff for s in stats) / n:.1f} blocks)")
    for s in stats[:top]:
        where = str(s.traceback).replace(str(Path(sys.executable).parent.parent), "")
        print(f"  {s.size_diff / n:7.0f} B {s.count_diff / n:5.2f} blocks  {where}")
    k0, k1 = counts0["kinds"], counts1["kinds"]
    print(f"tracked objects per subscriber: {(sum(k1.values()) - sum(k0.values())) / n:.1f}")
    grew = sorted(((k, k1[k] - k0.get(k, 0), counts1["sizes"][k] - counts0["sizes"].get(k, 0))
                   for k in k1), key=lambda row: -row[2])
    for name, count, size in grew[:top]:
        print(f"  {count / n:5.2f} x {name}: {size / n:,.0f} B")
    for c in [*warm, *conns]:
        assert isinstance(c, LightWs)
        c.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "probe").mkdir()
        (root / "probe" / "sitecustomize.py").write_text(PROBE)
        saved = dict(os.environ)
        os.environ["PYTHONPATH"] = os.pathsep.join(
            p for p in (saved.get("PYTHONPATH"), str(root / "probe")) if p)
        os.environ["IDLE_BYTES_PROBE"] = str(root / "probe.json")
        try:
            server = Server(root, CHANNELS)
        finally:
            os.environ.clear()
            os.environ.update(saved)
        try:
            asyncio.run(measure(server, root / "probe.json", args.subscribers, args.top))
        finally:
            server.stop()


if __name__ == "__main__":
    main()
