"""Server and sync benchmarks (issue: server and sync engine). Prints a Markdown table.

    .venv/bin/python bench/wire.py [--runs 3]

Everything talks to a real `pyconvex serve` subprocess over loopback, with baselines
measured in the same run:
  a. raw SQLite single-document commits/s (bench/baselines.py).
  b. durable insert mutations/s from 16 concurrent clients over HTTP and over WebSocket.
  c. one-client mutation round trip over WebSocket (MutationResponse + covering
     Transition): p50 / p99.
  d. commit-to-subscriber latency for one query shared by 100 and by 1,000 WebSocket
     clients (time from the mutation's HTTP response to the last client's Transition),
     against a raw `websockets` broadcast of the same payload to the same number of
     clients (the floor).
  e. RSS per idle session with 1,000 connected sessions, and the server's CPU while
     they sit idle (pings, timers, garbage collection over session objects).
  f. server CPU per insert mutation (HTTP, sequential) into a channel with one live
     subscriber, with no other subscriptions and with 10,000 idle subscriptions to
     other channels (100 sessions of 100 queries): a commit should cost what it
     touches, not the number of subscriptions (goal: ratio <= 1.2).

    .venv/bin/python bench/wire.py --parts f   (only some parts; a is always run)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import websockets

sys.path.insert(0, str(Path(__file__).resolve().parent))
from baselines import raw_sqlite_single_doc_commits
from cpu import cpu_seconds

APP = Path(__file__).resolve().parent / "app" / "convex"
CHANNELS = Path(__file__).resolve().parent / "channels_app" / "convex"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, tmp: Path, app: Path = APP, extra: tuple[str, ...] = (),
                 python: str = sys.executable) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [python, "-m", "pyconvex.cli.main", "serve", "--functions", str(app),
             "--db", f"sqlite:///{tmp / 'db.sqlite3'}", "--port", str(self.port), "--site-port", "0",
             *extra],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            # Not the caller's directory: `python -m` puts the working directory first on
            # sys.path, ahead of PYTHONPATH, and the A/B scripts choose the tree through
            # PYTHONPATH (run from a checkout, both sides would be that checkout).
            cwd=tmp,
        )
        for _ in range(600):
            try:
                if httpx.get(f"{self.url}/version", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.05)
        raise RuntimeError("server did not start")

    def cpu_s(self) -> float:
        own, children = cpu_seconds(self.proc.pid)
        return own + children

    def rss_kb(self) -> int:
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


class WsClient:
    """A minimal protocol client: enough to subscribe and to send mutations."""

    def __init__(self, ws: websockets.ClientConnection) -> None:
        self.ws = ws
        self.qs = 0
        self.req = 0

    @classmethod
    async def connect(cls, url: str) -> WsClient:
        ws = await websockets.connect(url.replace("http", "ws") + "/api/sync", max_size=None)
        await ws.send(json.dumps({"type": "Connect", "sessionId": str(uuid.uuid4()),
                                  "connectionCount": 0, "lastCloseReason": "InitialConnect"}))
        return cls(ws)

    async def subscribe(self, path: str, args: dict) -> None:
        await self.ws.send(json.dumps({"type": "ModifyQuerySet", "baseVersion": self.qs,
                                       "newVersion": self.qs + 1, "modifications": [
                                           {"type": "Add", "queryId": self.qs, "udfPath": path, "args": [args]}]}))
        self.qs += 1
        await self.until("Transition")

    async def until(self, kind: str) -> dict:
        while True:
            msg = json.loads(await self.ws.recv())
            if msg["type"] == kind:
                return msg

    async def mutation(self, path: str, args: dict) -> None:
        self.req += 1
        await self.ws.send(json.dumps({"type": "Mutation", "requestId": self.req, "udfPath": path, "args": [args]}))
        await self.until("MutationResponse")
        await self.until("Transition")


LOAD = Path(__file__).resolve().parent / "load.mjs"


def node_load(mode: str, url: str, seconds: float, clients: int = 16) -> float:
    """Durable insert mutations/s from ``clients`` concurrent clients, driven by
    bench/load.mjs: a Node load generator (keep-alive HTTP, the `ws` package) costs less
    CPU than the server, so on 2 cores the server, not the generator, is the limit."""
    out = subprocess.run(["node", str(LOAD), mode, url, str(clients), str(seconds)],
                         capture_output=True, text=True, check=True, timeout=seconds + 60)
    return float(out.stdout.strip())


async def round_trip(url: str, n: int = 300) -> tuple[float, float]:
    c = await WsClient.connect(url)
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        await c.mutation("bench:noop", {})
        times.append((time.perf_counter() - t0) * 1000)
    await c.ws.close()
    times.sort()
    return times[len(times) // 2], times[int(len(times) * 0.99) - 1]


async def fan_out(url: str, clients: int, rounds: int = 15) -> tuple[float, float]:
    conns = []
    for i in range(0, clients, 50):
        conns.extend(await asyncio.gather(*(WsClient.connect(url) for _ in range(min(50, clients - i)))))
    for i in range(0, clients, 50):
        await asyncio.gather(*(c.subscribe("bench:latest", {}) for c in conns[i:i + 50]))
    lat = []
    async with httpx.AsyncClient(timeout=30) as http:
        for r in range(rounds):
            waiters = [asyncio.ensure_future(c.until("Transition")) for c in conns]
            await asyncio.sleep(0.01)
            t0 = time.perf_counter()
            await http.post(f"{url}/api/mutation", json={"path": "bench:insert", "args": {"body": f"r{r}"}})
            await asyncio.gather(*waiters)
            lat.append((time.perf_counter() - t0) * 1000)
    for c in conns:
        await c.ws.close()
    lat.sort()
    return statistics.median(lat), lat[-1]


async def broadcast_floor(clients: int, rounds: int = 15) -> float:
    """The same fan-out with a raw websockets server: the floor for this machine."""
    conns: set = set()

    async def handler(ws) -> None:
        conns.add(ws)
        try:
            await ws.wait_closed()
        finally:
            conns.discard(ws)

    payload = json.dumps({"type": "Transition", "modifications": [{"value": [{"body": "x" * 100}]}]})
    async with websockets.serve(handler, "127.0.0.1", 0, compression=None) as server:
        port = server.sockets[0].getsockname()[1]
        clients_ = [await websockets.connect(f"ws://127.0.0.1:{port}") for _ in range(clients)]
        while len(conns) < clients:
            await asyncio.sleep(0.01)
        lat = []
        for _ in range(rounds):
            t0 = time.perf_counter()
            waiters = [asyncio.ensure_future(c.recv()) for c in clients_]
            websockets.broadcast(conns, payload)
            await asyncio.gather(*waiters)
            lat.append((time.perf_counter() - t0) * 1000)
        for c in clients_:
            await c.close()
    return statistics.median(lat)


async def idle_sessions(url: str, server: Server, n: int = 1000) -> tuple[float, float, float]:
    """(RSS KB per idle session, server CPU ms/s idle without them, and with them)."""
    before = server.rss_kb()
    quiet = await idle_cpu(server)
    conns = []
    for _ in range(0, n, 100):
        conns.extend(await asyncio.gather(*(WsClient.connect(url) for _ in range(100))))
    await asyncio.sleep(1)
    after = server.rss_kb()
    busy = await idle_cpu(server)
    for c in conns:
        await c.ws.close()
    return (after - before) / n, quiet, busy


async def idle_cpu(server: Server, seconds: float = 5.0) -> float:
    """The server's CPU ms per second while nothing is asked of it."""
    t0, c0 = time.perf_counter(), server.cpu_s()
    await asyncio.sleep(seconds)
    return (server.cpu_s() - c0) * 1000 / (time.perf_counter() - t0)


async def subscribe_channels(url: str, channels: list[str], per_client: int = 100) -> list[WsClient]:
    """Sessions of up to ``per_client`` queries each, one channel per query."""
    clients = []
    for i in range(0, len(channels), per_client):
        c = await WsClient.connect(url)
        mods = [{"type": "Add", "queryId": q, "udfPath": "channels:latest", "args": [{"channel": ch}]}
                for q, ch in enumerate(channels[i:i + per_client])]
        await c.ws.send(json.dumps({"type": "ModifyQuerySet", "baseVersion": 0, "newVersion": 1,
                                    "modifications": mods}))
        c.qs = 1
        await c.until("Transition")
        clients.append(c)
    return clients


async def cpu_per_insert(url: str, server: Server, n: int = 300, warm: int = 20) -> float:
    """Server CPU µs per insert into channel "hot" (sequential HTTP mutations)."""
    async with httpx.AsyncClient(timeout=30) as http:
        async def post(body: str) -> None:
            r = await http.post(f"{url}/api/mutation",
                                json={"path": "channels:post", "args": {"channel": "hot", "body": body}})
            r.raise_for_status()

        for i in range(warm):
            await post(f"warm{i}")
        c0 = server.cpu_s()
        for i in range(n):
            await post(f"b{i}")
        return (server.cpu_s() - c0) / n * 1e6


async def idle_subscription_cost(url: str, server: Server, idle: int = 10_000) -> tuple[float, float]:
    """(CPU µs per insert with no idle subscriptions, with ``idle`` of them). The server
    is warmed first, and the figure without is the mean of one taken before the idle
    subscriptions arrive and one after they leave, so neither side gets the cold start."""
    hot = (await subscribe_channels(url, ["hot"]))[0]
    drain = asyncio.ensure_future(_drain(hot))
    before = await cpu_per_insert(url, server, warm=300)
    others = await subscribe_channels(url, [f"idle{i}" for i in range(idle)])
    loaded = await cpu_per_insert(url, server)
    for c in others:
        await c.ws.close()
    await asyncio.sleep(1)
    after = await cpu_per_insert(url, server)
    drain.cancel()
    await hot.ws.close()
    return (before + after) / 2, loaded


async def _drain(c: WsClient) -> None:
    while True:
        await c.ws.recv()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--parts", default="abcdef")
    parser.add_argument("--idle", type=int, default=10_000, help="idle subscriptions in f")
    args = parser.parse_args()
    rows: dict[str, list[float]] = {}

    def add(name: str, value: float) -> None:
        rows.setdefault(name, []).append(value)

    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as tmp:
            add("a. raw SQLite single-doc commits/s", raw_sqlite_single_doc_commits(Path(tmp) / "raw.sqlite3", 2000))
            server = Server(Path(tmp))
            try:
                if "b" in args.parts:
                    http_rate = node_load("http", server.url, args.seconds)
                    ws_rate = node_load("ws", server.url, args.seconds)
                    add("b. insert mutations/s, 16 HTTP clients", http_rate)
                    add("b. insert mutations/s, 16 WebSocket clients", ws_rate)
                if "c" in args.parts:
                    p50, p99 = asyncio.run(round_trip(server.url))
                    add("c. WS mutation round trip p50 ms (goal <= 2)", p50)
                    add("c. WS mutation round trip p99 ms (goal <= 10)", p99)
                for n in (100, 1000) if "d" in args.parts else ():
                    med, worst = asyncio.run(fan_out(server.url, n))
                    add(f"d. commit-to-last-subscriber ms, {n} clients, p50", med)
                    add(f"d. commit-to-last-subscriber ms, {n} clients, max", worst)
                    add(f"d. raw websockets broadcast floor ms, {n} clients", asyncio.run(broadcast_floor(n)))
                if "e" in args.parts:
                    rss, quiet, busy = asyncio.run(idle_sessions(server.url, server))
                    add("e. RSS KB per idle session, 1,000 sessions (goal <= 50)", rss)
                    add("e. server CPU ms/s idle, no sessions", quiet)
                    add("e. server CPU ms/s idle, 1,000 idle sessions", busy)
            finally:
                server.stop()
            if "f" in args.parts:
                (Path(tmp) / "f").mkdir()
                server = Server(Path(tmp) / "f", CHANNELS)
                try:
                    base, loaded = asyncio.run(idle_subscription_cost(server.url, server, args.idle))
                    add("f. server CPU µs per insert, no idle subscriptions", base)
                    add(f"f. server CPU µs per insert, {args.idle:,} idle subscriptions", loaded)
                    add("f. ratio (goal <= 1.2)", loaded / base)
                finally:
                    server.stop()
    raw = statistics.median(rows["a. raw SQLite single-doc commits/s"])
    print(f"| figure | median of {args.runs} | runs |")
    print("|---|---|---|")
    for name, values in rows.items():
        print(f"| {name} | {statistics.median(values):,.2f} | {', '.join(f'{v:,.2f}' for v in values)} |")
        if name.startswith("b."):
            ratio = statistics.median(values) / raw
            print(f"| {name} / raw SQLite (goal >= 1.0) | {ratio:.2f} | |")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
