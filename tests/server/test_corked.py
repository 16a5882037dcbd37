"""Corked transports: the writes of one event-loop step leave in one send, in order;
closing sends what is pending first; aborting drops it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest

from pyconvex.server.corked import CorkedHttpToolsProtocol, CorkedTransport
from tests.server.inprocess import uvicorn_in_loop


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


async def test_write_now_sends_what_is_held_with_it_and_nothing_once_closing():
    async with _Pair() as (recorder, reader):
        recorder.corked.hold(b"1", b"2")
        assert recorder.corked.write_now(b"3", b"4")
        assert recorder.sends == [b"1234"]
        assert await reader.readexactly(4) == b"1234"
        recorder.corked.hold(b"5", b"6")
        recorder.corked.close()  # sends what is held
        assert not recorder.corked.write_now(b"7", b"8")
        assert await reader.read() == b"56"
        assert recorder.sends == [b"1234", b"56"]


async def ws_frames_received(
    body: Callable[[dict[str, Any], Any], Awaitable[None]], compression: str | None, count: int,
) -> list[str]:
    """The ``count`` frames a websockets client receives from a corked WebSocket app that
    accepts, then runs ``body(scope, send)``, which sends them and closes."""
    import websockets

    from pyconvex.server.corked import CorkedWebSocketProtocol

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "websocket":
            return
        await receive()
        await send({"type": "websocket.accept"})
        await body(scope, send)

    async with uvicorn_in_loop(app, http=CorkedHttpToolsProtocol,
                               ws=CorkedWebSocketProtocol) as (_, port), websockets.connect(
            f"ws://127.0.0.1:{port}", max_size=None, compression=compression) as ws:
        got = [str(await ws.recv()) for _ in range(count)]
        with pytest.raises(websockets.ConnectionClosedOK):
            await ws.recv()
    return got


@pytest.mark.parametrize("compression", [None, "deflate"])
async def test_websocket_text_frames_written_at_once_reach_a_client_intact_and_in_order(
    compression: str | None,
):
    """``pyconvex.send_text`` writes frames without ASGI (every length encoding); with
    permessage-deflate negotiated, or once the connection is closing, it declines and
    the caller sends through ASGI. Either way the client gets every frame, in order."""
    frames = [b'{"n":1}', b'{"n":2}', b'"' + b"y" * 300 + b'"', b'"' + b"x" * 70_000 + b'"']
    taken: list[bool] = []

    async def body(scope: dict[str, Any], send: Any) -> None:
        send_text = scope["extensions"]["pyconvex.send_text"]
        for i, frame in enumerate(frames):
            if i == 1:  # one through ASGI between them: order is kept
                await send({"type": "websocket.send", "text": frame.decode()})
            elif send_text(frame, i == 0):  # the first held until the next one
                taken.append(True)
            else:
                taken.append(False)
                await send({"type": "websocket.send", "text": frame.decode()})
        await send({"type": "websocket.close", "code": 1000})
        taken.append(send_text(b"too late"))

    got = await ws_frames_received(body, compression, len(frames))
    assert got == [f.decode() for f in frames]
    assert taken == ([True, True, True, False] if compression is None else [False] * 4)


@pytest.mark.parametrize("compression", [None, "deflate"])
async def test_two_websocket_frames_written_in_one_call_reach_a_client_in_order(
    compression: str | None,
):
    """``send_text(data, more, first)``: ``first``'s frame, then ``data``'s, in one write
    (every length encoding for either), or neither (then the caller sends both through
    ASGI)."""
    sizes = [5, 124, 300, 1021, 1022, 70_000]  # (each frame is two bytes more)
    pairs = [(b'"' + b"a" * m + b'"', b'"' + b"b" * n + b'"') for m in sizes for n in sizes]
    taken: list[bool] = []

    async def body(scope: dict[str, Any], send: Any) -> None:
        send_text = scope["extensions"]["pyconvex.send_text"]
        for first, data in pairs:
            taken.append(send_text(data, False, first))
            if not taken[-1]:
                await send({"type": "websocket.send", "text": first.decode()})
                await send({"type": "websocket.send", "text": data.decode()})
        await send({"type": "websocket.close", "code": 1000})

    got = await ws_frames_received(body, compression, 2 * len(pairs))
    assert got == [frame.decode() for pair in pairs for frame in pair]
    assert taken == [compression is None] * len(pairs)


@asynccontextmanager
async def _served(keep_alive_s: float) -> AsyncIterator[int]:
    """A uvicorn server of a one-line app over the corked HTTP protocol, in this loop."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"ok"})

    async with uvicorn_in_loop(app, http=CorkedHttpToolsProtocol,
                               timeout_keep_alive=keep_alive_s) as (_, port):
        yield port


async def _request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bytes:
    writer.write(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
    head = await reader.readuntil(b"\r\n\r\n")
    return head.split(b" ", 2)[1] + b" " + await reader.readexactly(2)


async def test_a_kept_alive_connection_stays_open_while_used_and_closes_once_idle():
    """Requests spaced under the keep-alive timeout, over several times its length, are
    all answered on one connection (the connection's one watch timer re-arms as they
    come); once idle past the timeout, the server closes it."""
    async with _served(keep_alive_s=0.5) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        answers = []
        for _ in range(10):  # 10 x 0.3 s: six keep-alive timeouts' worth
            answers.append(await _request(reader, writer))
            await asyncio.sleep(0.3)
        assert answers == [b"200 ok"] * 10
        assert await asyncio.wait_for(reader.read(), 30) == b""  # closed when idle
        writer.close()


async def test_a_later_request_whose_head_never_ends_is_cut_off(monkeypatch: pytest.MonkeyPatch):
    """The head deadline holds for every request of a kept-alive connection, not only
    its first: a second head dribbled slower than it ends is cut off, no sooner than
    the deadline after it began."""
    from pyconvex.server import corked

    monkeypatch.setattr(corked, "HEADER_TIMEOUT_S", 1.5)
    async with _served(keep_alive_s=1.0) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        assert await _request(reader, writer) == b"200 ok"
        loop = asyncio.get_running_loop()
        writer.write(b"GET / HTTP/1.1\r\n")
        began = loop.time()
        closed = False
        for _ in range(100):  # one header line per 0.2 s, never the blank line
            await asyncio.sleep(0.2)
            if reader.at_eof() or writer.is_closing():
                closed = True
                break
            try:
                writer.write(b"x-a: b\r\n")
                await writer.drain()
            except ConnectionError:
                closed = True
                break
            if await _closed(reader):
                closed = True
                break
        assert closed
        assert loop.time() - began >= 1.5
        writer.close()


async def _closed(reader: asyncio.StreamReader) -> bool:
    """Whether the server closed the connection (it sends nothing else here)."""
    try:
        return await asyncio.wait_for(reader.read(1), 0.01) == b""
    except TimeoutError:
        return False


async def test_a_keep_alive_timeout_of_zero_closes_the_connection_after_its_answer():
    """uvicorn's ``timeout_keep_alive=0``: each connection serves one request."""
    async with _served(keep_alive_s=0) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        assert await _request(reader, writer) == b"200 ok"
        assert await asyncio.wait_for(reader.read(), 30) == b""
        writer.close()
