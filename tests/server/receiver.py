"""A real HTTP receiver for log streams: uvicorn serving a small Starlette app in a
thread of the test process. It records every webhook request's JSON body and every
OTLP/HTTP logs request (``/v1/logs``) as received, and can be told to answer the next
N requests with 503 (to make the sender retry)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.conftest import free_port


class Receiver:
    def __init__(self) -> None:
        self.batches: list[list[dict[str, Any]]] = []
        self.otlp: list[bytes] = []
        """Raw OTLP/HTTP bodies (``POST /v1/logs``), with their content types."""
        self.otlp_types: list[str] = []
        self.headers: list[dict[str, str]] = []
        self.fail_next = 0
        self.failed = 0
        self.lock = threading.Lock()
        self.url = ""
        self.otlp_url = ""

    async def endpoint(self, request: Request) -> Response:
        body = await request.body()
        with self.lock:
            if self.fail_next > 0:
                self.fail_next -= 1
                self.failed += 1
                return Response("try later", status_code=503)
            self.batches.append(orjson.loads(body))
            self.headers.append(dict(request.headers))
        return Response("ok")

    async def otlp_endpoint(self, request: Request) -> Response:
        body = await request.body()
        with self.lock:
            if self.fail_next > 0:
                self.fail_next -= 1
                self.failed += 1
                return Response("try later", status_code=503)
            self.otlp.append(body)
            self.otlp_types.append(request.headers.get("content-type", ""))
            self.headers.append(dict(request.headers))
        return Response(b"", media_type="application/x-protobuf")

    @property
    def events(self) -> list[dict[str, Any]]:
        with self.lock:
            return [e for batch in self.batches for e in batch]

    def wait_for(self, predicate: Any, timeout: float = 30.0) -> list[dict[str, Any]]:
        """The events once ``predicate(events)`` holds (fails the test after ``timeout``)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            events = self.events
            if predicate(events):
                return events
            time.sleep(0.05)
        raise AssertionError(f"the receiver did not get the expected events; it got {self.events}")


@contextmanager
def receiver() -> Iterator[Receiver]:
    recv = Receiver()
    port = free_port()
    app = Starlette(routes=[Route("/in", recv.endpoint, methods=["POST"]),
                            Route("/v1/logs", recv.otlp_endpoint, methods=["POST"])])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="off"))
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    recv.url = f"http://127.0.0.1:{port}/in"
    recv.otlp_url = f"http://127.0.0.1:{port}/v1/logs"
    try:
        yield recv
    finally:
        server.should_exit = True
        thread.join(10)
