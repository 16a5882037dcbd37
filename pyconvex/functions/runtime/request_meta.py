"""``ctx.meta.get_request_metadata()``: who sent the request a function runs for.

Convex (``convex`` 1.38+) gives mutations and actions ``ctx.meta.getRequestMetadata()``
with the client's ``ip`` and ``userAgent``, the ``requestId``, the
``scheduledFunctionId`` of a scheduled run and the raw ``authToken``; functions a
function calls (``run_query``/``run_mutation``/``run_action``) see their caller's. Queries
have no request metadata there (one query result serves many clients), nor here.

The server learns the origin where a request arrives (a WebSocket, an HTTP call, an HTTP
action; ``server/client_address.py`` reads the peer address) and sets
:data:`request_origin_var` around the execution; context variables follow it into
nested calls, and an action's worker process gets the origin with the action and sets
it there (``isolation/worker.py``). A scheduled run starts from a fresh origin that
names only its job, never the address of whoever happened to wake the scheduler.
"""

from __future__ import annotations

from contextvars import ContextVar, Token
from typing import Any, NamedTuple

from pyconvex.functions.runtime.determinism import frozen
from pyconvex.functions.runtime.failures import request_id_var


class RequestOrigin(NamedTuple):
    """Where the request a function runs for came from (all None when nobody sent it).
    A named tuple: every client call makes one, and a frozen dataclass cost four times
    as much to build (0.58 against 0.24 µs)."""

    ip: str | None = None
    user_agent: str | None = None
    auth_token: str | None = None
    scheduled_function_id: str | None = None

    def with_token(self, token: str | None) -> RequestOrigin:
        return RequestOrigin(self.ip, self.user_agent, token, self.scheduled_function_id)

    def to_wire(self) -> dict[str, Any]:
        """A plain dict, to cross to an action's worker process."""
        return self._asdict()

    @staticmethod
    def from_wire(data: dict[str, Any] | None) -> RequestOrigin | None:
        return RequestOrigin(**data) if data is not None else None


request_origin_var: ContextVar[RequestOrigin | None] = ContextVar("pyconvex_request_origin", default=None)


class origin_scope:
    """``with origin_scope(origin):`` functions run inside see ``origin`` (a class, not a
    generator context manager: it wraps every call a client makes)."""

    __slots__ = ("_origin", "_token")

    def __init__(self, origin: RequestOrigin | None) -> None:
        self._origin = origin

    def __enter__(self) -> None:
        self._token: Token[RequestOrigin | None] = request_origin_var.set(self._origin)

    def __exit__(self, *exc: object) -> None:
        request_origin_var.reset(self._token)


class Meta:
    """``ctx.meta`` in mutations and actions."""

    __slots__ = ()

    async def get_request_metadata(self) -> dict[str, Any]:
        """``{"ip", "userAgent", "requestId", "scheduledFunctionId", "authToken"}``, as
        Convex's ``RequestMetadata``. ``ip`` is the client's address (behind a proxy
        only when the server trusts that proxy: ``pyconvex serve --trusted-proxy``);
        ``ip`` and ``userAgent`` are None for scheduled runs and in-process calls."""
        origin = request_origin_var.get() or RequestOrigin()
        request_id = request_id_var.get()
        if request_id is None:  # a mutation's handler has it in its frozen state
            state = frozen.get()
            request_id = state.request_id if state is not None else None
        return {
            "ip": origin.ip,
            "userAgent": origin.user_agent,
            "requestId": request_id or "",
            "scheduledFunctionId": origin.scheduled_function_id,
            "authToken": origin.auth_token,
        }


META = Meta()
