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
from typing import Any
from urllib.parse import parse_qs

from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from pyconvex.errors import PyConvexError
from pyconvex.functions import FunctionKind
from pyconvex.functions.runtime.request_meta import RequestOrigin
from pyconvex.server.client_address import client_ip
from pyconvex.server.cors import simple_response_headers
from pyconvex.server.errors import Reply, request_error_reply
from pyconvex.server.http_api import MAX_BODY, call_function, parse_body, too_large
from pyconvex.server.state import ServerState

_SLASHES = re.compile(r"/{2,}")


def collapse_slashes(path: str) -> str:
    """``//api/1.48.0/sync`` (a deployment URL with a trailing slash) -> ``/api/...``."""
    return _SLASHES.sub("/", path) if "//" in path else path


class CallRoute(Route):
    """A client-call route in the deployment's route table (``app.py``): answered by
    :class:`FunctionCalls` before Starlette; Starlette itself only refuses its other
    methods (405)."""

    def __init__(self, path: str, kind: FunctionKind) -> None:
        super().__init__(path, _not_reached, methods=["POST"])
        self.kind = kind


class SyncRoute(WebSocketRoute):
    """The sync WebSocket's route (``/api/sync``, ``/api/<client version>/sync``) in the
    route table, answered by :class:`FunctionCalls` before Starlette."""

    def __init__(self, path: str) -> None:
        super().__init__(path, _not_reached)


async def _not_reached(*_: Any) -> None:
    raise AssertionError("FunctionCalls answers this route before Starlette")


def call_routes() -> list[BaseRoute]:
    """The fast routes, for the route table."""
    return [
        CallRoute("/api/query", FunctionKind.QUERY),
        CallRoute("/api/mutation", FunctionKind.MUTATION),
        CallRoute("/api/action", FunctionKind.ACTION),
        SyncRoute("/api/sync"),
        SyncRoute("/api/{client_version}/sync"),
    ]


class FunctionCalls:
    """The call routes and sync connections, answered without Starlette (the
    ``CallRoute`` and ``SyncRoute`` entries of the route table it is given). As ASGI
    middleware it answers the call routes; ``DeploymentApp`` hands sync connections to
    ``server/ws.py`` before any middleware, and the HTTP protocol answers plain calls
    through :meth:`answer` (``server/direct_calls.py``) or :meth:`reply`
    (``server/http_fast.py``)."""

    def __init__(self, app: ASGIApp, state: ServerState, routes: list[BaseRoute]) -> None:
        self.app = app
        self.state = state
        self.calls = {r.path: r.kind for r in routes if isinstance(r, CallRoute)}
        self.sync = [r.path_regex for r in routes if isinstance(r, SyncRoute)]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        function_kind = self.call_kind(scope) if scope["type"] == "http" else None
        if function_kind is None:
            await self.app(scope, receive, send)
            return
        await self._call(function_kind, scope, receive, send)

    def call_kind(self, scope: Scope) -> FunctionKind | None:
        """The kind of function an HTTP request calls, if it is a client call."""
        if scope["method"] != "POST":
            return None
        return self.calls.get(collapse_slashes(scope["path"]))

    def is_sync(self, scope: Scope) -> bool:
        """Whether a WebSocket connection is to the sync endpoint."""
        path = collapse_slashes(scope["path"])
        return any(regex.fullmatch(path) for regex in self.sync)

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
        status, headers, content = await self.answer(kind, scope, chunks, size)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": content})

    async def answer(
        self, kind: FunctionKind, scope: Scope, chunks: list[bytes], size: int,
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        """Run the call whose body arrived as ``chunks`` (``size`` bytes in all, only
        the first ``MAX_BODY`` kept): status, headers and content of the response, for
        ASGI (this middleware) and the protocol's uvicorn-parsed calls
        (``server/direct_calls.py``)."""
        status, content, origin = await self.reply(kind, scope, chunks, size)
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(content)).encode()),
        ]
        if origin is not None:  # what the CORS middleware would add (server/cors.py)
            headers += simple_response_headers(origin)
        return status, headers, content

    async def reply(
        self, kind: FunctionKind, scope: Scope, chunks: list[bytes], size: int,
    ) -> tuple[int, bytes, bytes | None]:
        """:meth:`answer` before its headers: status, JSON content and the request's
        ``Origin`` (None without one), for a protocol that writes the head's bytes
        itself (``server/http_fast.py``, ``JSON_FIELDS`` and :func:`origin_fields`). A
        scope with :data:`KEEP_ORIGIN` is a connection worker's call."""
        authorization, origin, user_agent = _call_headers(scope["headers"])
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
                self.state, kind, body.get("path"), body, authorization, admin_param,
                RequestOrigin(client_ip(scope, self.state.trusted_proxies), user_agent),
                KEEP_ORIGIN in scope,
            )
        return reply[0], reply[1], origin


KEEP_ORIGIN = "pyconvex.keep_origin"
"""In a call's scope: it runs on a connection's worker task, one call after another
(``server/http_fast.py``), so the request origin may stay set between calls
(``keep_origin`` of :func:`~pyconvex.server.http_api.call_function`). A scope key, not a
parameter of :meth:`FunctionCalls.reply`, so that the protocol's callers and stand-ins
of ``reply`` keep one signature."""

JSON_FIELDS = b"content-type: application/json\r\ncontent-length: %d\r\n"
"""The first header lines of :meth:`FunctionCalls.reply`'s response as bytes, ``%`` the
length of its content: what :meth:`FunctionCalls.answer` lists first, in the same order.
A constant and not a function so that the protocol's head (``server/http_fast.py``)
costs no call for a request without an ``Origin`` (any client but a browser)."""


def origin_fields(origin: bytes) -> bytes:
    """The header lines that follow ``JSON_FIELDS`` for a request from ``origin``: what
    :meth:`FunctionCalls.answer` adds after them, in the same order."""
    return b"".join(
        name + b": " + value + b"\r\n" for name, value in simple_response_headers(origin))


def _call_headers(headers: list[tuple[bytes, bytes]]) -> tuple[str | None, bytes | None, str | None]:
    """A call's ``Authorization`` and ``Origin`` (the last of each) and ``User-Agent``
    (the first, as :func:`~pyconvex.server.client_address.request_origin` reads it). A
    dict of the headers, built in C, answers when no header name repeats (every client
    call we see); else a walk."""
    named = dict(headers)
    if len(named) == len(headers):
        authorization, user_agent = named.get(b"authorization"), named.get(b"user-agent")
        return (None if authorization is None else authorization.decode("latin-1"),
                named.get(b"origin"),
                None if user_agent is None else user_agent.decode("latin-1"))
    found_authorization = origin = found_user_agent = None
    for name, value in headers:
        if name == b"authorization":
            found_authorization = value.decode("latin-1")
        elif name == b"origin":
            origin = value
        elif name == b"user-agent" and found_user_agent is None:
            found_user_agent = value.decode("latin-1")
    return found_authorization, origin, found_user_agent
