"""The server's WebSocket protocol: corked (``server/corked.py``), and small when idle.

A server keeps thousands of sync connections that are idle by design (subscribers
waiting for a commit), so what each one holds between messages is the server's memory
per subscriber. uvicorn's WebSocket protocol gives every connection an
``asyncio.Queue`` for received messages and an ``asyncio.Event`` for flow control; each
``collections.deque`` inside them (the queue's items, getters and putters; the event's
waiters) allocates a block of 64 slots when made, about 760 bytes, used or not: 3 KB
per connection. :class:`Inbox` and :class:`Flag` do the same jobs for the one reader and
the one writer a connection has, holding a list or a future only while something waits.
See docs/architecture.md ("Idle memory per subscriber") for what each part bought.
"""

from __future__ import annotations

import asyncio
import logging
import random
import struct
from typing import Any

from uvicorn.config import Config
from uvicorn.server import ServerState
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory
from websockets.protocol import Protocol
from websockets.server import ServerProtocol
from websockets.streams import StreamReader

from pyconvex.server.corked import CorkedWebSocketProtocol
from pyconvex.sync.fanout import PerLoop
from pyconvex.sync.mutation_queue import OneReader

# What this module reads or overrides of uvicorn's WebSocket protocol beyond what
# server/corked.py does (tests/server/test_ws_protocol.py checks they still exist).
UVICORN_WS_IDLE_INTERNALS = (
    "queue", "writable", "receive", "read_paused", "transport", "request", "send",
    "handshake_complete", "start_keepalive", "stop_keepalive", "keepalive_timeout",
    "ping_interval", "ping_timeout", "pending_ping_payload", "ping_sent_at", "conn",
    "close_sent", "loop", "app", "run_asgi", "handle_text",
)
KEEPALIVE_TICK_S = 1.0


class Inbox(OneReader[Any]):
    """The received messages of one connection, in order, for its one reader.

    The part of ``asyncio.Queue`` that uvicorn uses (``put_nowait``, ``empty``, ``get``):
    unbounded, so no putters wait; one ASGI app task receives, so one getter at a time
    (a second concurrent getter shares the first's wake-up and finds the queue in order).
    Between messages it holds an empty list, and a future only while the reader waits.
    """

    __slots__ = ()

    _items: list[Any]

    def __init__(self) -> None:
        super().__init__()
        self._items = []

    def empty(self) -> bool:
        return not self._items

    async def get(self) -> Any:
        while not self._items:
            await self.wait()
        return self._items.pop(0)

    def pop(self) -> Any:
        return self._items.pop(0)


class Flag:
    """``asyncio.Event`` for a connection's "the transport takes writes" (set by default):
    the waiters' list exists only while the transport is paused and someone waits."""

    __slots__ = ("_set", "_waiters")

    def __init__(self) -> None:
        self._set = True
        self._waiters: list[asyncio.Future[bool]] | None = None

    def is_set(self) -> bool:
        return self._set

    def set(self) -> None:
        self._set = True
        waiters, self._waiters = self._waiters, None
        for waiter in waiters or ():
            if not waiter.done():
                waiter.set_result(True)

    def clear(self) -> None:
        self._set = False

    async def wait(self) -> bool:
        if self._set:
            return True
        waiter: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        if self._waiters is None:
            self._waiters = []
        self._waiters.append(waiter)
        try:
            return await waiter
        finally:
            if self._waiters is not None and waiter in self._waiters:
                self._waiters.remove(waiter)


class WebSocketProtocol(CorkedWebSocketProtocol):
    """:class:`CorkedWebSocketProtocol` with the idle connection's parts made small.

    Its instances keep only what differs between connections. uvicorn's ``__init__``
    also copies a dozen of the server's settings (config, app, loop, logger, shared
    sets...) into each instance: 38 attributes in all, past the 29 that CPython 3.11
    keeps in a key-sharing instance dictionary, so every connection had a dictionary
    of its own (1.6 KB against 0.3 KB). Here those settings are class attributes of a
    subclass made once per server (:func:`_bound`); ``__init__`` sets the rest, as
    uvicorn's does. tests/server/test_ws_protocol.py checks that every attribute
    uvicorn's ``__init__`` sets is still found on an instance."""

    def __new__(
        cls, config: Config, server_state: ServerState, app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> WebSocketProtocol:
        bound = _bound(cls, config, server_state, app_state, _loop or asyncio.get_event_loop())
        return super().__new__(bound)

    def __init__(
        self, config: Config, server_state: ServerState, app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        # uvicorn's WebSocketsSansIOProtocol.__init__, for one connection's own state.
        self.transport = None  # type: ignore[assignment]
        self.server = None
        self.client = None
        self.scheme = None  # type: ignore[assignment]
        self.queue = Inbox()  # type: ignore[assignment]
        self.handshake_initiated = False
        self.handshake_complete = False
        self.close_sent = False
        self.disconnected = False
        self.close_timer = None
        self.initial_response = None
        self.conn = ServerProtocol(
            extensions=self.extension_factories, max_size=config.ws_max_size, logger=_LOGGER
        )
        self.read_paused = False
        self.writable = Flag()  # type: ignore[assignment]
        self.ping_timer = None
        self.pong_timer = None
        self.pending_ping_payload = None
        self.ping_sent_at = 0.0
        self.last_ping_rtt = 0.0
        self.frames = []
        self.curr_msg_data_type = "bytes"

    extension_factories: tuple[ServerPerMessageDeflateFactory, ...] = ()
    server_app: Any = None  # the server's ASGI app (uvicorn's ``self.app``)

    @property
    def app(self) -> Any:
        """What uvicorn's ``run_asgi`` calls for this connection: the endpoint the
        server's app hands it to directly if it has one (``DeploymentApp``: the sync
        endpoint), else the app. Read once per connection; no coroutine of the app's
        own routing then stays suspended for the connection's lifetime."""
        direct = getattr(self.server_app, "websocket_endpoint", None)
        scope = getattr(self, "scope", None)  # set when the handshake comes
        if direct is not None and scope is not None:
            endpoint = direct(scope)
            if endpoint is not None:
                return endpoint
        return self.server_app

    async def receive(self) -> Any:
        # uvicorn's receive, awaiting the inbox's future directly (no Queue.get frame
        # stays suspended for the idle connection).
        inbox: Inbox = self.queue  # type: ignore[assignment]
        while inbox.empty():
            await inbox.wait()
        message = inbox.pop()
        if self.read_paused and inbox.empty():
            self.read_paused = False
            self.transport.resume_reading()
        return message

    def handle_text(self, event: Any) -> None:
        super().handle_text(event)
        # websockets' parser keeps the last frame in its generator frame until the next
        # one comes: for an idle connection, until it next sends. The message has been
        # handed over (or its fragments kept by uvicorn): the payload need not stay.
        event.data = b""
        _drop_handshake_parser(self.conn)

    async def send(self, message: Any) -> None:
        request = getattr(self, "request", None)
        await super().send(message)
        if request is not None and self.request is None:
            # Accepted: the handshake's request is not read again, but websockets'
            # parser generator keeps it in its frame for the connection's lifetime;
            # its headers (a dict, a list and their strings) need not stay. Nor need
            # the generator itself, once the parser is between frames (it is, unless
            # the client has already sent part of one).
            request.headers.clear()
            _drop_handshake_parser(self.conn)

    # ------------------------------------------------------------------ keepalive
    # uvicorn pings every ws_ping_interval and fails a connection whose pong has not
    # come ws_ping_timeout after its ping, with a timer per connection (two while a
    # ping is out). When the two are equal (uvicorn's defaults: 20 s), one timer per
    # loop does the same for every connection (:class:`_Keepalive`).
    def _keepalive_shared(self) -> bool:
        return bool(self.ping_interval) and self.ping_interval == self.ping_timeout

    def start_keepalive(self) -> None:
        if not self._keepalive_shared():
            super().start_keepalive()
            return
        assert self.ping_interval is not None
        _KEEPALIVES.get(self.loop).add(self, self.ping_interval)

    def stop_keepalive(self) -> None:
        super().stop_keepalive()
        if self._keepalive_shared():
            _KEEPALIVES.get(self.loop).discard(self)

    def keepalive_due(self) -> None:
        """One ping interval has passed: a ping still unanswered fails the connection
        (uvicorn's ``keepalive_timeout``), else the next ping goes out."""
        if self.close_sent or self.transport.is_closing():
            return
        if self.pending_ping_payload is not None:
            self.keepalive_timeout()
            return
        # uvicorn's send_keepalive_ping, without arming a pong timer.
        self.pending_ping_payload = struct.pack("!I", random.getrandbits(32))
        self.ping_sent_at = self.loop.time()
        self.conn.send_ping(self.pending_ping_payload)
        self.transport.write(b"".join(self.conn.data_to_send()))


class _Keepalive:
    """One per event loop: the connections to ping, each with the loop time its next
    ping (or its pong's deadline) is due, looked at every ``KEEPALIVE_TICK_S`` while
    any is open. A connection costs an entry here instead of a uvloop timer handle,
    its libuv timer and a bound method, and a ping no timer set and cancelled."""

    __slots__ = ("_due", "_loop", "_timer")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._due: dict[WebSocketProtocol, float] = {}
        self._timer: asyncio.TimerHandle | None = None

    def add(self, protocol: WebSocketProtocol, interval: float) -> None:
        self._due[protocol] = self._loop.time() + interval
        if self._timer is None:
            self._timer = self._loop.call_later(KEEPALIVE_TICK_S, self._tick)

    def discard(self, protocol: WebSocketProtocol) -> None:
        self._due.pop(protocol, None)

    def __len__(self) -> int:
        return len(self._due)

    def _tick(self) -> None:
        self._timer = None
        now = self._loop.time()
        for protocol in [p for p, at in self._due.items() if at <= now]:
            assert protocol.ping_interval is not None
            self._due[protocol] = now + protocol.ping_interval
            try:
                protocol.keepalive_due()  # may fail the connection: it discards itself
            except Exception:  # that connection's alone, as with uvicorn's own timers
                _LOGGER.exception("WebSocket keepalive ping failed")
        if self._due:
            self._timer = self._loop.call_later(KEEPALIVE_TICK_S, self._tick)


_KEEPALIVES: PerLoop[_Keepalive] = PerLoop(_Keepalive)


_LOGGER = logging.getLogger("uvicorn.error")
_SERVER_PARSE = ServerProtocol.parse.__code__
_PARSE = Protocol.parse.__code__
_AT_EOF = StreamReader.at_eof.__code__


def _drop_handshake_parser(conn: ServerProtocol) -> None:
    """websockets' server parser is a generator that parses the handshake and then
    delegates, for the connection's lifetime, to the frame parser (``yield from``): two
    suspended generators, the outer one keeping the handshake request in its frame.
    Between frames (the frame parser waiting in ``at_eof``, so nothing is buffered and
    no frame is half read: its state is all on ``conn``), a new frame parser alone does
    the same from there on. Done once; skipped if websockets' generators are not the
    ones expected here (tests/server/test_ws_protocol.py checks that they are)."""
    outer = conn.parser
    if getattr(outer, "gi_code", None) is not _SERVER_PARSE:
        return  # done already, or websockets' discard() after a close
    inner = outer.gi_yieldfrom  # type: ignore[attr-defined]
    waiting = getattr(inner, "gi_yieldfrom", None)
    if getattr(inner, "gi_code", None) is not _PARSE \
            or getattr(waiting, "gi_code", None) is not _AT_EOF \
            or conn.reader.buffer or conn.reader.eof:
        return
    fresh = Protocol.parse(conn)
    next(fresh)  # to at_eof's wait, where the old one is
    conn.parser = fresh  # the old pair is closed when dropped: GeneratorExit, no effect


def _bound(
    cls: type[WebSocketProtocol], config: Config, server_state: ServerState,
    app_state: dict[str, Any], loop: asyncio.AbstractEventLoop,
) -> type[WebSocketProtocol]:
    """``cls`` with one server's settings as class attributes (what uvicorn's
    ``__init__`` copies into every instance), made when a server's first connection
    comes and kept while its connections keep coming (the last one made, per class:
    a server's connections all come with the same config, state and loop)."""
    bound = cls.__dict__.get("_last_bound")
    if (
        bound is not None
        and bound.config is config
        and bound.app_state is app_state
        and bound.connections is server_state.connections
        and bound.loop is loop
    ):
        return bound  # type: ignore[no-any-return]
    if not config.loaded:
        config.load()
    extensions: tuple[ServerPerMessageDeflateFactory, ...] = ()
    if config.ws_per_message_deflate:  # as uvicorn makes it (one factory per server)
        extensions = (ServerPerMessageDeflateFactory(
            server_max_window_bits=12, client_max_window_bits=12,
            compress_settings={"memLevel": 5},
        ),)
    bound = type(cls.__name__, (cls,), {
        "__module__": cls.__module__,
        "__doc__": cls.__doc__,
        "config": config,
        "server_app": config.loaded_app,
        "loop": loop,
        "logger": _LOGGER,
        "root_path": config.root_path,
        "asgi_version": config.asgi_version,
        "app_state": app_state,
        "connections": server_state.connections,
        "tasks": server_state.tasks,
        "default_headers": server_state.default_headers,
        "close_timeout": 10.0,
        "ping_interval": config.ws_ping_interval,
        "ping_timeout": config.ws_ping_timeout,
        "extension_factories": extensions,
    })
    cls._last_bound = bound  # type: ignore[attr-defined]
    return bound
