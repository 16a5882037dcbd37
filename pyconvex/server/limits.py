"""What one request or one connection may make the server hold, without any login.

Every request body is refused at its cap, as it streams in (and at once when its
``Content-Length`` already says it is over), with a 413 naming the limit; nothing beyond
the cap is buffered. Convex's numbers where it has them: function arguments 16 MiB
(``/api/query|mutation|action|run`` and sync messages), HTTP action bodies 20 MB.
Request heads are capped (431) and must arrive within a deadline, so a connection that
sends nothing, or dribbles its head, is closed (``server/corked.py``). A sync message is
at most ``MAX_SYNC_MESSAGE`` (larger ones close the socket with 1009); a sync socket
holds a bounded number of live queries, and its mutations and actions wait in bounded
queues, so a client that sends faster than they run is slowed down (its socket is not
read) instead of growing the server (``sync/session.py``).
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_ARGS_BYTES = 16 * 1024 * 1024
"""Function arguments (and the bodies carrying them): Convex's 16 MiB."""
MAX_HTTP_ACTION_BODY = 20_000_000
"""An HTTP action's request body: Convex's 20 MB."""
MAX_OTHER_BODY = 1024 * 1024
"""Bodies of the remaining public routes (none of which needs more)."""
MAX_SYNC_MESSAGE = MAX_ARGS_BYTES + 64 * 1024
"""A sync message: arguments of the largest size plus the message around them."""
MAX_HEADER_BYTES = 64 * 1024
"""A request's head (request line and headers)."""
HEADER_TIMEOUT_S = 10.0
"""A connection must finish sending a request head within this long of starting it."""

# Routes whose bodies are not the caps' business: uploads stream to the file store, and
# the admin routes refuse anyone without the key before reading a byte.
_UNCAPPED_PREFIXES = ("/api/storage/upload", "/api/pyconvex/")
_ARGS_PREFIXES = ("/api/query", "/api/mutation", "/api/action", "/api/run/")


def body_cap(path: str, *, site: bool = False) -> int | None:
    """The body limit of a request to ``path`` (None: not capped here)."""
    if site or path.startswith("/http/"):
        return MAX_HTTP_ACTION_BODY
    if path.startswith(_UNCAPPED_PREFIXES):
        return None
    if path.startswith(_ARGS_PREFIXES):
        return MAX_ARGS_BYTES
    return MAX_OTHER_BODY


def too_large_body(size: int | None, cap: int) -> bytes:
    said = f"{size} bytes" if size is not None else "more than that"
    return orjson.dumps({
        "code": "BodyTooLarge",
        "message": f"Request body is {said}; the limit for this route is {cap} bytes.",
    })


class BodyLimit:
    """ASGI middleware refusing HTTP request bodies past their route's cap."""

    def __init__(self, app: ASGIApp, *, site: bool = False) -> None:
        self.app = app
        self.site = site

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cap = body_cap(scope["path"], site=self.site)
        if cap is None:
            await self.app(scope, receive, send)
            return
        declared: int | None = None
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = None
                break
        if declared is not None and declared > cap:
            await _refuse(send, too_large_body(declared, cap))
            return
        if declared is not None:
            # The server delivers no more than Content-Length bytes: nothing to count.
            await self.app(scope, receive, send)
            return
        await self._counted(scope, receive, send, cap)

    async def _counted(self, scope: Scope, receive: Receive, send: Send, cap: int) -> None:
        """A body of unknown length (chunked): read up to the cap, then hand it on whole
        (these bodies are rare; every official client sends Content-Length)."""
        chunks: list[bytes] = []
        seen = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client left
            chunk = message.get("body", b"")
            seen += len(chunk)
            if seen > cap:
                await _refuse(send, too_large_body(None, cap))
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


async def _refuse(send: Send, content: bytes, status: int = 413) -> None:
    headers: list[Any] = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(content)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": content})
