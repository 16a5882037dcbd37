"""A worker process's main: load the functions once, then run one action at a time.

Started by ``pool.py`` (``main()`` with arguments ``FD DIR``, at a lower priority) with
one end of a socket pair as ``FD``. Messages from the server:
``("run", "action", (path, args, identity, origin, request_id))``,
``("run", "http", ((method, path), scope, body, identity, origin, request_id))`` (``origin``:
the client's address and the like, for ``ctx.meta``) and
``("reply", call_id, ok, value_or_failure, log_lines)`` answering this worker's
``("call", call_id, method, args, kwargs)``. The worker acknowledges each run at once
with ``("started",)`` (an action whose worker died before that never began, and goes to
another worker) and answers it with ``("done", ok, value_or_failure, log_lines)``.
It exits when the socket closes.

The action's code runs on this process's own event loop: if it blocks, only this
worker waits, and the server's limits (time, memory) end it by ending the process.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import socket
import sys
from collections.abc import Callable, MutableMapping
from pathlib import Path
from typing import Any

from pyconvex.functions.isolation.channel import ChannelClosed, read_frame, write_frame
from pyconvex.functions.isolation.crossing import from_remote, to_remote
from pyconvex.functions.isolation.remote_ctx import RemoteActionCtx
from pyconvex.functions.loader import load_functions
from pyconvex.functions.registry import Registry
from pyconvex.functions.runtime.failures import request_id_var
from pyconvex.functions.runtime.logs import append_line, current_log, install_log_capture
from pyconvex.functions.runtime.request_meta import RequestOrigin, request_origin_var


class _Worker:
    def __init__(self, registry: Registry, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter) -> None:
        self.registry = registry
        self.reader = reader
        self.writer = writer
        self.calls: dict[int, asyncio.Future[Any]] = {}
        self.ids = itertools.count(1)
        self.running: asyncio.Task[None] | None = None

    async def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        call_id = next(self.ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.calls[call_id] = future
        write_frame(self.writer, ("call", call_id, method, args, kwargs))
        ok, value, lines = await future
        own = current_log.get()
        if own is not None:
            for line in lines:
                append_line(own, line)
        if not ok:
            raise from_remote(value)
        return value

    async def serve(self) -> None:
        while True:
            try:
                message = await read_frame(self.reader)
            except ChannelClosed:
                return
            kind = message[0]
            if kind == "reply":
                _, call_id, ok, value, lines = message
                future = self.calls.pop(call_id, None)
                if future is not None and not future.done():
                    future.set_result((ok, value, lines))
            elif kind == "run":
                write_frame(self.writer, ("started",))  # it may begin: never re-sent now
                self.running = asyncio.get_running_loop().create_task(
                    self._run(message[1], message[2])
                )

    async def _run(self, kind: str, payload: tuple[Any, ...]) -> None:
        lines: list[str] = []
        log_token = current_log.set(lines)
        rid_token = request_id_var.set(payload[-1])
        origin_token = request_origin_var.set(RequestOrigin.from_wire(payload[-2]))
        try:
            value = await (self._action(*payload) if kind == "action" else self._http(*payload))
        except BaseException as e:  # the action's own failure: report it, keep serving
            reply: tuple[Any, ...] = ("done", False, to_remote(e), lines)
        else:
            reply = ("done", True, value, lines)
        finally:
            request_origin_var.reset(origin_token)
            request_id_var.reset(rid_token)
            current_log.reset(log_token)
        try:
            write_frame(self.writer, reply)
        except Exception as e:  # an unpicklable result
            write_frame(self.writer, ("done", False, to_remote(e), lines))
        await self.writer.drain()

    async def _action(self, path: str, args: dict[str, Any], identity: dict[str, Any] | None,
                      origin: dict[str, Any] | None, request_id: str) -> Any:
        fn = self.registry.lookup(path)
        if fn is None:
            raise LookupError(f"{path}: not in this worker's code")
        return await fn.handler(RemoteActionCtx(self.call, identity), **args)

    async def _http(self, route: tuple[str, str], scope: dict[str, Any], body: bytes,
                    identity: dict[str, Any] | None, origin: dict[str, Any] | None,
                    request_id: str) -> Any:
        from starlette.requests import Request
        from starlette.responses import Response

        router = self.registry.http
        handler = router.lookup(*route)[0] if router is not None else None
        if handler is None:
            raise LookupError(f"{route[0]} {route[1]}: not routed in this worker's code")
        sent = False

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        response = await handler(RemoteActionCtx(self.call, identity), Request(scope, receive))
        if not isinstance(response, Response):
            raise TypeError(
                f"the HTTP action for {route[1]} returned {type(response).__name__}, not a Response"
            )
        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def send(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(bytes(message.get("body", b"")))

        await response(scope, receive, send)
        return start.get("status", 200), list(start.get("headers", [])), b"".join(chunks)


async def _main(fd: int, functions_dir: str) -> None:
    sock = socket.socket(fileno=fd)
    reader, writer = await asyncio.open_unix_connection(sock=sock)
    install_log_capture()
    try:
        registry = load_functions(Path(functions_dir))
    except BaseException as e:
        write_frame(writer, ("failed", to_remote(e)))
        await writer.drain()
        return
    write_frame(writer, ("ready", os.getpid()))
    await writer.drain()
    await _Worker(registry, reader, writer).serve()


def main() -> None:
    fd, functions_dir = int(sys.argv[1]), sys.argv[2]
    factory: Callable[[], asyncio.AbstractEventLoop]
    try:
        import uvloop

        factory = uvloop.new_event_loop
    except ImportError:  # pragma: no cover - uvloop comes with uvicorn[standard]
        factory = asyncio.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(_main(fd, functions_dir))


if __name__ == "__main__":
    main()
