"""Serving ``convex/http.py``: on the site port (3211) and under ``/http/`` on 3210.

Unknown paths are 404 and known paths with another method 405, as JSON; a handler
that raises (or returns something that is not a Response) is a 500 carrying a request
id, while the traceback goes to the server log, never to the caller.
"""

from __future__ import annotations

import logging
import re

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from pyconvex.errors import PyConvexError
from pyconvex.functions import failure_of, new_request_id
from pyconvex.functions.runtime.request_meta import origin_scope
from pyconvex.server.client_address import request_origin
from pyconvex.server.state import ServerState

log = logging.getLogger("pyconvex.http")
METHODS = ["GET", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "HEAD"]


async def dispatch(request: Request, state: ServerState, path: str) -> Response:
    router = state.deployment.registry.http
    method = "GET" if request.method == "HEAD" else request.method
    handler, methods = router.lookup(method, path) if router is not None else (None, set())
    if handler is None:
        if methods:
            return JSONResponse(
                {"code": "MethodNotAllowed", "message": f"{request.method} is not routed for {path}"},
                status_code=405, headers={"Allow": ", ".join(sorted(methods))},
            )
        return JSONResponse({"code": "NoRouteFound", "message": f"No HTTP action is routed for {path}"},
                            status_code=404)
    # Authorization: a Bearer JWT is Convex auth (verified; a bad one is a 401). Any
    # other value (an API key, "Basic ...", a webhook's secret) belongs to the
    # developer: it reaches the handler untouched and the call has no identity.
    identity = None
    token = _bearer_jwt(request.headers.get("authorization", ""))
    if token is not None:
        try:
            identity = await state.verify(token)
        except PyConvexError as e:
            return JSONResponse({"code": e.short_msg, "message": e.message}, status_code=401)
    origin = request_origin(request.scope, state.trusted_proxies,
                            token if identity is not None else None)
    try:
        with origin_scope(origin):
            response = await state.deployment.runner.run_http_action(
                handler, request, identity, f"http:{request.method} {path}", route=(method, path)
            )
        if not isinstance(response, Response):
            raise TypeError(f"the HTTP action for {path} returned {type(response).__name__}, not a Response")
        return response
    except Exception as e:
        # The runner logged the failure (traceback, path, request id) where it happened.
        failure = failure_of(e)
        request_id = failure.request_id if failure is not None else new_request_id()
        if failure is None:
            log.exception("HTTP action %s %s failed [Request ID: %s]", request.method, path,
                          request_id)
        return JSONResponse(
            {"code": "ServerError", "message": f"[Request ID: {request_id}] Server Error"},
            status_code=500, headers={"X-Request-Id": request_id},
        )


_JWT = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")


def _bearer_jwt(header: str) -> str | None:
    """The token of ``Authorization: Bearer <JWT>`` (three base64url segments), else None."""
    scheme, _, value = header.strip().partition(" ")
    token = value.strip()
    if scheme.lower() != "bearer" or not _JWT.fullmatch(token):
        return None
    return token


async def under_http_prefix(request: Request) -> Response:
    """``/http/<path>`` on the deployment port."""
    state: ServerState = request.app.state.server
    return await dispatch(request, state, "/" + request.path_params["path"])


def create_site_app(state: ServerState) -> Starlette:
    """The site port's app: every path is an HTTP action path."""

    async def endpoint(request: Request) -> Response:
        return await dispatch(request, state, request.url.path)

    app = Starlette(routes=[Route("/{path:path}", endpoint, methods=METHODS)])
    app.state.server = state
    return app


