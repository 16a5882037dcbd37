"""The WebSocket shell around :class:`SyncSession`: frames in, frames out.

Text frames carry one JSON message each. A malformed or out-of-order message closes only
this connection, with a FatalError naming the problem; everyone else keeps being served.
The server pings after 15 s without sending anything (clients drop a silent server).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from starlette.types import Message, Receive, Scope, Send

from pyconvex.protocol import (
    ProtocolError,
    ServerMessage,
    encode_server_frame,
    parse_client_message,
)
from pyconvex.server.client_address import request_origin
from pyconvex.server.state import ServerState
from pyconvex.sync import CloseAfterAuthError, SyncSession
from pyconvex.sync.fanout import PerLoop

log = logging.getLogger("pyconvex.server")
PING_AFTER_S = 15.0
SendNow = Callable[[bytes, bool, "bytes | None"], bool]  # server/corked.py's send_text


def _reason(text: str) -> str:
    return text.encode("utf-8")[:120].decode("utf-8", "ignore")


class _Shell:
    """One connection's writes, as one slotted object: closures over the endpoint's
    locals cost a function and a cell per variable, each tracked by the garbage
    collector, for every idle connection a server holds."""

    __slots__ = ("_held", "_lock", "_send", "_send_now")

    def __init__(self, send: Send, send_now: SendNow | None) -> None:
        self._send = send
        self._send_now = send_now  # server/corked.py: a text frame written at once
        self._lock: asyncio.Lock | None = None  # made when a send must wait
        self._held: bytes | None = None  # a frame to write with the next one (``more``)

    def send_message(self, message: ServerMessage, more: bool = False) -> Awaitable[None] | None:
        """The session's send (``sync/session.py``'s ``Send``): None when the frame is
        written at once, in order (nothing is waiting to send before it), as nearly
        every frame is; else the coroutine that sends it through ASGI, to await. (No
        coroutine of this method per frame: two go out per mutation.) With ``more``
        the frame is kept, and written with the next one in one call and one write
        (the session sends that one next, before it awaits anything)."""
        data = encode_server_frame(message)
        first, self._held = self._held, None
        lock = self._lock
        if self._send_now is not None and (lock is None or not lock.locked()):
            if more and first is None:
                self._held = data
                return None
            if self._send_now(data, more, first):
                return None
        return self._send_in_turn(data, more, first)

    async def _send_in_turn(self, data: bytes, more: bool, first: bytes | None) -> None:
        lock = self._lock
        if lock is None:
            lock = self._lock = asyncio.Lock()
        async with lock:
            # "pyconvex.more": another frame follows at once; send both in one write.
            if first is not None:
                await self._send(
                    {"type": "websocket.send", "text": first.decode(), "pyconvex.more": True}
                )
            await self._send(
                {"type": "websocket.send", "text": data.decode(), "pyconvex.more": more}
            )

    def send_frame(self, data: bytes) -> bool:
        # A Transition of a fan-out pass (sync/fanout.py): written now, or not at all
        # (not while a frame is kept for the next one: that one goes first).
        return self._send_now is not None and self._held is None \
            and (self._lock is None or not self._lock.locked()) \
            and bool(self._send_now(data, False, None))


def _text(event: Message) -> str | None:
    """A received message's text; None when the client has left."""
    if event["type"] == "websocket.disconnect":
        return None
    text: str | None = event.get("text")
    if text is None:
        raise ProtocolError("binary frames are not supported; send JSON text frames")
    return text


async def sync_endpoint(state: ServerState, scope: Scope, receive: Receive, send: Send) -> None:
    """One sync connection, as plain ASGI: every mutation sends two messages and every
    commit a Transition to each subscriber, so no framework layer wraps ``send``."""
    if (await receive())["type"] != "websocket.connect":
        return
    manager = state.ensure_started()
    origin = request_origin(scope, state.trusted_proxies)
    await send({"type": "websocket.accept"})
    extensions = scope.get("extensions", {})
    send_text, take_text = extensions.get("pyconvex.send_text"), extensions.get("pyconvex.take_text")
    # Nothing reads the scope after the accept (no middleware wraps this endpoint;
    # uvicorn reads it only to log the handshake), yet every coroutine between uvicorn
    # and here keeps it for the connection's lifetime: emptied, it holds no headers,
    # path, addresses, copy of the app state or extension hooks.
    del extensions
    scope.clear()
    shell = _Shell(send, send_text)
    send_frame = shell.send_frame  # one bound method, shared by the session and pinger
    session = SyncSession(
        manager,
        state.deployment.runner,
        shell.send_message,
        send_frame=send_frame,
        admin_key=state.admin_key,
        verify_token=state.verify,
        origin=origin,
    )
    if take_text is not None:  # mutations may skip the receive queue (server/corked.py)
        take_text(session.take_text)
    pinger = _PINGERS.get(asyncio.get_running_loop())
    pinger.add(session, send_frame)
    close_code, close_reason = 1000, ""
    disconnected = False
    state.ws_sessions += 1  # open sync sessions (/metrics, the dashboard's health)
    try:
        # The receive loop and the session's tasks are one group (SyncSession.serve):
        # the first failure among them ends the others and closes the socket with its
        # reason, below. The loop runs here, not in coroutines of its own: each frame
        # stays suspended for as long as the connection is open.
        session.begin_serving()
        try:
            while True:
                session.receiving = True
                try:
                    text = _text(await receive())
                finally:
                    session.receiving = False
                if text is None:
                    disconnected = True
                    break
                await session.handle(parse_client_message(text))
                text = None  # not kept while the connection waits for the next one
        except BaseException as e:
            session.end_serving(e)
            raise
        session.end_serving()
    except ProtocolError as e:
        close_code, close_reason = 1008, _reason(e.message)
        with contextlib.suppress(Exception):
            sending = shell.send_message({"type": "FatalError", "error": e.message})
            if sending is not None:
                await sending
    except CloseAfterAuthError as e:
        close_code, close_reason = 1000, _reason(str(e))
    except OSError:  # the client went away while we were sending (ClientDisconnected)
        disconnected = True
    except Exception:
        log.exception("sync connection failed")
        close_code, close_reason = 1011, "InternalServerError"
    finally:
        state.ws_sessions -= 1
        if take_text is not None:
            take_text(None)
        pinger.sessions.pop(session, None)
        await session.close()
        if not disconnected:
            with contextlib.suppress(Exception):
                await send({"type": "websocket.close", "code": close_code, "reason": close_reason})


_PING = encode_server_frame({"type": "Ping"})


class _Pinger:
    """One per event loop: pings every sync connection that sent nothing for
    ``PING_AFTER_S``, from one task for all of them (a task and a timer per connection
    cost an idle subscriber a kilobyte and a wake-up every few seconds). A connection
    whose socket cannot take the frame at once is not idle, and is skipped."""

    def __init__(self) -> None:
        self.sessions: dict[SyncSession, Callable[[bytes], bool]] = {}
        self._task: asyncio.Task[None] | None = None

    def add(self, session: SyncSession, send_frame: Callable[[bytes], bool]) -> None:
        self.sessions[session] = send_frame
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="sync pings")

    async def _run(self) -> None:
        while self.sessions:
            await asyncio.sleep(PING_AFTER_S / 3)
            now = time.monotonic()
            for session, send_frame in list(self.sessions.items()):
                if now - session.last_send < PING_AFTER_S:
                    continue
                try:
                    if send_frame(_PING):
                        session.last_send = now
                except Exception as e:  # that connection's failure, as its own task's was
                    session.fail(e)


_PINGERS: PerLoop[_Pinger] = PerLoop(lambda loop: _Pinger())
