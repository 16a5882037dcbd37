"""Light live-subscriber clients for bench/peer.py: the same code path for pyconvex's
sync WebSocket and PocketBase's SSE stream, so the commit-to-last-subscriber figure
measures the servers, not two client libraries.

With 500 or 1,000 subscribers in one Python process on a 2-core machine, the load
generator's own time per received event is part of every latency it measures: the
websockets library's receive path cost ~30 µs per frame against ~22 µs for an
``asyncio.StreamReader`` reading SSE lines (bench/RESULTS.md, 2026-12-05), and the SSE
client did not parse its events' JSON while the WebSocket client did. Here both are one
``asyncio.Protocol``: bytes are buffered, cut into messages by their framing (a
WebSocket frame header; an SSE blank line), each message's JSON is parsed (as the
official clients do: ``JSON.parse`` in convex-js and in the PocketBase SDK), and a
waiter for that kind of message is woken. Nothing else differs between the two.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import struct
import uuid
from abc import ABC, abstractmethod
from typing import Any
from urllib.parse import urlparse


class _Light(asyncio.Protocol, ABC):
    """Buffers the stream, cuts messages (subclasses), hands each parsed one out."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.head: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self.waiters: dict[str, list[asyncio.Future[Any]]] = {}
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        for futures in self.waiters.values():
            for f in futures:
                if not f.done():
                    f.set_exception(ConnectionError("the stream ended"))
        if not self.head.done():
            self.head.set_exception(ConnectionError("closed before the response head"))

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if not self.head.done():
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            self.head.set_result(bytes(self.buf[:end]))
            del self.buf[:end + 4]
        self.cut()

    @abstractmethod
    def cut(self) -> None:
        """Cut whole messages off the buffer and deliver them."""

    def deliver(self, kind: str, message: Any) -> None:
        futures = self.waiters.pop(kind, None)
        for f in futures or ():
            if not f.done():
                f.set_result(message)

    def until(self, kind: str) -> asyncio.Future[Any]:
        """The next message of ``kind`` (messages nobody waits for are parsed and dropped)."""
        f: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.waiters.setdefault(kind, []).append(f)
        return f

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class LightWs(_Light):
    """A sync-protocol client over a hand-framed WebSocket (RFC 6455: masked text frames
    out; unmasked frames in, pings answered)."""

    qs = 0

    def cut(self) -> None:
        buf = self.buf
        while len(buf) >= 2:
            opcode, length = buf[0] & 0x0F, buf[1] & 0x7F
            at = 2
            if length == 126:
                if len(buf) < 4:
                    return
                length, at = struct.unpack_from("!H", buf, 2)[0], 4
            elif length == 127:
                if len(buf) < 10:
                    return
                length, at = struct.unpack_from("!Q", buf, 2)[0], 10
            if len(buf) < at + length:
                return
            payload = bytes(buf[at:at + length])
            del buf[:at + length]
            if opcode == 0x1:
                message = json.loads(payload)
                self.deliver(message["type"], message)
            elif opcode == 0x9:
                self._frame(0xA, payload)

    def _frame(self, opcode: int, payload: bytes) -> None:
        mask = os.urandom(4)
        n = len(payload)
        head = bytes([0x80 | opcode]) + (bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + struct.pack("!H", n))
        key = (mask * (n // 4 + 1))[:n]
        masked = (int.from_bytes(payload, "big") ^ int.from_bytes(key, "big")).to_bytes(n, "big") if n else b""
        assert self.transport is not None
        self.transport.write(head + mask + masked)

    def send(self, message: dict[str, Any]) -> None:
        self._frame(0x1, json.dumps(message).encode())

    @classmethod
    async def connect(cls, url: str) -> LightWs:
        parsed = urlparse(url)
        loop = asyncio.get_running_loop()
        _, client = await loop.create_connection(cls, parsed.hostname, parsed.port)
        key = base64.b64encode(os.urandom(16)).decode()
        assert client.transport is not None
        client.transport.write(
            f"GET /api/sync HTTP/1.1\r\nHost: {parsed.netloc}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())
        head = await client.head
        if not head.startswith(b"HTTP/1.1 101"):
            raise ConnectionError(f"no upgrade: {head[:80]!r}")
        client.send({"type": "Connect", "sessionId": str(uuid.uuid4()), "connectionCount": 0,
                     "lastCloseReason": "InitialConnect"})
        return client

    async def subscribe(self, path: str, args: dict[str, Any]) -> None:
        transition = self.until("Transition")
        self.send({"type": "ModifyQuerySet", "baseVersion": self.qs, "newVersion": self.qs + 1,
                   "modifications": [{"type": "Add", "queryId": self.qs, "udfPath": path, "args": [args]}]})
        self.qs += 1
        await transition


class LightSse(_Light):
    """A PocketBase realtime client: one SSE stream (HTTP/1.0, so not chunked)."""

    def cut(self) -> None:
        buf = self.buf
        while True:
            end = buf.find(b"\n\n")
            if end < 0:
                return
            event = bytes(buf[:end])
            del buf[:end + 2]
            name, data = "", b""
            for line in event.split(b"\n"):
                key, _, value = line.rstrip(b"\r").partition(b":")
                if key == b"event":
                    name = value.strip().decode()
                elif key == b"data":
                    data += value.strip()
            if name or data:
                self.deliver(name, json.loads(data) if data else None)

    @classmethod
    async def connect(cls, url: str, post: Any) -> LightSse:
        """Connected and subscribed to ``posts``; ``post(url, json)`` is an HTTP client's
        post (the subscription is set by a request naming the stream's client id)."""
        parsed = urlparse(url)
        loop = asyncio.get_running_loop()
        _, client = await loop.create_connection(cls, parsed.hostname, parsed.port)
        connected = client.until("PB_CONNECT")
        assert client.transport is not None
        client.transport.write(f"GET /api/realtime HTTP/1.0\r\nHost: {parsed.netloc}\r\n"
                               "Accept: text/event-stream\r\n\r\n".encode())
        await client.head
        hello = await connected
        r = await post(f"{url}/api/realtime", json={"clientId": hello["clientId"], "subscriptions": ["posts"]})
        r.raise_for_status()
        return client
