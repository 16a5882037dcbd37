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
the same (corked) transport to the WebSocket protocol.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol


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


_FLUSHERS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Flusher] = (
    weakref.WeakKeyDictionary()
)


def _flusher(loop: asyncio.AbstractEventLoop) -> _Flusher:
    flusher = _FLUSHERS.get(loop)
    if flusher is None:
        flusher = _FLUSHERS[loop] = _Flusher(loop)
    return flusher


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


class CorkedHttpToolsProtocol(HttpToolsProtocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(CorkedTransport(transport, self.loop))  # type: ignore[arg-type]

    def on_response_complete(self) -> None:
        self.transport.flush()  # type: ignore[attr-defined]  # head and body, one send
        super().on_response_complete()


class CorkedWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's WebSocket protocol, sending each frame at once unless the app marks the
    message ``"pyconvex.more": True`` (then with the next one)."""

    async def send(self, message: Any) -> None:
        await super().send(message)
        if not message.get("pyconvex.more") and isinstance(self.transport, CorkedTransport):
            self.transport.flush()
