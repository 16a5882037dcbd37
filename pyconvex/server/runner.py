"""Run one deployment's server until interrupted: ``pyconvex serve`` calls this."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import gc
import secrets
import socket
import sys
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypedDict, TypeVar, Unpack

import uvicorn

from pyconvex.deployment import DEFAULT_RETENTION_S, Deployment
from pyconvex.errors import BadRequestError
from pyconvex.functions import DEFAULT_FUNCTION_LIMITS, FunctionLimits
from pyconvex.functions.runtime.guard import guarded_loop_factory
from pyconvex.server.app import DeploymentApp, create_app
from pyconvex.server.client_address import Network
from pyconvex.server.corked import CorkedHttpToolsProtocol
from pyconvex.server.dashboard_api import dashboard_url
from pyconvex.server.direct_calls import direct_calls_protocol
from pyconvex.server.http_actions import create_site_app
from pyconvex.server.limits import MAX_SYNC_MESSAGE, BodyLimit
from pyconvex.server.log_streams import SinkConfig
from pyconvex.server.logging_setup import configure_server_logging
from pyconvex.server.ws_protocol import WebSocketProtocol

T = TypeVar("T")


class PortInUseError(BadRequestError):
    short_msg = "PortInUse"


def check_port(host: str, port: int, option: str = "--port") -> None:
    """Fail early, naming the ``option`` that chose the busy port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                raise PortInUseError(
                    f"Port {port} on {host} is already in use: stop the other process or pass "
                    f"another {option}."
                ) from None
            raise


def run_on_server_loop(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` on the loop a deployment is served from (``serve``, ``dev``, the
    benchmarks): uvloop, with the network guard built into it."""
    with asyncio.Runner(loop_factory=guarded_loop_factory()) as runner:
        return runner.run(coro)


def _proxy_settings(trusted_proxies: tuple[Network, ...]) -> dict[str, Any]:
    """uvicorn's X-Forwarded-For/-Proto handling, on only for the proxies named by
    ``--trusted-proxy`` (uvicorn's own default trusts 127.0.0.1): HTTP actions' ``request``
    then shows the client and the scheme it used, as ``ctx.meta`` does
    (server/client_address.py, which reads the header the same way)."""
    if not trusted_proxies:
        return {"proxy_headers": False}
    return {"proxy_headers": True, "forwarded_allow_ips": [str(n) for n in trusted_proxies]}


def uvicorn_server(app: Any, host: str, port: int,
                   trusted_proxies: tuple[Network, ...] = ()) -> uvicorn.Server:
    # The loop is the caller's (``serve`` and ``dev`` run a guarded uvloop loop, see
    # functions/runtime/guard.py); uvicorn's ``loop`` setting only applies to uvicorn.run.
    config = uvicorn.Config(
        app, host=host, port=port, loop="asyncio", log_level="warning", lifespan="on",
        # Access lines are below the log level anyway; without a handler uvicorn also
        # skips building their arguments (client address, path) on every request.
        access_log=False,
        # One send per response, not head and body (or response and transition) apart;
        # a deployment's client calls answered without the ASGI stack (direct_calls.py).
        http=(direct_calls_protocol(app.function_calls) if isinstance(app, DeploymentApp)
              else CorkedHttpToolsProtocol),
        ws=WebSocketProtocol,
        ws_max_size=MAX_SYNC_MESSAGE,  # larger sync messages close with 1009
        # Transitions are small and frequent: compressing each costs more CPU and latency
        # than it saves on loopback and LAN links.
        ws_per_message_deflate=False,
        **_proxy_settings(trusted_proxies),
    )
    return _DeploymentServer(config)


class _DeploymentServer(uvicorn.Server):
    """uvicorn waits for open requests when it stops: long polls (the logs followed by
    ``pyconvex logs`` and the dashboard) are told first, so Ctrl-C does not wait out
    their 30 seconds."""

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        app = self.config.app
        if isinstance(app, DeploymentApp):
            app.state.server.stopping()
        await super().shutdown(sockets)


def tune_gc() -> None:
    """Fewer, cheaper collections for a long-running server: what exists at start (code,
    schema, catalog) is frozen out of collection, and the youngest generation collects
    every 50,000 allocations instead of 700. A full collection over thousands of
    sessions' objects is what showed up as tail latency in fan-out."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)


class _SiteServer(uvicorn.Server):
    """The site port's server: the deployment server owns the signal handlers."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def site_server(app: Any, host: str, port: int,
                trusted_proxies: tuple[Network, ...] = ()) -> uvicorn.Server:
    # HTTP action bodies capped at 20 MB; request heads capped and timed (corked.py).
    config = uvicorn.Config(BodyLimit(app, site=True), host=host, port=port, loop="asyncio",
                            log_level="warning", lifespan="off", http=CorkedHttpToolsProtocol,
                            **_proxy_settings(trusted_proxies))
    return _SiteServer(config)


async def serve_with_site(server: uvicorn.Server, site: uvicorn.Server | None) -> None:
    """Run the deployment server and (if any) the site server until the first stops."""
    if site is None:
        await server.serve()
        return
    site_task = asyncio.get_running_loop().create_task(site.serve())
    try:
        await server.serve()
    finally:
        site.should_exit = True
        with contextlib.suppress(BaseException):
            await site_task


async def wait_started(server: uvicorn.Server) -> None:
    while not server.started:
        await asyncio.sleep(0.02)


class ServerOptions(TypedDict, total=False):
    """What ``pyconvex serve`` takes besides the code, the database and the address
    (``open_servers`` gives each its default). ``public_url``/``site_url``: where clients
    reach the deployment and its HTTP actions when that is not ``host:port`` (a container,
    a reverse proxy); file URLs, ``CONVEX_CLOUD_URL`` and ``CONVEX_SITE_URL`` use them."""

    web_dir: Path | None
    site_port: int | None
    files: str | None
    retention_s: float
    limits: FunctionLimits
    log_streams: list[SinkConfig] | None
    public_metrics: bool
    public_url: str | None
    site_url: str | None
    trusted_proxies: tuple[Network, ...]


async def open_servers(
    functions_dir: Path | None,
    db_url: str,
    *,
    host: str,
    port: int,
    admin_key: str,
    **options: Unpack[ServerOptions],
) -> tuple[uvicorn.Server, uvicorn.Server | None]:
    """The deployment opened and its uvicorn servers (the site port's, if any) built as
    ``serve`` runs them, not serving yet: ``serve`` runs them as the process's server,
    tests run them on a loop of their own. The deployment closes when the server stops."""
    site_port, site_url = options.get("site_port"), options.get("site_url")
    trusted_proxies = options.get("trusted_proxies", ())
    # CONVEX_SITE_URL (functions' environment): where HTTP actions are served.
    # pyconvex.auth names it as its tokens' issuer and finds its JWKS there.
    if site_url is None and site_port is not None:
        site_url = f"http://{host}:{site_port}"
    deployment = await Deployment.open(
        db_url, functions_dir, files=options.get("files"),
        public_url=options.get("public_url") or f"http://{host}:{port}", site_url=site_url,
        retention_s=options.get("retention_s", DEFAULT_RETENTION_S), isolate_actions=True,
        limits=options.get("limits", DEFAULT_FUNCTION_LIMITS),
    )
    app = create_app(deployment, admin_key=admin_key, close_deployment=True,
                     web_dir=options.get("web_dir"), log_streams=options.get("log_streams"),
                     public_metrics=options.get("public_metrics", False),
                     trusted_proxies=trusted_proxies)
    server = uvicorn_server(app, host, port, trusted_proxies)
    site = (site_server(create_site_app(app.state.server), host, site_port, trusted_proxies)
            if site_port is not None else None)
    return server, site


async def serve(
    functions_dir: Path | None,
    db_url: str,
    *,
    host: str = "127.0.0.1",
    port: int = 3210,
    admin_key: str | None = None,
    **options: Unpack[ServerOptions],
) -> None:
    """``pyconvex serve``: the deployment's servers, run until interrupted."""
    configure_server_logging(json=True)
    check_port(host, port)
    site_port = options.get("site_port")
    if site_port is not None:
        check_port(host, site_port, "--site-port")
    admin_key = admin_key or secrets.token_hex(16)
    server, site = await open_servers(functions_dir, db_url, host=host, port=port,
                                      admin_key=admin_key, **options)

    tune_gc()

    async def announce() -> None:
        await wait_started(server)
        if site is not None:
            await wait_started(site)
        print(f"pyconvex: deployment ready at http://{host}:{port}", flush=True)
        if site is not None:
            print(f"pyconvex: HTTP actions at http://{host}:{site_port}", flush=True)
        print(f"pyconvex: admin key {admin_key}", flush=True)
        print(f"pyconvex: dashboard at {dashboard_url(f'http://{host}:{port}', admin_key)}",
              flush=True)

    watcher = asyncio.get_running_loop().create_task(announce())
    try:
        await serve_with_site(server, site)
    finally:
        watcher.cancel()
    if not server.started:
        sys.exit(1)
