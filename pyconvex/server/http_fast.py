"""Plain keep-alive client calls read from the connection's bytes, without httptools'
callbacks and without uvicorn's request cycle.

Under 16 keep-alive clients' inserts the main process is the bound, and the HTTP
protocol around a call (``DirectCallsProtocol``, ``server/direct_calls.py``) was about a
quarter of its work: httptools calls back into Python for every parser event (message
begin, URL, each header, headers complete, body, message complete), and the protocol
built a scope, a header list, a cycle and a task from them, for a request whose head is
a few lines a client sends the same way every time. :class:`RawCallsProtocol` reads
such a request itself, with C doing the work: one search for the end of the head, one
split into lines, the request line looked up whole (``POST /api/mutation HTTP/1.1``),
the header lines mapped through ``_FIELDS``, a bounded dict of lines already checked
and split (a line not seen before is checked once by :func:`_field`), a dict of the
fields for ``Content-Length`` and ``Connection``. ``Authorization``, ``Origin``,
``User-Agent`` and ``X-Forwarded-For`` are read from the scope's headers by
:meth:`FunctionCalls.reply`, as before. Each connection has one worker task
(:meth:`RawCallsProtocol._serve`) that answers its calls one after the other and writes
each response in one write.

Whatever it is not sure of goes to uvicorn unchanged: another method or target (a GET, a
WebSocket upgrade, a query string, a doubled slash), HTTP/1.0, a chunked body, no or a
non-numeric ``Content-Length``, one over 64 KiB (uvicorn's read-pause mark), ``Expect``,
``Upgrade``, a ``Connection`` other than ``keep-alive`` or ``close``, a repeated header
name, a line without a colon, a name that is not a token, a byte that is not tab or
printable ASCII (malformed input gets uvicorn's 400), an unfinished head past
``MAX_HEADER_BYTES`` (uvicorn's path answers 431). The connection then switches to
uvicorn's parsing for good, fed the bytes not yet consumed first, so pipelined requests
reach it whole and in order; from there it is :class:`DirectCallsProtocol`, which still
answers plain calls without ASGI.

What uvicorn's cycle gave is kept here: one request answered at a time (pipelined ones
wait in the buffer, reading pauses past 64 KiB of them), the body awaited before the
call runs (a client gone before it is whole, or before its call starts, runs nothing),
the keep-alive timeout and the head deadline on the connection's one watch timer
(``server/corked.py``), writes that wait while the transport is paused, graceful
shutdown (a call in flight, or one whose head is in, finishes with ``connection:
close``; an idle connection closes), the connection counted in uvicorn's set, the worker
in its task set while a call runs, the access line if access logging is on, and a 500
with the traceback in the server log if the answer raises.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from uvicorn.protocols.http.flow_control import HIGH_WATER_LIMIT

from pyconvex.functions import FunctionKind
from pyconvex.server.direct_calls import (
    INTERNAL_ERROR_RESPONSE,
    DirectCallsProtocol,
    next_step,
    status_and_defaults,
)
from pyconvex.server.fast_path import JSON_FIELDS, KEEP_ORIGIN, origin_fields
from pyconvex.server.limits import MAX_HEADER_BYTES

log = logging.getLogger(__name__)

# What this module reads or calls of uvicorn's HTTP protocol beyond what corked.py and
# direct_calls.py list (not API): tests/server/test_http_fast.py fails, naming it, when
# one moves.
UVICORN_RAW_INTERNALS = (
    "root_path", "limit_concurrency", "access_log", "access_logger", "client", "flow",
    "server_state", "tasks", "timeout_keep_alive", "loop", "shutdown", "data_received",
)

_CHECK = bytes(0 if (byte < 32 and byte != 9) or byte >= 127 else byte for byte in range(256))
"""``bytes.translate`` table: tab and printable ASCII as themselves, every other byte (a
control character, CR or LF among them, or one past ASCII) as NUL."""
_TOKEN = b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz"
"""The bytes of a (lowercased) header name (RFC 9110's token)."""
_UNSURE = frozenset((b"transfer-encoding", b"expect", b"upgrade"))
"""Headers that take a request to uvicorn's parsing whatever their value."""
_FIELDS: dict[bytes, tuple[bytes, bytes]] = {}
"""A header line seen before (``Content-Type: application/json``) -> its lowercased name
and its value without surrounding whitespace: a client sends the same few lines with
every call, so each is checked and split once, and a head's lines are looked up with
``map`` in C. Only lines :func:`_field` accepts are kept, at most ``_MAX_FIELDS`` (then
the dict starts empty again)."""
_MAX_FIELDS = 1024

_Request = tuple[FunctionKind, dict[str, Any], bytes, bool]
"""A call read whole: its kind, scope, body and whether the connection stays open."""


def _field(line: bytes) -> tuple[bytes, bytes] | None:
    """A header line's name (lowercased) and value, if this protocol is sure of it: a
    token name, a value of tab and printable ASCII; a ``Content-Length`` of at most
    ``HIGH_WATER_LIMIT`` (64 KiB, uvicorn's read-pause mark, so reading never pauses
    under a body), in at most six digits; a ``Connection`` of ``keep-alive`` or
    ``close`` (kept lowercased); none of ``_UNSURE``. Remembered in ``_FIELDS`` while it has room."""
    name, colon, value = line.partition(b":")
    name = name.lower()
    value = value.strip(b" \t")
    if (
        not colon
        or not name
        or name.translate(None, _TOKEN)
        or b"\x00" in value.translate(_CHECK)
        or name in _UNSURE
    ):
        return None
    if name == b"content-length" and not (
        value.isdigit() and len(value) <= 6 and int(value) <= HIGH_WATER_LIMIT
    ):
        return None
    if name == b"connection":
        value = value.lower()
        if value not in (b"keep-alive", b"close"):
            return None
    field = (name, value)
    if len(_FIELDS) >= _MAX_FIELDS:
        # Full (many bodies' lengths, many callers' tokens): start again rather than
        # stop learning, so the lines clients send now are the ones kept.
        _FIELDS.clear()
    _FIELDS[line] = field
    return field


def _fields(lines: list[bytes]) -> list[tuple[bytes, bytes]] | None:
    """The header lines ``_FIELDS`` did not know, each checked by :func:`_field`: the
    head's fields, or None if one is not sure."""
    fields = []
    for line in lines:
        field = _field(line)
        if field is None:
            return None
        fields.append(field)
    return fields


class RawCallsProtocol(DirectCallsProtocol):
    """:class:`DirectCallsProtocol` reading plain calls from the raw bytes until the
    first request it is not sure of (see the module's docstring)."""

    _raw = False
    """Whether the connection still reads requests itself (else it is uvicorn's)."""
    raw_lines: dict[bytes, tuple[FunctionKind, str]] = {}
    """A call route's request line (``POST /api/mutation HTTP/1.1``) -> its kind and path."""
    _buffer: bytes | bytearray = b""
    """Bytes received and not yet answered: the request in progress, pipelined ones."""
    _scanned = 0
    """How much of an incomplete head was already searched for its end."""
    _waiting: tuple[FunctionKind, dict[str, Any], bool, int, int] | None = None
    """A head whose body is still arriving: kind, scope, keep-alive, head end, end."""
    _busy = False
    """A call of this connection is running (the next request waits its turn)."""
    _worker: asyncio.Task[None]
    """The connection's worker (:meth:`_serve`), from its first call on."""
    _waiter: asyncio.Future[_Request] | None = None
    """What the idle worker waits on for the connection's next call."""
    _lost = False
    _closing = False
    """The server is stopping: the call in progress is the connection's last."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        # A kept-alive answer is written to the socket's transport itself: in raw mode
        # nothing else writes through the cork (``self.transport``), so nothing is ever
        # held there to go first, and the response is whole.
        self._socket = transport
        # uvicorn's path for a root path or a concurrency cap (which it counts per request).
        self._raw = self.calls is not None and not self.root_path and self.limit_concurrency is None

    def data_received(self, data: bytes) -> None:
        if not self._raw:
            super().data_received(data)
            return
        self._idle_deadline = None
        if self._buffer:
            buffer = self._buffer
            if isinstance(buffer, bytes):
                buffer = self._buffer = bytearray(buffer)
            buffer += data
        else:
            self._buffer = data
        if self._busy:  # a call is running: the next request waits for its answer
            if len(self._buffer) > HIGH_WATER_LIMIT:
                self.flow.pause_reading()
            return
        request = self._next_request()
        if request is None:
            return
        self._busy = True
        waiter = self._waiter
        if waiter is None:  # the connection's first call
            self._worker = self.loop.create_task(self._serve(request))
        else:
            waiter.set_result(request)
        self.tasks.add(self._worker)  # (uvicorn's set: graceful shutdown waits for it)

    def _next_request(self) -> _Request | None:
        """The call at the head of the buffer, if it is all in (else None: wait for
        the rest of it, or the buffer went to uvicorn's parsing)."""
        buffer = self._buffer
        waiting = self._waiting
        if waiting is not None:
            kind, scope, keep_alive, head_end, end = waiting
            if len(buffer) < end:
                return None
            self._waiting = None
        else:
            head_end = buffer.find(b"\r\n\r\n", self._scanned)
            if head_end < 0:  # the head is not all in
                if len(buffer) > MAX_HEADER_BYTES or not b"POST /".startswith(buffer[:6]):
                    self._to_uvicorn()
                    return None
                self._scanned = max(0, len(buffer) - 3)
                self._start_head()
                return None
            self._scanned = 0
            # (bytes: a bytearray's lines are not hashable)
            lines = bytes(buffer[:head_end]).split(b"\r\n")
            found = self.raw_lines.get(lines[0])
            del lines[0]
            headers: list[Any] | None = list(map(_FIELDS.get, lines))
            if None in headers:  # type: ignore[operator]
                headers = _fields(lines)
            named = {} if headers is None else dict(headers)
            length = named.get(b"content-length")
            if (
                found is None
                or length is None
                or len(named) != len(headers)  # type: ignore[arg-type]  # a name repeated
            ):
                self._to_uvicorn()
                return None
            head_end += 4
            end = head_end + int(length)
            self._head_deadline = None
            kind, path = found
            keep_alive = named.get(b"connection") != b"close"
            scope = {
                "type": "http", "method": "POST", "path": path, "headers": headers,
                "query_string": b"", "client": self.client, KEEP_ORIGIN: True,
            }
            if len(buffer) < end:
                self._waiting = (kind, scope, keep_alive, head_end, end)
                return None
        self._buffer = buffer[end:] if len(buffer) > end else b""
        return kind, scope, bytes(buffer[head_end:end]), keep_alive

    def _to_uvicorn(self) -> None:
        """Hand the connection to uvicorn's parsing for good, from the first byte of the
        request in progress (the buffer holds it and everything after it)."""
        self._raw = False
        buffer, self._buffer = self._buffer, b""
        self._waiting = None
        if self._waiter is not None:
            self._waiter.cancel()  # the worker ends (or, if it is the caller, returns)
        self._in_head, self._head_bytes = True, 0
        super().data_received(bytes(buffer))

    async def _serve(self, request: _Request) -> None:
        """The connection's worker: answers its calls one after the other, and waits
        for the next between them (one task for the connection's life instead of one
        per call, which asyncio registers and unregisters in its weak set of tasks
        each time). It is in uvicorn's task set only while a call runs."""
        calls = self.calls
        worker = self._worker
        assert calls is not None
        try:
            while True:
                kind, scope, body, keep_alive = request
                try:
                    await next_step()  # (why: DirectCallsProtocol._answer)
                    if self._lost:
                        return  # the client left before its call started: nothing ran
                    status, content, origin = await calls.reply(kind, scope, [body], len(body))
                except Exception:
                    log.exception("answering POST %s", scope["path"])
                    if not self._lost:
                        self.transport.write(INTERNAL_ERROR_RESPONSE)
                        self.transport.close()
                    return
                if self.flow.write_paused and not self._lost:
                    await self.flow.drain()  # the client is not reading: wait as uvicorn does
                if self._lost:
                    return  # the call ran (a mutation stays committed); no one to tell
                if self.access_log:
                    self.access_logger.info(
                        '%s - "%s %s HTTP/%s" %d',  # (uvicorn's line)
                        f"{self.client[0]}:{self.client[1]}" if self.client else "",
                        "POST", scope["path"], "1.1", status)
                head = status_and_defaults(status, self.server_state.default_headers)
                head += JSON_FIELDS % len(content)
                if origin is not None:
                    head += origin_fields(origin)
                self.server_state.total_requests += 1
                if not keep_alive or self._closing:
                    self.transport.write_now(  # type: ignore[attr-defined]
                        head + b"connection: close\r\n\r\n", content)
                    self.transport.close()
                    return
                self._socket.write(head + b"\r\n" + content)
                # What ``on_response_complete`` does for uvicorn's cycles: the next
                # request in the buffer, or the keep-alive wait.
                if self.flow.read_paused:
                    self.flow.resume_reading()
                if self._buffer:
                    following = self._next_request()
                    if following is not None:
                        request = following
                        continue
                    if not self._raw:
                        return  # the connection is uvicorn's now
                self._busy = False
                self.tasks.discard(worker)
                self._idle_deadline = self.loop.time() + self.timeout_keep_alive
                if self._watch is None:
                    self._watch = self.loop.call_later(self._watch_period, self._on_watch)
                waiter = self._waiter = self.loop.create_future()
                request = await waiter
                self._waiter = None
        except asyncio.CancelledError:
            if self._waiter is None or not self._waiter.cancelled():
                raise
        finally:
            self._busy = False
            self._waiter = None
            self.tasks.discard(worker)

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        if self._waiter is not None:
            self._waiter.cancel()  # the worker ends
        super().connection_lost(exc)

    def shutdown(self) -> None:
        """uvicorn's graceful shutdown: a call running, or whose head is in, finishes
        (its answer closes the connection); an idle connection closes now."""
        if not self._raw:
            super().shutdown()
        elif self._busy or self._waiting is not None:
            self._closing = True
        else:
            self.transport.close()
