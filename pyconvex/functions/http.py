"""``convex/http.py``: HTTP actions and their router (Convex's ``httpRouter``).

>>> http = HttpRouter()
>>> @http_action
... async def hook(ctx, request):
...     payload = await request.json()
...     await ctx.run_mutation(internal.hooks.record, {"payload": payload})
...     return JSONResponse({"ok": True})
>>> http.route(path="/hook", method="POST", handler=hook)
>>> http.route(path_prefix="/files/", method="GET", handler=serve_file)

Handlers get an action's ``ctx`` and a Starlette ``Request`` and return a Starlette
``Response``. An exact path beats a prefix, and the longest prefix wins; a path with
routes but none for the method is a 405.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

METHODS = ("GET", "POST", "PUT", "DELETE", "OPTIONS", "PATCH")
HttpHandler = Callable[[Any, Request], Awaitable[Response]]


@dataclass(frozen=True)
class HttpAction:
    """A handler marked with ``@http_action``."""

    handler: HttpHandler

    async def __call__(self, ctx: Any, request: Request) -> Response:
        return await self.handler(ctx, request)


def http_action(handler: HttpHandler) -> HttpAction:
    if not inspect.iscoroutinefunction(handler):
        name = handler.__name__
        raise TypeError(f"{name}: HTTP actions must be 'async def {name}(ctx, request)'")
    return HttpAction(handler)


@dataclass
class Route:
    method: str
    handler: HttpHandler
    path: str | None = None
    prefix: str | None = None


@dataclass
class HttpRouter:
    routes: list[Route] = field(default_factory=list)

    def route(
        self, *, method: str, handler: HttpHandler, path: str | None = None, path_prefix: str | None = None
    ) -> None:
        method = method.upper()
        if method not in METHODS:
            raise ValueError(f"http.route: method must be one of {', '.join(METHODS)}, got {method!r}")
        if (path is None) == (path_prefix is None):
            raise ValueError("http.route: give exactly one of path= or path_prefix=")
        if not callable(handler):
            raise TypeError("http.route: handler must be an async function (ctx, request) -> Response")
        if path is not None:
            if not path.startswith("/"):
                raise ValueError(f"http.route: path {path!r} must start with '/'")
            if any(r.path == path and r.method == method for r in self.routes):
                raise ValueError(f"http.route: {method} {path} is routed twice")
        if path_prefix is not None:
            if not path_prefix.startswith("/") or not path_prefix.endswith("/"):
                raise ValueError(f"http.route: path_prefix {path_prefix!r} must start and end with '/'")
            if any(r.prefix == path_prefix and r.method == method for r in self.routes):
                raise ValueError(f"http.route: {method} {path_prefix}* is routed twice")
        self.routes.append(Route(method, handler, path, path_prefix))

    def lookup(self, method: str, path: str) -> tuple[HttpHandler | None, set[str]]:
        """``(handler, methods routed for this path)``: no handler and no methods is a 404."""
        exact = [r for r in self.routes if r.path == path]
        if exact:
            found = next((r.handler for r in exact if r.method == method), None)
            return found, {r.method for r in exact}
        prefixed = [r for r in self.routes if r.prefix is not None and path.startswith(r.prefix)]
        if not prefixed:
            return None, set()
        longest = max(len(r.prefix or "") for r in prefixed)
        best = [r for r in prefixed if len(r.prefix or "") == longest]
        found = next((r.handler for r in best if r.method == method), None)
        return found, {r.method for r in best}


def cors(
    handler: HttpHandler,
    *,
    origins: Iterable[str] = ("*",),
    methods: Iterable[str] = ("GET", "POST"),
    headers: Iterable[str] = ("Content-Type", "Authorization"),
    max_age: int = 86400,
) -> HttpHandler:
    """``handler`` answering CORS: preflight (OPTIONS) and the headers on its responses.

    Route it for the method and for OPTIONS:
    ``http.route(path="/api/x", method="POST", handler=cors(x))`` and
    ``http.route(path="/api/x", method="OPTIONS", handler=cors(x))``.
    """
    allowed = list(origins)
    allow_methods = ", ".join(m.upper() for m in methods)
    allow_headers = ", ".join(headers)

    def origin_for(request: Request) -> str | None:
        origin = request.headers.get("origin")
        if "*" in allowed:
            return "*"
        return origin if origin in allowed else None

    async def wrapped(ctx: Any, request: Request) -> Response:
        origin = origin_for(request)
        if request.method == "OPTIONS":
            response = Response(status_code=204)
            if origin is not None:
                response.headers["Access-Control-Allow-Methods"] = allow_methods
                response.headers["Access-Control-Allow-Headers"] = allow_headers
                response.headers["Access-Control-Max-Age"] = str(max_age)
        else:
            response = await handler(ctx, request)
        if origin is not None:
            response.headers["Access-Control-Allow-Origin"] = origin
            if origin != "*":
                response.headers["Vary"] = "Origin"
        return response

    return wrapped
