"""Corked transports: the writes of one event-loop step leave in one send, in order;
closing sends what is pending first; aborting drops it."""

from __future__ import annotations

import asyncio
from typing import Any

from pyconvex.server.corked import CorkedTransport


class _Recorder(asyncio.Protocol):
    """The server side of a real loopback connection: records the wrapped transport's
    writes (what reaches the socket) and lets the test write through the cork."""

    def __init__(self, connected: asyncio.Future[_Recorder]) -> None:
        self.connected = connected
        self.sends: list[bytes] = []

    def connection_made(self, transport: Any) -> None:
        real_write = transport.write

        def write(data: bytes) -> None:
            self.sends.append(bytes(data))
            real_write(data)

        transport.write = write  # type: ignore[method-assign]
        self.corked = CorkedTransport(transport, asyncio.get_running_loop())
        self.connected.set_result(self)


class _Pair:
    async def __aenter__(self) -> tuple[_Recorder, asyncio.StreamReader]:
        loop = asyncio.get_running_loop()
        connected: asyncio.Future[_Recorder] = loop.create_future()
        self.server = await loop.create_server(lambda: _Recorder(connected), "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        reader, self.writer = await asyncio.open_connection("127.0.0.1", port)
        return await connected, reader

    async def __aexit__(self, *exc: object) -> None:
        self.writer.close()
        await self.writer.wait_closed()
        self.server.close()
        await self.server.wait_closed()


async def test_writes_of_one_step_leave_in_one_send_in_order():
    async with _Pair() as (recorder, reader):
        recorder.corked.write(b"HTTP/1.1 200 OK\r\n\r\n")
        recorder.corked.write(memoryview(b"body"))
        assert recorder.sends == []  # nothing sent before the step ends
        assert recorder.corked.get_write_buffer_size() == 23
        assert await reader.readexactly(23) == b"HTTP/1.1 200 OK\r\n\r\nbody"
        assert recorder.sends == [b"HTTP/1.1 200 OK\r\n\r\nbody"]
        recorder.corked.write(b"next")
        assert await reader.readexactly(4) == b"next"
        assert len(recorder.sends) == 2
        recorder.corked.close()


async def test_close_sends_what_is_pending_and_abort_drops_it():
    async with _Pair() as (recorder, reader):
        recorder.corked.write(b"last words")
        recorder.corked.close()
        assert await reader.read() == b"last words"
    async with _Pair() as (recorder, reader):
        recorder.corked.write(b"never sent")
        recorder.corked.abort()
        assert await reader.read() == b""
        assert recorder.sends == []


async def test_an_explicit_flush_sends_at_once_and_leaves_nothing_for_the_step_end():
    """What the HTTP and WebSocket protocols call when a response is complete."""
    async with _Pair() as (recorder, reader):
        recorder.corked.write(b"head ")
        recorder.corked.write(b"body")
        recorder.corked.flush()
        assert recorder.sends == [b"head body"]  # before the step ended
        assert await reader.readexactly(9) == b"head body"
        await asyncio.sleep(0.01)  # the step-end flush finds nothing more to send
        assert recorder.sends == [b"head body"]
        recorder.corked.close()
