"""Where the CPU of an HTTP insert goes, per process, under the load bench/peer.py
compares with PocketBase: 16 keep-alive connections posting into a channel
(bench/load.mjs `channels`, or `pocketbase`).

    .venv/bin/python bench/process_cpu.py [--pocketbase] [--seconds 3]
    cd /tmp && PYTHONPATH=<tree> /work/main/.venv/bin/python /work/main/bench/process_cpu.py

After a second of warm-up it samples /proc over ``--seconds`` of steady load and prints
the insert rate, how busy the machine was, and each busy process's user and system CPU
(share of one core, and µs per insert): the server's main process, its SQLite writer
child, the load generator. On a 2-core machine this tells whether the server is bound by
one process's CPU (near 100% of a core) or by the commit's round trip (neither core full).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from peer import PocketBase
from wire import APP, CHANNELS, Server, node_load

Sample = dict[int, tuple[str, float, float]]


def processes() -> Sample:
    """pid -> (name, user s, system s) of every process."""
    tick = os.sysconf("SC_CLK_TCK")
    found: Sample = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
        except OSError:
            continue
        name = raw[raw.index("(") + 1:raw.rindex(")")]
        fields = raw.rsplit(")", 1)[1].split()
        found[int(entry.name)] = (name, int(fields[11]) / tick, int(fields[12]) / tick)
    return found


def machine() -> tuple[int, int]:
    """(all jiffies, idle + iowait jiffies) from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return sum(fields), fields[3] + fields[4]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pocketbase", action="store_true", help="measure PocketBase instead")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--mode", choices=["channels", "http", "ws"], default="channels",
                        help="bench/load.mjs load for pyconvex: channels (peer.py's), or "
                        "wire.py's HTTP or WebSocket inserts")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.pocketbase:
            server: PocketBase | Server = PocketBase(Path(tmp))
        else:
            server = Server(Path(tmp), CHANNELS if args.mode == "channels" else APP)
        mode = "pocketbase" if args.pocketbase else args.mode
        try:
            node_load(mode, server.url, 1.0)
            rate: list[float] = []
            load = threading.Thread(
                target=lambda: rate.append(node_load(mode, server.url, args.seconds + 3)))
            load.start()
            time.sleep(1.5)
            before, m0, t0 = processes(), machine(), time.monotonic()
            time.sleep(args.seconds)
            after, m1, elapsed = processes(), machine(), time.monotonic() - t0
            load.join()
        finally:
            server.stop()
    busy = 1 - (m1[1] - m0[1]) / (m1[0] - m0[0])
    per_insert = busy * (os.cpu_count() or 1) / rate[0] * 1e6
    print(f"{mode}: {rate[0]:,.0f} inserts/s, machine {busy * 100:.0f}% busy "
          f"({per_insert:.0f} µs of machine CPU per insert)")
    print("| process | user % of a core | system % | user µs/insert | system µs/insert |")
    print("|---|---|---|---|---|")
    for pid, (name, user, system) in after.items():
        if pid not in before:
            continue
        du, ds = user - before[pid][1], system - before[pid][2]
        if du + ds > 0.02:
            print(f"| {pid} {name} | {du / elapsed * 100:.1f} | {ds / elapsed * 100:.1f} | "
                  f"{du / elapsed / rate[0] * 1e6:.1f} | {ds / elapsed / rate[0] * 1e6:.1f} |")


if __name__ == "__main__":
    main()
