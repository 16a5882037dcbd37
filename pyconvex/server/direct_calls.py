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
"""

from __future__ import annotations

import asyncio
import logging
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

_500 = (b"HTTP/1.1 500 Internal Server Error\r\ncontent-type: text/plain; charset=utf-8\r\n"
        b"content-length: 21\r\nconnection: close\r\n\r\nInternal Server Error")


class DirectCallsProtocol(CorkedHttpToolsProtocol):
    """uvicorn's HTTP protocol (corked), answering plain client calls itself.
    :func:`direct_calls_protocol` makes the class for one deployment's calls."""

    calls: FunctionCalls | None = None

    def _start_asgi_task(self, cycle: RequestResponseCycle, app: Any) -> None:
        kind = self._direct_kind(cycle, app)
        if kind is None:
            super()._start_asgi_task(cycle, app)
            return
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
        if kind is None or cycle.waiting_for_100_continue:
            return None
        for name, value in scope["headers"]:
            if name == b"content-length":
                return kind if value.isdigit() and int(value) <= HIGH_WATER_LIMIT else None
        return None  # chunked: the ASGI path counts it against the body cap

    async def _answer(
        self, kind: FunctionKind, cycle: RequestResponseCycle, own: list[asyncio.Task[None]],
    ) -> None:
        try:
            calls = self.calls
            assert calls is not None
            try:
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
                    self.transport.write(_500)
                    self.transport.close()
                return
            if cycle.disconnected:
                return  # the call ran (a mutation stays committed); no one to tell
            parts = [STATUS_LINE[status]]
            for name, value in (*self.server_state.default_headers, *headers):
                parts += (name, b": ", value, b"\r\n")
            if not cycle.keep_alive:
                parts.append(b"connection: close\r\n")
            parts += (b"\r\n", content)
            cycle.response_started = cycle.response_complete = True
            cycle.message_event.set()
            self.transport.write(b"".join(parts))
            if not cycle.keep_alive:
                self.transport.close()
            cycle.on_response()
        finally:
            self.tasks.discard(own[0])


def direct_calls_protocol(calls: FunctionCalls) -> type[DirectCallsProtocol]:
    """The HTTP protocol class of a deployment server answering ``calls`` directly."""
    return type("DeploymentHttpProtocol", (DirectCallsProtocol,), {"calls": calls})

