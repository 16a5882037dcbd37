"""The client call endpoints (``POST /api/query|mutation|action``) and the sync
WebSocket (``/api/sync``, ``/api/<client version>/sync``) as plain ASGI.

Every ``ConvexHttpClient`` call goes through one of these three routes. Under load the
Starlette stack around them (routing, ``Request``, the CORS and error middleware each
wrapping ``send``) cost about as much CPU as running the mutation itself, so they are
answered here, before Starlette, by the same framework-free core the Starlette routes use
(:func:`pyconvex.server.http_api.call_function`). Sync connections go straight to
:func:`pyconvex.server.ws.sync_endpoint`. Everything else, including CORS preflights,
falls through to Starlette unchanged.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Receive, Scope, Send

from pyconvex.errors import PyConvexError
from pyconvex.functions import FunctionKind
from pyconvex.server.cors import simple_response_headers
from pyconvex.server.errors import Reply, request_error_reply
from pyconvex.server.http_api import MAX_BODY, call_function, parse_body, too_large
from pyconvex.server.state import ServerState
from pyconvex.server.ws import sync_endpoint

_SLASHES = re.compile(r"/{2,}")
_SYNC = re.compile(r"/api/(?:[^/]+/)?sync")


def collapse_slashes(path: str) -> str:
    """``//api/1.48.0/sync`` (a deployment URL with a trailing slash) -> ``/api/...``."""
    return _SLASHES.sub("/", path) if "//" in path else path


ROUTES = {
    "/api/query": FunctionKind.QUERY,
    "/api/mutation": FunctionKind.MUTATION,
    "/api/action": FunctionKind.ACTION,
}


class FunctionCalls:
    """ASGI middleware answering the call routes and sync connections itself."""

    def __init__(self, app: ASGIApp, state: ServerState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http" and scope["method"] == "POST":
            function_kind = ROUTES.get(collapse_slashes(scope["path"]))
            if function_kind is not None:
                await self._call(function_kind, scope, receive, send)
                return
        elif kind == "websocket" and _SYNC.fullmatch(collapse_slashes(scope["path"])):
            await sync_endpoint(self.state, scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _call(self, kind: FunctionKind, scope: Scope, receive: Receive, send: Send) -> None:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client left before sending its request: nothing ran
            chunk = message.get("body", b"")
            size += len(chunk)
            if size <= MAX_BODY:
                chunks.append(chunk)
            if not message.get("more_body", False):
                break
        authorization = origin = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value.decode("latin-1")
            elif name == b"origin":
                origin = value
        admin_param = None
        query = scope.get("query_string", b"")
        if query and b"adminKey" in query:
            admin_param = parse_qs(query.decode("latin-1")).get("adminKey", [None])[-1]
        reply: Reply
        try:
            if size > MAX_BODY:
                raise too_large(size)
            body = parse_body(chunks[0] if len(chunks) == 1 else b"".join(chunks))
        except PyConvexError as e:
            reply = request_error_reply(e)
        else:
            reply = await call_function(
                self.state, kind, body.get("path"), body, authorization, admin_param
            )
        status, content = reply
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(content)).encode()),
        ]
        if origin is not None:  # what the CORS middleware would add (server/cors.py)
            headers += simple_response_headers(origin)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": content})
