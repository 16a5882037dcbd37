"""``create_app(deployment)``: the Starlette application of one deployment."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable
from functools import partial
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Lifespan, Receive, Scope, Send

from pyconvex.deployment import Deployment
from pyconvex.server import (
    admin_api,
    dashboard_api,
    dashboard_page,
    function_spec,
    http_actions,
    http_api,
    log_streams_api,
    metrics,
    snapshot_api,
    storage_api,
)
from pyconvex.server.client_address import Network
from pyconvex.server.cors import CORS_OPTIONS
from pyconvex.server.fast_path import FunctionCalls, call_routes, collapse_slashes
from pyconvex.server.limits import BodyLimit
from pyconvex.server.log_streams import SinkConfig
from pyconvex.server.state import ServerState
from pyconvex.server.ws import sync_endpoint
from pyconvex.sync import VerifyToken


class CollapseSlashes:
    """:func:`collapse_slashes` for the routes Starlette serves."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and "//" in scope["path"]:
            scope = dict(scope)
            scope["path"] = collapse_slashes(scope["path"])
        await self.app(scope, receive, send)


class DeploymentApp(Starlette):
    """Starlette, with the client-call routes and the sync endpoint answered before its
    middleware stack (:class:`~pyconvex.server.fast_path.FunctionCalls`): every call
    would otherwise pass Starlette's error middleware, which wraps ``send``."""

    def __init__(
        self,
        server: ServerState,
        routes: list[Any],
        *,
        lifespan: Lifespan[Starlette],
        middleware: list[Middleware],
    ) -> None:
        super().__init__(routes=routes, lifespan=lifespan, middleware=middleware)
        self.state.server = server
        # Bodies capped, then the hot routes first, then Starlette for the rest.
        self.function_calls = FunctionCalls(partial(Starlette.__call__, self), server, routes)
        self._fast: ASGIApp = BodyLimit(self.function_calls)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        direct = self.websocket_endpoint(scope) if scope["type"] == "websocket" else None
        if direct is not None:
            # Straight to the session: every coroutine between uvicorn and the session
            # stays alive (and tracked by the collector) for the connection's lifetime.
            await direct(scope, receive, send)
            return
        await self._fast(scope, receive, send)

    def websocket_endpoint(self, scope: Scope) -> ASGIApp | None:
        """The app a WebSocket connection can be handed to directly, without this one
        (None: call this one). The server's WebSocket protocol asks
        (``server/ws_protocol.py``), which saves this coroutine's frame per idle
        sync connection."""
        if self.function_calls.is_sync(scope):
            return self._sync
        return None

    def _sync(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        return sync_endpoint(self.function_calls.state, scope, receive, send)


def create_app(
    deployment: Deployment,
    *,
    admin_key: str | None = None,
    verify_token: VerifyToken | None = None,
    close_deployment: bool = False,
    web_dir: Path | None = None,
    log_streams: list[SinkConfig] | None = None,
    public_metrics: bool = False,
    trusted_proxies: tuple[Network, ...] = (),
) -> DeploymentApp:
    """The deployment's HTTP API, sync endpoint, admin API and dashboard; with
    ``web_dir``, a built web app served at ``/`` (after every API route).
    ``log_streams``: sinks for this process on top of the deployment's stored ones."""
    state = ServerState(deployment, admin_key=admin_key, verify_token=verify_token,
                        log_stream_configs=list(log_streams or []), public_metrics=public_metrics,
                        trusted_proxies=trusted_proxies)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        state.ensure_started()
        try:
            yield
        finally:
            await state.stop()
            if close_deployment:
                await deployment.close()

    # Every route of the deployment, the fast ones (answered before Starlette) included.
    routes: list[Any] = [
        *call_routes(),
        *([] if web_dir is not None else [Route("/", http_api.root)]),
        Route("/version", http_api.version),
        Route("/api/query_ts", http_api.query_ts, methods=["POST"]),
        Route("/api/run/{path:path}", http_api.run, methods=["POST"]),
        Route("/dashboard", dashboard_page.page),
        Route("/api/storage/upload", storage_api.upload, methods=["POST"]),
        Route("/api/storage/signed/{token}", storage_api.signed_download, methods=["GET", "HEAD"]),
        Route("/api/storage/{storage_id}", storage_api.download, methods=["GET", "HEAD"]),
        Route("/http/{path:path}", http_actions.under_http_prefix, methods=http_actions.METHODS),
        Route("/api/pyconvex/deploy", admin_api.admin(admin_api.deploy), methods=["POST"]),
        Route("/api/pyconvex/tables", admin_api.admin(admin_api.tables)),
        Route("/api/pyconvex/functions", admin_api.admin(function_spec.functions)),
        Route("/api/pyconvex/export", admin_api.admin(snapshot_api.export)),
        Route("/api/pyconvex/import", admin_api.admin(snapshot_api.import_), methods=["POST"]),
        Route("/api/pyconvex/data", admin_api.admin(admin_api.data)),
        Route("/api/pyconvex/logs", admin_api.admin(admin_api.logs)),
        Route("/api/pyconvex/env", admin_api.admin(admin_api.env_list)),
        Route("/api/pyconvex/env", admin_api.admin(admin_api.env_update), methods=["POST"]),
        *dashboard_api.ROUTES,
        Route("/health", metrics.health),
        Route("/ready", metrics.ready),
        Route("/metrics", metrics.metrics),
        Route("/api/pyconvex/log_streams", admin_api.admin(log_streams_api.list_streams)),
        Route("/api/pyconvex/log_streams", admin_api.admin(log_streams_api.add_stream),
              methods=["POST"]),
        Route("/api/pyconvex/log_streams/{stream_id}", admin_api.admin(log_streams_api.remove_stream),
              methods=["DELETE"]),
        Route("/api/pyconvex/log_streams/{stream_id}/test",
              admin_api.admin(log_streams_api.test_stream), methods=["POST"]),
    ]
    if web_dir is not None:
        routes.append(Mount("/", app=StaticFiles(directory=web_dir, html=True), name="web"))
    return DeploymentApp(
        state,
        routes,
        lifespan=lifespan,
        middleware=[
            Middleware(CollapseSlashes),
            Middleware(CORSMiddleware, **CORS_OPTIONS),
        ],
    )
