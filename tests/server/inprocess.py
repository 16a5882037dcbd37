"""The deployment's server in this process, two ways, for tests that need no process of
their own (no kill, no signals, no output to read, no RSS to measure):

- ``app_client``: the ASGI app reached through ``httpx.ASGITransport``, for HTTP tests that
  need no socket at all;
- ``live_server``: the app behind uvicorn as ``pyconvex serve`` assembles it
  (``server/runner.py``'s ``open_servers``: corked protocols, message caps, the site
  port, action workers), on free loopback ports, run on a server loop in a thread of its
  own. Tests keep their real clients (httpx, WebSocket,
  the Python client) and their blocking calls, without the second or so a ``pyconvex
  serve`` subprocess takes to import and open (``tests/conftest.py``'s ``start_server``,
  still used where a real process is the point).

One difference from the subprocess: a thread that is not the main thread cannot be
interrupted by a signal, so a query stuck in a single step runs to its end there (the
per-step time limit still applies); tests of that keep the subprocess.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from pyconvex.deployment import Deployment
from pyconvex.functions import DEFAULT_FUNCTION_LIMITS, FunctionLimits
from pyconvex.functions.isolation import WorkerPool
from pyconvex.server.app import create_app
from pyconvex.server.log_streams import SinkConfig
from pyconvex.server.runner import open_servers, run_on_server_loop, serve_with_site
from tests.conftest import APP, free_port

ADMIN_KEY = "test-admin-key"
ADMIN = {"Authorization": f"Convex {ADMIN_KEY}"}
"""The header of an admin request."""
HOST = "127.0.0.1"


@asynccontextmanager
async def app_client(db_path: Path, functions: Path = APP) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of a fresh SQLite deployment of ``functions``, served in-process,
    with the deployment's services started as ``pyconvex serve`` starts them."""
    deployment = await Deployment.open(f"sqlite:///{db_path}", functions)
    app = create_app(deployment, admin_key=ADMIN_KEY)
    app.state.server.ensure_started()
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://127.0.0.1:3210") as client:
            yield client
    finally:
        await app.state.server.stop()
        await deployment.close()


@dataclass(frozen=True)
class LiveServer:
    url: str
    site_url: str | None
    """HTTP actions' own port, when asked for (``pyconvex serve --site-port``)."""
    deployment: Deployment
    """The deployment it serves, for a test that reads what the server keeps (its
    database, progress board); used from the test's thread, so read, don't await."""


@contextmanager
def live_server(
    db: Path | str,
    functions: Path | None = APP,
    *,
    site: bool = False,
    log_streams: list[SinkConfig] | None = None,
    public_metrics: bool = False,
    limits: FunctionLimits = DEFAULT_FUNCTION_LIMITS,
    actions: bool = False,
) -> Iterator[LiveServer]:
    """``pyconvex serve --db db --functions functions --admin-key test-admin-key`` (with
    ``--site-port``, ``--log-stream``, ``--public-metrics`` and the limits' options as
    asked), in this process: ``db`` is a SQLite file or a full database URL. With
    ``actions``, ready only once an action worker has started: a worker's start (a
    process at nice 19 importing pyconvex) took up to 5 s on a loaded machine, which a
    test's first action would otherwise wait out against its client's 5 s timeout."""
    db_url = db if isinstance(db, str) else f"sqlite:///{db}"
    port = free_port()
    url = f"http://{HOST}:{port}"
    site_port = free_port() if site else None
    servers: list[uvicorn.Server] = []
    pools: list[WorkerPool] = []
    failed: list[BaseException] = []

    async def serve() -> None:
        server, site_srv = await open_servers(
            functions, db_url, host=HOST, port=port, admin_key=ADMIN_KEY, site_port=site_port,
            limits=limits, log_streams=log_streams, public_metrics=public_metrics)
        workers = server.config.app.state.server.deployment.workers
        if actions and workers is not None and functions is not None:
            pools.append(workers)
        servers.extend(s for s in (server, site_srv) if s is not None)
        await serve_with_site(server, site_srv)

    def ready() -> bool:
        return bool(servers) and all(s.started for s in servers) and all(
            pool.started > 0 for pool in pools)

    def run() -> None:
        try:
            run_on_server_loop(serve())
        except BaseException as e:  # handed to the test's thread
            failed.append(e)

    thread = threading.Thread(target=run, name=f"pyconvex server {port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not ready():
        if not thread.is_alive():
            raise RuntimeError(f"the in-process server stopped while starting: {failed!r}")
        if time.monotonic() > deadline:
            raise RuntimeError("the in-process server did not start within 30 s")
        time.sleep(0.01)
    try:
        yield LiveServer(url, f"http://{HOST}:{site_port}" if site_port is not None else None,
                         servers[0].config.app.state.server.deployment)
    finally:
        servers[0].should_exit = True  # uvicorn looks every 0.1 s; the site server follows
        thread.join(30)
        if thread.is_alive():
            raise RuntimeError("the in-process server did not stop within 30 s")
        if failed:
            raise RuntimeError("the in-process server failed") from failed[0]


@asynccontextmanager
async def uvicorn_in_loop(app: Any, **settings: Any) -> AsyncIterator[tuple[uvicorn.Server, int]]:
    """uvicorn serving a bare ASGI ``app`` on a free loopback port in this event loop,
    with ``settings`` (its protocol classes, timeouts): for the protocol tests."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning",
                            lifespan="off", **settings)
    server = uvicorn.Server(config)
    task = asyncio.ensure_future(server.serve())
    try:
        while not server.started:
            await asyncio.sleep(0.01)
        yield server, server.servers[0].sockets[0].getsockname()[1]
    finally:
        server.should_exit = True
        await task


async def reversing_ws_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """A bare ASGI app for the WebSocket protocol tests: accepts, then answers each text
    message with it reversed (and a binary one with its length)."""
    if scope["type"] != "websocket":
        return
    await receive()
    await send({"type": "websocket.accept"})
    while (message := await receive())["type"] != "websocket.disconnect":
        if message.get("text") is not None:
            await send({"type": "websocket.send", "text": message["text"][::-1]})
        else:
            await send({"type": "websocket.send", "text": str(len(message["bytes"]))})
