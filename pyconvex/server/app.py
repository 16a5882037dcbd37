"""``create_app(deployment)``: the Starlette application of one deployment."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from pyconvex.deployment import Deployment
from pyconvex.server import admin_api, function_spec, http_actions, http_api, storage_api
from pyconvex.server.fast_path import FunctionCalls, collapse_slashes
from pyconvex.server.state import ServerState
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

    fast: FunctionCalls

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.fast(scope, receive, send)


def create_app(
    deployment: Deployment,
    *,
    admin_key: str | None = None,
    verify_token: VerifyToken | None = None,
    close_deployment: bool = False,
    web_dir: Path | None = None,
) -> DeploymentApp:
    """The deployment's HTTP API, sync endpoint, admin API and dashboard; with
    ``web_dir``, a built web app served at ``/`` (after every API route)."""
    state = ServerState(deployment, admin_key=admin_key, verify_token=verify_token)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        state.ensure_started()
        try:
            yield
        finally:
            await state.stop()
            if close_deployment:
                await deployment.close()

    routes: list[Any] = [
        *([] if web_dir is not None else [Route("/", http_api.root)]),
        Route("/version", http_api.version),
        Route("/api/query_ts", http_api.query_ts, methods=["POST"]),
        Route("/api/run/{path:path}", http_api.run, methods=["POST"]),
        Route("/dashboard", admin_api.dashboard),
        Route("/api/storage/upload", storage_api.upload, methods=["POST"]),
        Route("/api/storage/signed/{token}", storage_api.signed_download, methods=["GET", "HEAD"]),
        Route("/api/storage/{storage_id}", storage_api.download, methods=["GET", "HEAD"]),
        Route("/http/{path:path}", http_actions.under_http_prefix, methods=http_actions.METHODS),
        Route("/api/pyconvex/deploy", admin_api.admin(admin_api.deploy), methods=["POST"]),
        Route("/api/pyconvex/tables", admin_api.admin(admin_api.tables)),
        Route("/api/pyconvex/functions", admin_api.admin(function_spec.functions)),
        Route("/api/pyconvex/export", admin_api.admin(admin_api.export)),
        Route("/api/pyconvex/import", admin_api.admin(admin_api.import_), methods=["POST"]),
        Route("/api/pyconvex/data", admin_api.admin(admin_api.data)),
        Route("/api/pyconvex/logs", admin_api.admin(admin_api.logs)),
        Route("/api/pyconvex/env", admin_api.admin(admin_api.env_list)),
        Route("/api/pyconvex/env", admin_api.admin(admin_api.env_update), methods=["POST"]),
    ]
    if web_dir is not None:
        routes.append(Mount("/", app=StaticFiles(directory=web_dir, html=True), name="web"))
    app = DeploymentApp(
        routes=routes,
        lifespan=lifespan,
        middleware=[
            Middleware(CollapseSlashes),
            Middleware(
                CORSMiddleware,
                allow_origin_regex=".*",
                allow_methods=["GET", "POST", "OPTIONS", "PATCH", "DELETE", "PUT"],
                allow_headers=["*"],
                allow_credentials=True,
                max_age=86400,
            ),
        ],
    )
    app.fast = FunctionCalls(partial(Starlette.__call__, app), state)  # the hot routes first
    app.state.server = state
    return app
