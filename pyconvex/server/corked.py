"""Corked connections: a response leaves in one ``send`` system call, at once.

uvicorn writes an HTTP response's head and its body separately, and a sync connection
answers a mutation with two frames (the MutationResponse and the Transition that covers
it). With ``TCP_NODELAY`` each write is a system call and a packet of its own, for the
server and for the client to process. :class:`CorkedTransport` holds writes until the
sender says the response is complete:

- HTTP (:class:`CorkedHttpToolsProtocol`): when the last body chunk is written (uvicorn's
  ``on_response_complete``); chunks of a streamed body go out once per loop iteration.
- WebSocket (:class:`CorkedWebSocketProtocol`): after every frame, unless the ASGI
  message carries ``"pyconvex.more": True`` (another frame follows in the same step).

A callback per loop iteration sends whatever is still held, so nothing waits longer than
the rest of the step even if no one flushes. A connection upgraded to a WebSocket hands
the same (corked) transport to the WebSocket protocol, which also reads the client's
common frame (one whole masked text frame) straight from the bytes it receives.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Callable
from typing import Any

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.protocol import State

from pyconvex.server.limits import HEADER_TIMEOUT_S, MAX_HEADER_BYTES
from pyconvex.sync.fanout import PerLoop

try:  # websockets' C unmasking, as its own parser uses
    from websockets.speedups import apply_mask
except ImportError:  # pragma: no cover  (websockets built without its extension)
    from websockets.utils import apply_mask

# What this module reads or overrides of uvicorn's and websockets' private internals.
# They are not API: pyproject.toml pins the uvicorn range this was tested with, and
# tests/server/test_corked_internals.py fails, naming the attribute, when one moves.
UVICORN_HTTP_INTERNALS = (
    "connection_made", "connection_lost", "data_received", "on_message_begin",
    "on_headers_complete", "on_response_complete", "handle_websocket_upgrade", "transport",
    "loop", "server_state", "flow", "pipeline", "_start_asgi_task", "timeout_keep_alive",
    "timeout_keep_alive_task",
)
UVICORN_FLOW_INTERNALS = ("read_paused", "resume_reading")
UVICORN_WS_INTERNALS = (
    "handle_connect", "send_receive_event_to_app", "send", "scope", "curr_msg_data_type",
    "close_sent", "queue", "frames", "transport", "conn", "disconnected",
    "handshake_complete", "initial_response", "writable", "request", "response",
    "logger", "handle_parser_exception", "read_paused", "handshake_initiated",
)
WEBSOCKETS_CONNECTION_INTERNALS = (
    "_state", "extensions", "expect_continuation_frame", "writes", "reader", "current_size",
    "max_message_size", "max_fragment_size",
)

_OPEN = State.OPEN


def frame_gap(owed: int, head: bytes, data: bytes) -> tuple[int, bytes]:
    """Where a client frame parser stands after it is given ``data``, having stood at
    ``owed`` bytes before the end of a frame (0: at a boundary) with ``head`` (the first
    bytes of a frame head, not all of it): the same two again. A frame's head is 2
    bytes, then 2 or 8 of extended length, then 4 of mask if the mask bit is set; its
    payload follows. (websockets' parser takes a head only once all of it is in, so
    its buffer can be empty in the middle of a frame: only this count says where the
    next frame starts.)"""
    n = len(data)
    i = min(owed, n)
    owed -= i
    while i < n:
        chunk = head + data[i : i + 14]
        if len(chunk) < 2:
            return 0, chunk
        size = chunk[1] & 0x7F
        need = 2 + (2 if size == 126 else 8 if size == 127 else 0) + (4 if chunk[1] & 0x80 else 0)
        if len(chunk) < need:
            return 0, chunk  # (then ``data[i:]`` is all in ``chunk``: need <= 14)
        if size == 126:
            size = int.from_bytes(chunk[2:4], "big")
        elif size == 127:
            size = int.from_bytes(chunk[2:10], "big")
        i += need - len(head)
        head = b""
        take = min(size, n - i)
        i += take
        owed = size - take
    return owed, head
# A text frame's head: FIN + text, the length (a server's frames are not masked).
_TEXT_HEAD_7 = [bytes((0x81, n)) for n in range(126)]
_TEXT_HEAD_16 = struct.Struct("!BBH")
_TEXT_HEAD_64 = struct.Struct("!BBQ")


def _text_head(n: int) -> bytes:
    """The head of an unmasked, unfragmented text frame of ``n`` bytes."""
    if n < 126:
        return _TEXT_HEAD_7[n]
    if n < 65536:
        return _TEXT_HEAD_16.pack(0x81, 126, n)
    return _TEXT_HEAD_64.pack(0x81, 127, n)


_TEXT_HEADS = [_text_head(n) for n in range(1024)]
"""The heads of the frames up to a kilobyte, made once (about 45 KB): a mutation's
response and Transition are a few hundred bytes, past the 7-bit lengths."""


class _Flusher:
    """One per event loop: the connections with pending writes, flushed together."""

    __slots__ = ("_dirty", "_loop")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._dirty: list[CorkedTransport] = []

    def mark(self, transport: CorkedTransport) -> None:
        if not self._dirty:
            self._loop.call_soon(self._flush)
        self._dirty.append(transport)

    def _flush(self) -> None:
        dirty, self._dirty = self._dirty, []
        for transport in dirty:
            transport.flush()


_FLUSHERS: PerLoop[_Flusher] = PerLoop(_Flusher)
_flusher = _FLUSHERS.get


class CorkedTransport:
    """A transport whose ``write`` is sent at the end of the step; everything else is
    the wrapped transport's (closing flushes first, aborting drops what is pending)."""

    __slots__ = ("_flusher", "_pending", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._pending: list[bytes] = []
        self._flusher = _flusher(loop)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        if not self._pending:
            self._flusher.mark(self)
        self._pending.append(bytes(data))

    def writelines(self, chunks: Any) -> None:
        for chunk in chunks:
            self.write(chunk)

    def flush(self) -> None:
        if not self._pending:
            return
        data = self._pending[0] if len(self._pending) == 1 else b"".join(self._pending)
        self._pending.clear()
        if not self._transport.is_closing():
            self._transport.write(data)

    def hold(self, head: bytes, data: bytes) -> None:
        """Keep ``head + data`` for the next send (``write_now``, ``flush``, or the
        step's end), as two ``write`` calls would, in one call."""
        if not self._pending:
            self._flusher.mark(self)
        self._pending += (head, data)

    def write_now(self, head: bytes, data: bytes) -> bool:
        """Send ``head + data`` with whatever is held, at once (one system call); False
        if the transport is closing (then nothing is sent, as ``flush`` sends nothing)."""
        if self._transport.is_closing():
            self._pending.clear()
            return False
        pending = self._pending
        if pending:
            pending += (head, data)
            data = b"".join(pending)
            pending.clear()
            self._transport.write(data)
        else:
            self._transport.write(head + data)
        return True

    def is_closing(self) -> bool:  # called per frame: not through __getattr__
        return self._transport.is_closing()

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + sum(map(len, self._pending))

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def abort(self) -> None:
        self._pending.clear()
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


_431 = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: application/json\r\n"
    b"connection: close\r\ncontent-length: %d\r\n\r\n%s"
)


class CorkedHttpToolsProtocol(HttpToolsProtocol):
    """Also bounds what a request head may cost (``server/limits.py``): at most
    ``MAX_HEADER_BYTES``, answered 431 past it, and sent within ``HEADER_TIMEOUT_S`` of
    the connection opening (or of the request starting), else the connection closes. A
    connection that sends nothing is closed the same way; between requests uvicorn's
    keep-alive timeout applies.

    Both deadlines are watched by one timer per connection, kept across requests,
    instead of a timer made and cancelled per request for each (the head's here,
    the keep-alive one in uvicorn's ``on_response_complete``): under keep-alive load
    those were four timer operations per request on the server's one busy core. A
    request only moves a deadline (a float); the timer fires at most every
    ``min(HEADER_TIMEOUT_S, keep-alive timeout)`` seconds, closes the connection if a
    deadline has passed, re-arms while one is set and lapses when none is. As every
    deadline set is at least that period ahead and every arming at most that period,
    a pending timer never fires after a deadline set while it waited: each is kept
    as exactly as a timer of its own kept it (to the millisecond for a keep-alive
    timeout under one).
    """

    _head_bytes = 0
    _in_head = True
    _head_deadline: float | None = None
    """Loop time by which the request head in progress must be complete."""
    _idle_deadline: float | None = None
    """Loop time by which a kept-alive idle connection must send again (uvicorn's
    ``timeout_keep_alive`` after the last response)."""
    _watch: asyncio.TimerHandle | None = None
    _watch_period = HEADER_TIMEOUT_S

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(CorkedTransport(transport, self.loop))  # type: ignore[arg-type]
        # (At least a millisecond: a keep-alive timeout of 0 must not make the timer
        # re-arm at once, every loop step, while a head is in progress.)
        self._watch_period = max(0.001, min(HEADER_TIMEOUT_S, self.timeout_keep_alive))
        self._start_head()

    def _start_head(self) -> None:
        self._in_head, self._head_bytes = True, 0
        if self._head_deadline is None:
            self._head_deadline = self.loop.time() + HEADER_TIMEOUT_S
            if self._watch is None:
                self._watch = self.loop.call_later(self._watch_period, self._on_watch)

    def _end_head(self) -> None:
        self._in_head = False
        self._head_deadline = None

    def _on_watch(self) -> None:
        """The connection's one timer: close it past a deadline, else wait on."""
        self._watch = None
        if self.transport.is_closing():
            return
        now = self.loop.time()
        head, idle = self._head_deadline, self._idle_deadline
        if (head is not None and now >= head) or (idle is not None and now >= idle):
            self.transport.close()
            return
        nearest = min(d for d in (head, idle, now + self._watch_period) if d is not None)
        if head is not None or idle is not None:
            self._watch = self.loop.call_later(nearest - now, self._on_watch)

    def _stop_watch(self) -> None:
        self._end_head()
        self._idle_deadline = None
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None

    def data_received(self, data: bytes) -> None:
        self._idle_deadline = None  # (uvicorn's own keep-alive timer is never armed)
        if not self._in_head:
            super().data_received(data)
            return
        # The parser keeps an incomplete head; past the limit it is refused, so what
        # one connection holds is the limit plus one read.
        self._head_bytes += len(data)
        super().data_received(data)
        if self._in_head and self._head_bytes > MAX_HEADER_BYTES:
            self._refuse_head()

    def _refuse_head(self) -> None:
        self._end_head()
        message = orjson.dumps({
            "code": "RequestHeadersTooLarge",
            "message": f"The request head is over {MAX_HEADER_BYTES} bytes.",
        })
        if not self.transport.is_closing():
            self.transport.write(_431 % (len(message), message))
            self.transport.close()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._start_head()

    def on_headers_complete(self) -> None:
        self._end_head()
        super().on_headers_complete()

    def handle_websocket_upgrade(self) -> None:
        self._stop_watch()  # the WebSocket protocol takes the connection over
        super().handle_websocket_upgrade()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_watch()
        super().connection_lost(exc)

    def on_response_complete(self) -> None:
        """uvicorn's ``on_response_complete`` (next pipelined request, or the keep-alive
        wait), with the keep-alive timeout kept by the connection's watch timer."""
        transport = self.transport
        transport.flush()  # type: ignore[attr-defined]  # head and body, one send
        self.server_state.total_requests += 1
        if transport.is_closing():
            return
        if self.flow.read_paused:
            self.flow.resume_reading()
        if self.pipeline:
            cycle, app = self.pipeline.pop()
            self._start_asgi_task(cycle, app)
            return
        self._idle_deadline = self.loop.time() + self.timeout_keep_alive
        if self._watch is None:
            self._watch = self.loop.call_later(self._watch_period, self._on_watch)


class CorkedWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's WebSocket protocol, sending each frame at once unless the app marks the
    message ``"pyconvex.more": True`` (then with the next one).

    It also lets the app take text messages as they are parsed, before uvicorn's receive
    queue: the app registers ``take(text) -> bool`` through the scope extension
    ``"pyconvex.take_text"``; a message it takes (True) never reaches ``receive()``. The
    sync endpoint takes mutations this way when it has nothing else in hand, which saves
    the event-loop step of waking the receiving task (see ``SyncSession.take_text``).

    And the other way: ``"pyconvex.send_text"`` is ``send_text(utf8, more, first=None)
    -> bool``, which writes one unfragmented text frame at once, without an ASGI
    message, the websockets frame objects and an await, when uvicorn's ``send`` would
    write exactly those bytes now (the connection is open, not paused for flow control,
    with no extension negotiated and nothing else pending); with ``first``, that
    frame's text goes just before it, in the same write. It returns False when not
    (nothing written), and the caller sends through ASGI as usual. Every mutation sends
    two frames; this halves what sending them costs, and both in one call save the
    second frame's checks and the hold until the end of the step.

    Incoming, a whole masked text frame is read from the socket's bytes here
    (``data_received``), not by websockets' parser, while the connection is plainly
    open; every other frame, and every frame while it is not, goes to websockets.
    """

    _take_text: Callable[[str], bool] | None = None
    _owed = 0
    """Bytes websockets' parser still needs to end the frame it is in (:func:`frame_gap`)."""
    _head = b""
    """The start of a frame head websockets' parser holds without the rest."""

    def handle_connect(self, event: Any) -> None:
        super().handle_connect(event)
        scope = getattr(self, "scope", None)
        if scope is not None:
            extensions = scope.setdefault("extensions", {})
            extensions["pyconvex.take_text"] = self._set_take_text
            extensions["pyconvex.send_text"] = self._send_text_now

    def _set_take_text(self, take: Callable[[str], bool] | None) -> None:
        self._take_text = take

    def data_received(self, data: bytes) -> None:
        """The client's frames read straight from ``data`` while each is one whole masked
        text message (FIN, no RSV bit, opcode 1, a 7- or 16-bit length within the
        message limit, all of it in this read) and the connection is plainly open: no
        extension negotiated, no message half received, nothing buffered in websockets'
        parser, no close sent. From the first frame that is anything else (a ping, a
        fragment, a binary, a close, a partial or oversized frame, an unmasked one)
        the rest of the read goes to websockets' parser, as all of it did before, so
        it and uvicorn answer, close (1002, 1009...) or buffer as they always have.
        Each frame taken here skips websockets' parser generators, their four reads, a
        ``Frame`` and its checks, and uvicorn's event dispatch."""
        conn = self.conn
        if (
            conn._state is not _OPEN  # (``state`` is a property: a call)
            or conn.extensions
            or self._owed  # websockets' parser is inside a frame (its buffer may be empty)
            or self._head
            or conn.reader.buffer
            or conn.current_size is not None
            or self.close_sent
            or conn.max_message_size is None
            or conn.max_fragment_size is not None
        ):
            self._to_parser(data)
            return
        limit = conn.max_message_size
        end, pos = len(data), 0
        while end - pos >= 6 and data[pos] == 0x81:
            n = data[pos + 1] ^ 0x80  # the mask bit, set by every client: 0..127 if so
            if n < 126:
                start = pos + 6
            elif n == 126 and end - pos >= 8:
                n, start = (data[pos + 2] << 8) | data[pos + 3], pos + 8
            else:
                break  # unmasked, 64-bit length, or the 16-bit one not all here
            stop = start + n
            if stop > end or n > limit:
                break
            payload = apply_mask(data[start:stop], data[start - 4:start])
            pos = stop
            self.deliver_text(payload)
            if self.close_sent or conn._state is not _OPEN:
                break
        if pos < end:
            self._to_parser(data[pos:] if pos else data)

    def _to_parser(self, data: bytes) -> None:
        """``data`` to websockets' parser, counting where its frames end. The first bytes
        a connection gets are the handshake's request alone (uvicorn hands it over
        rebuilt from its own parse), after which the parser stands at a frame boundary."""
        if self.handshake_initiated:
            owed, head = frame_gap(self._owed, self._head, data)
            if owed != self._owed or head != self._head:  # (idle connections stay unset)
                self._owed, self._head = owed, head
        super().data_received(data)

    def send_receive_event_to_app(self) -> None:
        if self.curr_msg_data_type != "text":
            super().send_receive_event_to_app()
            return
        data = self.frames[0] if len(self.frames) == 1 else b"".join(self.frames)
        self.frames = []
        self.deliver_text(data)

    def deliver_text(self, data: bytes) -> None:
        """One whole text message, as received: to the app's take-text hook, else to
        ``receive()`` as uvicorn's ``send_receive_event_to_app`` queues it (reading
        paused while it waits); not valid UTF-8, the connection closes with 1007."""
        if self.close_sent:
            return  # the app is past its close: discarded, as uvicorn does
        try:
            text = data.decode()
        except UnicodeDecodeError:
            self.logger.exception("Invalid UTF-8 sequence received from client.")
            self.conn.send_close(1007)
            self.handle_parser_exception()
            return
        take = self._take_text
        if take is not None and self.queue.empty() and take(text):
            return  # (only with nothing earlier still waiting for receive())
        self.queue.put_nowait({"type": "websocket.receive", "text": text})
        if not self.read_paused:
            self.read_paused = True
            self.transport.pause_reading()

    def _send_text_now(self, data: bytes, more: bool = False, first: bytes | None = None) -> bool:
        transport = self.transport
        conn = self.conn
        if (
            conn._state is not _OPEN  # (so accepted, and no close sent or received)
            or self.close_sent
            or self.disconnected
            or conn.extensions
            or conn.expect_continuation_frame
            or conn.writes
            or not self.writable.is_set()
            or not isinstance(transport, CorkedTransport)
        ):
            return False
        n = len(data)
        head = _TEXT_HEADS[n] if n < 1024 else _text_head(n)
        if first is not None:  # its frame first, in the same write
            n = len(first)
            head = (_TEXT_HEADS[n] if n < 1024 else _text_head(n)) + first + head
        if not more:
            return transport.write_now(head, data)  # (False if the transport is closing)
        if transport.is_closing():
            return False
        transport.hold(head, data)
        return True

    async def send(self, message: Any) -> None:
        await super().send(message)
        if message["type"] == "websocket.accept" and self.handshake_complete:
            # The handshake's request and response (headers, their lists) are not read
            # again: not kept for the connection's lifetime.
            self.request = self.response = None  # type: ignore[assignment]
        if not message.get("pyconvex.more") and isinstance(self.transport, CorkedTransport):
            self.transport.flush()
