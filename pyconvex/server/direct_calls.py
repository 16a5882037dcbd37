"""Client calls (``POST /api/query|mutation|action``) answered by the HTTP protocol
itself, without an ASGI application in between.

Under 16 clients' inserts the deployment's main process is the bound (one core; the
SQLite writer and the clients use the other), and about a third of its time per insert
was uvicorn's ASGI machinery around the call rather than the call: the middleware chain
(``DeploymentApp`` -> ``BodyLimit`` -> ``FunctionCalls``), one
receive and two send messages, and ``RequestResponseCycle.send`` checking and joining
headers. :class:`DirectCallsProtocol` keeps uvicorn's parsing and its per-request cycle
(so keep-alive, pipelining, flow control, disconnects and graceful shutdown are
uvicorn's own) but, for a call route, runs :meth:`FunctionCalls.answer` and writes the
response bytes itself.

Only plain requests go this way: ``POST`` to a call route with a ``Content-Length`` of
at most 64 KiB (uvicorn's read-pause mark, so reading is never paused under it), no
``Expect: 100-continue``, not an upgrade. Everything else, including a call with a
chunked or larger body, goes to the ASGI application unchanged and is answered there by
the same :meth:`FunctionCalls.answer`.

The class a deployment serves with (:func:`direct_calls_protocol`) goes one step further
for plain keep-alive calls: it reads them from the raw bytes, without httptools and this
module's cycle (``server/http_fast.py``), until the first request it is not sure of;
from then on the connection is this module's protocol, as described above.
"""

from __future__ import annotations

import asyncio
import logging
import types
from collections.abc import Callable, Generator
from typing import Any, cast

from starlette.types import Scope
from uvicorn.protocols.http.flow_control import HIGH_WATER_LIMIT
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, RequestResponseCycle

from pyconvex.functions import FunctionKind
from pyconvex.server.corked import CorkedHttpToolsProtocol
from pyconvex.server.fast_path import FunctionCalls

log = logging.getLogger(__name__)

# What this module reads or calls of uvicorn's private internals (not API; see
# corked.py): tests/server/test_corked_internals.py fails, naming it, when one moves.
UVICORN_DIRECT_INTERNALS = ("_start_asgi_task", "tasks", "server_state", "transport")
UVICORN_CYCLE_INTERNALS = (
    "scope", "body", "more_body", "message_event", "disconnected", "keep_alive",
    "response_started", "response_complete", "waiting_for_100_continue", "on_response",
)

INTERNAL_ERROR_RESPONSE = (
    b"HTTP/1.1 500 Internal Server Error\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"content-length: 21\r\nconnection: close\r\n\r\nInternal Server Error")


class BodyEvent:
    """What uvicorn's protocol and :meth:`DirectCallsProtocol._answer` need of a cycle's
    ``message_event``: ``set`` (a body chunk arrived, the body ended, the client left)
    and a ``wait`` for the next ``set``. An ``asyncio.Event`` per request cost more than
    the rest of the cycle; this one makes a future only when someone waits, which a
    small body (whole by the time the call starts) never does. A ``set`` with no one
    waiting is not kept: the waiter re-checks the cycle's state before it waits."""

    __slots__ = ("_waiter",)

    def __init__(self) -> None:
        self._waiter: asyncio.Future[None] | None = None

    def set(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def clear(self) -> None:
        """(Nothing is kept between waits.)"""

    async def wait(self) -> None:
        waiter = self._waiter = asyncio.get_running_loop().create_future()
        await waiter


class DirectCycle:
    """A direct call's request-response cycle: every attribute uvicorn's HTTP protocol
    reads or sets on ``self.cycle`` (its body, disconnects, keep-alive, shutdown), in
    slots, without what only uvicorn's ASGI cycle uses (its transport, flow, loggers and
    response state machine). tests/server/test_corked_internals.py checks that uvicorn's
    protocol touches no other attribute of its cycle."""

    __slots__ = (*UVICORN_CYCLE_INTERNALS, "kind")

    def __init__(self, scope: Any, kind: FunctionKind, keep_alive: bool,
                 on_response: Callable[[], None]) -> None:
        self.scope = scope
        self.kind = kind
        self.keep_alive = keep_alive
        self.on_response = on_response
        self.body = bytearray()
        self.more_body = True
        self.message_event = BodyEvent()
        self.disconnected = self.response_started = self.response_complete = False
        self.waiting_for_100_continue = False


class DirectCallsProtocol(CorkedHttpToolsProtocol):
    """uvicorn's HTTP protocol (corked), answering plain client calls itself.
    :func:`direct_calls_protocol` makes the class for one deployment's calls."""

    calls: FunctionCalls | None = None
    raw_calls: dict[bytes, tuple[FunctionKind, str]] = {}
    """A call route's exact request target (no query, escape or doubled slash) -> its
    kind and path: what :meth:`on_headers_complete` recognises without parsing."""

    def on_headers_complete(self) -> None:
        """uvicorn's, for a plain call to a call route's exact path: the same scope and
        cycle, without parsing the URL and routing the path again, and the call started
        at once. Anything else (another target or method, an upgrade, ``Expect``, a
        root path, a concurrency cap, a chunked or large body) takes uvicorn's own."""
        found = self.raw_calls.get(self.url)
        parser = self.parser
        if (
            found is None
            or self.expect_100_continue
            or self.root_path
            or self.limit_concurrency is not None
            or parser.get_method() != b"POST"
            or parser.should_upgrade()
            or not _small_body(self.headers)
        ):
            super().on_headers_complete()
            return
        self._end_head()
        kind, path = found
        http_version = parser.get_http_version()
        scope = self.scope
        scope["method"] = "POST"
        if http_version != "1.1":
            scope["http_version"] = http_version
        scope["path"] = path
        scope["raw_path"] = self.url
        scope["query_string"] = b""
        existing = self.cycle
        cycle = self.cycle = DirectCycle(  # type: ignore[assignment]
            scope, kind, http_version != "1.0" and parser.should_keep_alive(),
            self.on_response_complete)
        if existing is None or existing.response_complete:
            self._start_direct(kind, cycle)
        else:  # pipelined: its turn comes through _start_asgi_task
            self.flow.pause_reading()
            self.pipeline.appendleft((cycle, self.app))  # type: ignore[arg-type]

    def _start_asgi_task(
        self, cycle: RequestResponseCycle | DirectCycle, app: Any,
    ) -> None:
        if isinstance(cycle, DirectCycle):  # a pipelined direct call's turn
            self._start_direct(cycle.kind, cycle)
            return
        kind = self._direct_kind(cycle, app)
        if kind is None:
            super()._start_asgi_task(cycle, app)
            return
        self._start_direct(kind, cycle)

    def _start_direct(self, kind: FunctionKind, cycle: RequestResponseCycle | DirectCycle) -> None:
        # In uvicorn's task set while it runs (graceful shutdown waits for it, the
        # concurrency limit counts it); ``_answer`` takes itself out as it ends, which
        # spares a done callback scheduled through the loop for every request. It is
        # handed its task in a list (``asyncio.current_task`` is Python code in 3.11).
        own: list[asyncio.Task[None]] = []
        task = self.loop.create_task(self._answer(kind, cycle, own))
        own.append(task)
        self.tasks.add(task)

    def _direct_kind(self, cycle: RequestResponseCycle, app: Any) -> FunctionKind | None:
        calls = self.calls
        if calls is None or app is not self.app:
            return None  # (``app`` differs when uvicorn answers 503 over a concurrency cap)
        scope = cast(Scope, cycle.scope)
        kind = calls.call_kind(scope)
        if kind is None or cycle.waiting_for_100_continue or not _small_body(scope["headers"]):
            return None
        return kind

    async def _answer(
        self, kind: FunctionKind, cycle: RequestResponseCycle | DirectCycle,
        own: list[asyncio.Task[None]],
    ) -> None:
        try:
            calls = self.calls
            assert calls is not None
            try:
                # The call itself runs one loop step later. Its task was started by
                # a request that arrived in the same poll as, possibly, the writer's
                # reply for an earlier group; without this, the handlers of every request
                # of that poll (tens of µs each) ran before the woken callers of the
                # durable group could answer, and their clients waited to send again.
                # Closed loop, 16 clients: +8-10% inserts/s (bench/RESULTS.md).
                await next_step()
                while cycle.more_body and not cycle.disconnected:
                    await cycle.message_event.wait()
                    cycle.message_event.clear()
                if cycle.disconnected:
                    return  # the client left before its request was whole: nothing ran
                body = bytes(cycle.body)
                status, headers, content = await calls.answer(
                    kind, cast(Scope, cycle.scope), [body], len(body))
            except Exception:
                log.exception("answering %s %s", cycle.scope["method"], cycle.scope["path"])
                if not cycle.disconnected and not cycle.response_started:
                    cycle.response_started = cycle.response_complete = True
                    self.transport.write(INTERNAL_ERROR_RESPONSE)
                    self.transport.close()
                return
            if cycle.disconnected:
                return  # the call ran (a mutation stays committed); no one to tell
            parts = [status_and_defaults(status, self.server_state.default_headers)]
            for name, value in headers:
                parts += (name, b": ", value, b"\r\n")
            if not cycle.keep_alive:
                parts.append(b"connection: close\r\n")
            parts.append(b"\r\n")
            cycle.response_started = cycle.response_complete = True
            cycle.message_event.set()
            # Sent at once, not held for the loop step's flush: the response is whole,
            # and holding it would schedule a flush callback per request for nothing.
            self.transport.write_now(b"".join(parts), content)  # type: ignore[attr-defined]
            if not cycle.keep_alive:
                self.transport.close()
            cycle.on_response()
        finally:
            self.tasks.discard(own[0])


@types.coroutine
def next_step() -> Generator[None, None, None]:
    """Yield to the event loop once (``asyncio.sleep(0)``, without its two layers)."""
    yield


HEADS: dict[int, tuple[list[tuple[bytes, bytes]], bytes]] = {}


def status_and_defaults(status: int, defaults: list[tuple[bytes, bytes]]) -> bytes:
    """A response's status line and the server's default headers (``date``, ``server``),
    joined once per status while uvicorn keeps the same list (it makes a new one when
    the second of its date header changes)."""
    cached = HEADS.get(status)
    if cached is not None and cached[0] is defaults:
        return cached[1]
    head = STATUS_LINE[status] + b"".join(name + b": " + value + b"\r\n" for name, value in defaults)
    HEADS[status] = (defaults, head)
    return head


def _small_body(headers: list[tuple[bytes, bytes]]) -> bool:
    """A ``Content-Length`` of at most uvicorn's read-pause mark (a chunked body has
    none: the ASGI path counts it against the body cap)."""
    for name, value in headers:
        if name == b"content-length":
            return value.isdigit() and int(value) <= HIGH_WATER_LIMIT
    return False


def direct_calls_protocol(calls: FunctionCalls) -> type[DirectCallsProtocol]:
    """The HTTP protocol class of a deployment server answering ``calls`` directly: plain
    keep-alive calls read from the raw bytes (``server/http_fast.py``), everything else
    through uvicorn's parsing and this module's protocol."""
    from pyconvex.server.http_fast import RawCallsProtocol  # (it builds on this module)

    raw_calls = {path.encode("ascii"): (kind, path) for path, kind in calls.calls.items()}
    raw_lines = {b"POST %s HTTP/1.1" % target: found for target, found in raw_calls.items()}
    return type("DeploymentHttpProtocol", (RawCallsProtocol,),
                {"calls": calls, "raw_calls": raw_calls, "raw_lines": raw_lines})

