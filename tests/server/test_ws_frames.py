"""server/corked.py reads a client's whole masked text frames straight from the socket's
bytes and leaves everything else to websockets' parser: over a real socket, with frames
written by hand, every way a read can cut or join frames, every mask byte, control
frames between them and every error still give what websockets and uvicorn gave."""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import websockets

from pyconvex.server.corked import frame_gap
from pyconvex.server.ws_protocol import WebSocketProtocol
from tests.server.inprocess import reversing_ws_app, uvicorn_in_loop

HANDSHAKE = (b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
TEXT, BINARY, CONT, CLOSE, PING, PONG = 0x1, 0x2, 0x0, 0x8, 0x9, 0xA


def frame(payload: bytes, opcode: int = TEXT, *, fin: bool = True,
          mask: bytes | None = b"\x5a\xc3\x00\xff") -> bytes:
    """A client's frame: masked with ``mask`` (None: unmasked, which clients must not)."""
    n = len(payload)
    head = bytes(((0x80 if fin else 0) | opcode,))
    bit = 0x80 if mask is not None else 0
    if n < 126:
        head += bytes((bit | n,))
    elif n < 65536:
        head += bytes((bit | 126,)) + struct.pack("!H", n)
    else:
        head += bytes((bit | 127,)) + struct.pack("!Q", n)
    if mask is None:
        return head + payload
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


async def read_frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """The server's next frame (unmasked, unfragmented): its opcode and payload."""
    b1, b2 = await asyncio.wait_for(reader.readexactly(2), 10)
    n = b2 & 0x7F
    if n == 126:
        (n,) = struct.unpack("!H", await reader.readexactly(2))
    elif n == 127:
        (n,) = struct.unpack("!Q", await reader.readexactly(8))
    return b1 & 0x0F, await asyncio.wait_for(reader.readexactly(n), 10)


async def texts(reader: asyncio.StreamReader, count: int) -> list[str]:
    """The next ``count`` text frames' payloads (pongs skipped)."""
    got: list[str] = []
    while len(got) < count:
        opcode, payload = await read_frame(reader)
        if opcode == TEXT:
            got.append(payload.decode())
    return got


async def close_code(reader: asyncio.StreamReader) -> int:
    """The code of the close frame the server sends next (text frames before it skipped)."""
    while True:
        opcode, payload = await read_frame(reader)
        if opcode == CLOSE:
            return int(struct.unpack("!H", payload[:2])[0])


@asynccontextmanager
async def echo(**settings: Any) -> AsyncIterator[int]:
    """A uvicorn server, over the server's WebSocket protocol, of an app that answers
    each text message with it reversed (and a binary one with its length)."""
    settings.setdefault("ws_per_message_deflate", False)
    async with uvicorn_in_loop(reversing_ws_app, ws=WebSocketProtocol, **settings) as (server, port):
        SERVERS[port] = server
        yield port
        del SERVERS[port]


SERVERS: dict[int, Any] = {}


@asynccontextmanager
async def raw(port: int) -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    writer.write(HANDSHAKE)
    assert b" 101 " in await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    try:
        yield reader, writer
    finally:
        writer.close()


async def test_frames_of_every_length_encoding_whole_or_several_in_one_read() -> None:
    messages = ["", "a", "é" * 62, "x" * 125, "y" * 126, "z" * 5000, "w" * 65535, "v" * 70_000]
    async with echo() as port, raw(port) as (reader, writer):
        for message in messages:  # one read each
            writer.write(frame(message.encode()))
            assert await texts(reader, 1) == [message[::-1]]
        writer.write(b"".join(frame(m.encode()) for m in messages))  # all in one write
        assert await texts(reader, len(messages)) == [m[::-1] for m in messages]


async def test_whole_text_frames_do_not_go_through_websockets_parser() -> None:
    """What the shortcut is for: websockets' frame parser (a generator, made anew at the
    accept) has parsed no frame after whole text frames, and parses the first that is
    not one (a ping), whose answer still comes."""
    async with echo() as port, raw(port) as (reader, writer):
        writer.write(frame(b"one") + frame(b"two" * 50))
        assert await texts(reader, 2) == ["eno", ("two" * 50)[::-1]]
        (protocol,) = SERVERS[port].server_state.connections
        parsed = protocol.conn.parser.gi_frame.f_locals
        assert "frame" not in parsed
        writer.write(frame(b"are you there", PING))
        assert await read_frame(reader) == (PONG, b"are you there")
        assert "frame" in protocol.conn.parser.gi_frame.f_locals


async def test_a_message_split_across_reads_byte_by_byte() -> None:
    """Each byte a read of its own (the server runs in this loop: it reads each before
    the next is written); whole frames before and after it still go whole."""
    async with echo() as port, raw(port) as (reader, writer):
        split = frame(b"split " * 40)
        writer.write(frame(b"before") + split[:1])
        await writer.drain()
        for i in range(1, len(split)):
            await asyncio.sleep(0.002)
            writer.write(split[i:i + 1])
            await writer.drain()
        writer.write(frame(b"after"))
        assert await texts(reader, 3) == ["erofeb", ("split " * 40)[::-1], "retfa"]


async def test_a_frame_cut_anywhere_between_two_reads() -> None:
    """A whole frame then the start of the next in one read, the rest in the next, at
    every cut through the second frame's head, mask and payload."""
    async with echo() as port, raw(port) as (reader, writer):
        first, second = frame(b"first"), frame(b"second" * 30)
        for cut in range(1, len(second)):
            writer.write(first + second[:cut])
            await writer.drain()
            await asyncio.sleep(0.002)
            writer.write(second[cut:] + first)
            assert await texts(reader, 3) == ["tsrif", ("second" * 30)[::-1], "tsrif"]


async def test_every_mask_byte_value_in_every_position() -> None:
    payload = "".join(chr(c) for c in range(32, 127)).encode() + "é€𝄞".encode()
    async with echo() as port, raw(port) as (reader, writer):
        writer.write(b"".join(
            frame(payload, mask=bytes((k, (k + 85) % 256, (k + 170) % 256, 255 - k)))
            for k in range(256)))
        assert await texts(reader, 256) == [payload.decode()[::-1]] * 256


async def test_fragmented_messages_with_pings_between_and_around() -> None:
    async with echo() as port, raw(port) as (reader, writer):
        writer.write(
            frame(b"one")
            + frame(b"ping-1", PING)
            + frame(b"fra", fin=False) + frame(b"ping-2", PING) + frame(b"gm", CONT, fin=False)
            + frame(b"ent", CONT)
            + frame(b"two")
        )
        got: list[tuple[int, bytes]] = []
        while sum(op == TEXT for op, _ in got) < 3:
            got.append(await read_frame(reader))
        assert [p for op, p in got if op == PONG] == [b"ping-1", b"ping-2"]
        assert [p for op, p in got if op == TEXT] == [b"eno", b"tnemgarf", b"owt"]
        writer.write(frame(b"still whole"))  # and whole frames go on being read after them
        assert await texts(reader, 1) == ["elohw llits"]


async def test_a_binary_message_between_text_ones_keeps_its_place() -> None:
    async with echo() as port, raw(port) as (reader, writer):
        writer.write(frame(b"ab") + frame(b"\x00\xff\x01", BINARY) + frame(b"cd"))
        assert await texts(reader, 3) == ["ba", "3", "dc"]


async def test_the_close_handshake_after_whole_frames() -> None:
    async with echo() as port, raw(port) as (reader, writer):
        writer.write(frame(b"last"))
        assert await texts(reader, 1) == ["tsal"]
        # A close in the same read as a text frame: answered (the app's answer to the
        # text would come after it, and is not sent).
        writer.write(frame(b"unanswered") + frame(struct.pack("!H", 1000) + b"bye", CLOSE))
        assert await read_frame(reader) == (CLOSE, struct.pack("!H", 1000) + b"bye")
        assert await asyncio.wait_for(reader.read(), 10) == b""


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (frame(b"plain", mask=None), 1002),  # a client's frame must be masked
        (frame(b"ok") + frame(b"plain", mask=None), 1002),  # after a good one in the same read
        (frame(b"\xff\xfe not utf-8"), 1007),
        (bytes((0xC1,)) + frame(b"rsv1 without an extension")[1:], 1002),
        (frame(b"continuation of nothing", CONT), 1002),
        (frame(b"x" * 1025), 1009),  # past the limit, 16-bit length
        (frame(b"x" * 70_000), 1009),  # past the limit, 64-bit length
        (frame(b"x" * 600, fin=False) + frame(b"x" * 600, CONT), 1009),  # the whole message
    ],
)
async def test_bad_frames_close_with_websockets_codes(data: bytes, code: int) -> None:
    async with echo(ws_max_size=1024) as port, raw(port) as (reader, writer):
        writer.write(frame(b"x" * 1024))  # at the limit: served
        assert await texts(reader, 1) == ["x" * 1024]
        writer.write(data)
        assert await close_code(reader) == code
        assert await asyncio.wait_for(reader.read(), 10) == b""


async def test_a_message_at_the_limit_in_the_7_bit_length_range() -> None:
    async with echo(ws_max_size=100) as port, raw(port) as (reader, writer):
        writer.write(frame(b"y" * 100))
        assert await texts(reader, 1) == ["y" * 100]
        writer.write(frame(b"y" * 101))
        assert await close_code(reader) == 1009


@pytest.mark.parametrize("compression", [None, "deflate"])
async def test_a_websockets_client_with_or_without_compression(compression: str | None) -> None:
    messages = ["small", "é" * 4000, "q" * 200_000, ["frag", "mented"]]
    async with echo(ws_per_message_deflate=True, ws_max_size=1 << 20) as port, \
            websockets.connect(f"ws://127.0.0.1:{port}", compression=compression,
                               max_size=None) as ws:
        assert (ws.protocol.extensions != []) == (compression is not None)
        for message in messages:
            await ws.send(message)
        expected = [m[::-1] if isinstance(m, str) else "".join(m)[::-1] for m in messages]
        assert [await asyncio.wait_for(ws.recv(), 10) for _ in messages] == expected


async def test_a_read_that_ends_inside_a_frame_head_or_mask_is_not_taken_for_a_new_frame() -> None:
    """websockets' parser takes a frame's head only once all of it is in, so after a
    read that ends right behind a head (or its extended length) its buffer is empty
    while it waits for the mask: the next read's first bytes are that mask, not a new
    frame, even when they look like one (0x81 0x85: a whole 5-byte masked text frame's
    head)."""
    lookalike = b"\x81\x85\x10\x20"
    async with echo() as port, raw(port) as (reader, writer):
        for payload in (b"second" * 3, b"long" * 40):
            first, second = frame(b"first"), frame(payload, mask=lookalike)
            for cut in range(1, 10):
                writer.write(first + second[:cut])
                await writer.drain()
                await asyncio.sleep(0.005)
                writer.write(second[cut:] + first)
                assert await texts(reader, 3) == ["tsrif", payload.decode()[::-1], "tsrif"]


@pytest.mark.parametrize(("chunks", "after"), [
    ([b"\x81\x85", b"\x01\x02\x03\x04abcde"], (0, b"")),
    ([b"\x81\x85\x01\x02", b"\x03\x04ab"], (3, b"")),
    ([b"\x81\xfe\x01", b"\x00" + b"\x00" * 4 + b"x" * 256 + b"\x89\x80"], (0, b"\x89\x80")),
    ([b"\x82\xff" + (70000).to_bytes(8, "big")[:5], (70000).to_bytes(8, "big")[5:], b"mask" + b"y" * 10], (69990, b"")),
    ([b"\x01\x83mask", b"abc\x80", b"\x83mask", b"def"], (0, b"")),
    ([b"", b"\x81"], (0, b"\x81")),
])
def test_frame_gap_follows_every_byte_given_to_the_parser(
        chunks: list[bytes], after: tuple[int, bytes]) -> None:
    """Where the parser stands after each read: the same as after the bytes given whole."""
    owed, head = 0, b""
    for chunk in chunks:
        owed, head = frame_gap(owed, head, chunk)
    assert (owed, head) == after == frame_gap(0, b"", b"".join(chunks))
