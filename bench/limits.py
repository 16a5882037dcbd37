"""The server's resident memory around oversized requests (the caps of server/limits.py):
each request is sent to a fresh `pyconvex serve`, and its RSS read before and after.

    .venv/bin/python bench/limits.py

(The assertion form of this is tests/server/test_limits.py.)
"""

from __future__ import annotations

import asyncio
import json
import socket
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import websockets

from tests.conftest import FIXTURES, start_server, stop_server

MB = 1024 * 1024


def rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def http(url: str, head: bytes, body_mb: int, chunked: bool) -> int:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=60) as sock:
        sock.sendall(head)
        block = b"x" * MB
        try:
            for _ in range(body_mb):
                sock.sendall(b"%x\r\n%s\r\n" % (MB, block) if chunked else block)
        except OSError:
            pass
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    return int(data.split(b" ", 2)[1]) if data else 0


def post(path: str, mb: int, chunked: bool) -> bytes:
    length = b"transfer-encoding: chunked" if chunked else b"content-length: %d" % (mb * MB)
    return b"POST %s HTTP/1.1\r\nhost: x\r\n%s\r\n\r\n" % (path.encode(), length)


async def ws_message(url: str, mb: int) -> str:
    async with websockets.connect(url.replace("http://", "ws://") + "/api/sync",
                                  max_size=None) as ws:
        await ws.send(json.dumps({"type": "Connect", "sessionId": "s", "connectionCount": 0}))
        try:
            await ws.send(json.dumps({"type": "Action", "requestId": 0, "udfPath": "hooks:events",
                                      "args": [{"x": "a" * (mb * MB)}]}))
            await asyncio.wait_for(ws.recv(), 30)
        except websockets.ConnectionClosed as e:
            return f"closed {e.rcvd.code if e.rcvd else '?'}"
    return "answered"


def main() -> None:
    cases = [
        ("POST /api/mutation, 300 MB, Content-Length", lambda u: http(u, post("/api/mutation", 300, False), 300, False)),
        ("POST /api/run/hooks/events, 300 MB, Content-Length", lambda u: http(u, post("/api/run/hooks/events", 300, False), 300, False)),
        ("POST /api/query, 100 MB, chunked", lambda u: http(u, post("/api/query", 100, True), 100, True)),
        ("POST /http/echo (HTTP action), 100 MB, chunked", lambda u: http(u, post("/http/echo", 100, True), 100, True)),
        ("GET /version with a 64 MB header", lambda u: http(u, b"GET /version HTTP/1.1\r\nhost: x\r\nx-filler: ", 64, False)),
        ("sync Action message of 20 MiB", lambda u: asyncio.run(ws_message(u, 20))),
    ]
    for name, send in cases:
        with tempfile.TemporaryDirectory() as tmp:
            proc, url = start_server(Path(tmp) / "db.sqlite3", FIXTURES / "httpapp" / "convex")
            try:
                before = rss(proc.pid)
                outcome = send(url)
                after = rss(proc.pid)
            finally:
                stop_server(proc)
        print(f"{name}: {outcome}; RSS {before / MB:.0f} -> {after / MB:.0f} MB "
              f"(+{(after - before) / MB:.0f})", flush=True)


if __name__ == "__main__":
    main()
