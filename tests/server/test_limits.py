"""What one request or connection may make the server hold, measured on a real server:
oversized bodies and heads are refused at their caps as they stream in (the server's
resident memory measured around each), silent connections are closed, and a sync
socket's messages and live queries are bounded."""

from __future__ import annotations

import asyncio
import json
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import websockets

from pyconvex.server.limits import (
    HEADER_TIMEOUT_S,
    MAX_ARGS_BYTES,
    MAX_HEADER_BYTES,
    MAX_HTTP_ACTION_BODY,
)
from pyconvex.sync.session import MAX_QUERIES_PER_SOCKET
from tests.conftest import FIXTURES, start_server, stop_server
from tests.server.inprocess import live_server

MB = 1024 * 1024
GROWTH_BOUND = 48 * MB
"""The most the server's RSS may grow over one refused request (its cap is 16-20 MB:
anything near the request's own size, 100-300 MB, means it was buffered)."""


def _rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[int, str, str]]:
    """(server pid, deployment URL, HTTP actions site URL)."""
    site_port = None
    proc, url = start_server(tmp_path / "db.sqlite3", FIXTURES / "httpapp" / "convex")
    try:
        args = proc.args
        assert isinstance(args, list)
        site_port = args[args.index("--site-port") + 1]
        yield proc.pid, url, f"http://127.0.0.1:{site_port}"
    finally:
        stop_server(proc)


@pytest.fixture
def url(tmp_path: Path) -> Iterator[str]:
    """For tests that measure no memory: the same server, in-process (inprocess.py)."""
    with live_server(tmp_path / "db.sqlite3", FIXTURES / "httpapp" / "convex", site=True) as server:
        yield server.url


def _connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=30)
    return sock


def _response(sock: socket.socket) -> tuple[int, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1]) if head else 0
    return status, body


def _stream(sock: socket.socket, total: int, chunked: bool) -> None:
    """Send up to ``total`` body bytes; stop quietly when the server has hung up."""
    block = b"x" * MB
    sent = 0
    try:
        while sent < total:
            if chunked:
                sock.sendall(b"%x\r\n%s\r\n" % (len(block), block))
            else:
                sock.sendall(block)
            sent += len(block)
        if chunked:
            sock.sendall(b"0\r\n\r\n")
    except OSError:
        pass


def _oversized(url: str, path: str, total: int, *, chunked: bool) -> tuple[int, bytes]:
    sock = _connect(url)
    try:
        length = b"transfer-encoding: chunked" if chunked else b"content-length: %d" % total
        sock.sendall(b"POST %s HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n%s\r\n\r\n"
                     % (path.encode(), length))
        _stream(sock, total, chunked)
        return _response(sock)
    finally:
        sock.close()


@pytest.mark.parametrize(
    ("route", "size", "chunked", "cap"),
    [
        ("/api/mutation", 300 * MB, False, MAX_ARGS_BYTES),
        ("/api/run/hooks/events", 300 * MB, False, MAX_ARGS_BYTES),
        ("/api/run/hooks/events", 100 * MB, True, MAX_ARGS_BYTES),
        ("/api/query", 100 * MB, True, MAX_ARGS_BYTES),
        ("/http/echo", 100 * MB, False, MAX_HTTP_ACTION_BODY),
        ("/http/echo", 100 * MB, True, MAX_HTTP_ACTION_BODY),
    ],
)
def test_oversized_bodies_are_refused_at_their_cap(served, route, size, chunked, cap):
    pid, url, _ = served
    before = _rss(pid)
    status, body = _oversized(url, route, size, chunked=chunked)
    after = _rss(pid)
    assert status == 413, body
    refusal = json.loads(body[: body.rindex(b"}") + 1])
    assert refusal["code"] == "BodyTooLarge" and str(cap) in refusal["message"]
    assert after - before < GROWTH_BOUND, f"RSS grew {(after - before) / MB:.0f} MB"


def test_http_action_body_cap_on_the_site_port(served):
    pid, _, site = served
    before = _rss(pid)
    status, body = _oversized(site, "/echo", 60 * MB, chunked=True)
    assert status == 413, body
    assert _rss(pid) - before < GROWTH_BOUND


def test_bodies_under_the_cap_still_work(url):
    payload = json.dumps({"path": "hooks:events", "args": {}, "pad": "y" * (2 * MB)}).encode()
    sock = _connect(url)
    try:
        sock.sendall(b"POST /api/query HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
                     b"transfer-encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n" % (len(payload), payload))
        status, _ = _response(sock)
    finally:
        sock.close()
    assert status == 200


def test_a_huge_request_head_is_refused(served):
    pid, url, _ = served
    before = _rss(pid)
    sock = _connect(url)
    try:
        sock.sendall(b"GET /version HTTP/1.1\r\nhost: x\r\n")
        try:
            for _ in range(64):  # 64 MB of one header, unless refused first
                sock.sendall(b"x-filler: " + b"z" * MB + b"\r\n")
        except OSError:
            pass
        status, body = _response(sock)
    finally:
        sock.close()
    assert status == 431 and b"RequestHeadersTooLarge" in body
    assert str(MAX_HEADER_BYTES).encode() in body
    assert _rss(pid) - before < GROWTH_BOUND


def test_silent_and_dribbling_connections_are_closed(url):
    silent = [_connect(url) for _ in range(20)]
    dribbling = _connect(url)
    start = time.monotonic()
    try:
        dribbling.sendall(b"GET /version HTTP/1.1\r\n")
        cut_off = False
        while time.monotonic() - start < HEADER_TIMEOUT_S + 20:
            time.sleep(1)
            try:
                dribbling.sendall(b"x-a: b\r\n")  # a head that never ends
            except OSError:
                cut_off = True
                break
        assert cut_off
        assert time.monotonic() - start >= HEADER_TIMEOUT_S
        for sock in silent:
            sock.settimeout(20)
            assert sock.recv(1024) == b""  # closed by the server
    finally:
        for sock in [*silent, dribbling]:
            sock.close()


async def _ws(url: str):  # type: ignore[no-untyped-def]
    ws = await websockets.connect(url.replace("http://", "ws://") + "/api/sync", max_size=None)
    await ws.send(json.dumps({"type": "Connect", "sessionId": str(uuid.uuid4()),
                              "connectionCount": 0, "lastCloseReason": "InitialConnect"}))
    return ws


async def test_sync_messages_over_the_argument_cap_close_the_socket(served):
    pid, url, _ = served
    before = _rss(pid)
    ws = await _ws(url)
    big = json.dumps({"type": "Action", "requestId": 0, "udfPath": "hooks:events",
                      "args": [{"x": "a" * (20 * MB)}]})
    with pytest.raises((websockets.ConnectionClosed, ConnectionResetError)) as info:
        await ws.send(big)
        for _ in range(10):
            await asyncio.wait_for(ws.recv(), 10)  # nothing is echoed back
    if isinstance(info.value, websockets.ConnectionClosed) and info.value.rcvd is not None:
        assert info.value.rcvd.code == 1009
    assert _rss(pid) - before < GROWTH_BOUND


async def test_a_socket_holds_a_bounded_number_of_queries(url):
    ws = await _ws(url)
    adds = [{"type": "Add", "queryId": i, "udfPath": "hooks:events", "args": [{}]}
            for i in range(MAX_QUERIES_PER_SOCKET + 1)]
    await ws.send(json.dumps({"type": "ModifyQuerySet", "baseVersion": 0, "newVersion": 1,
                              "modifications": adds}))
    while True:
        msg = json.loads(await asyncio.wait_for(ws.recv(), 30))
        if msg["type"] == "FatalError":
            break
    assert "TooManyQueries" in msg["error"] and str(MAX_QUERIES_PER_SOCKET) in msg["error"]
    await ws.close()
