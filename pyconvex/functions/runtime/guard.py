"""Refuse network I/O inside queries and mutations.

Queries and mutations must be deterministic functions of the database snapshot, or
reactivity and OCC retries would be wrong. Connecting a socket or resolving a host name
while a query or mutation runs raises :class:`NondeterminismError`; actions may do
anything. The check is a context variable read or two, so code outside functions pays
almost nothing. An event loop that bypasses Python's socket module (uvloop resolves and
connects in libuv) must come from :func:`guarded_loop_factory`, whose loop makes the
same check in its connect and resolve methods.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from pyconvex.functions.runtime.determinism import frozen, refused

forbid_io: ContextVar[str | None] = ContextVar("pyconvex_forbid_io", default=None)
"""The query or mutation I/O is refused in (``Scope`` sets it; a mutation's handler
context leaves it unset and has its name in ``frozen``, see ``Frozen``)."""
_installed = False


def _check(what: str) -> None:
    who = forbid_io.get()
    if who is None:
        state = frozen.get()
        if state is None:
            return
        who = state.name
    raise refused(who, f"network I/O ({what})")


def install_io_guard() -> None:
    global _installed
    if _installed:
        return
    _installed = True
    cls: Any = socket.socket
    original_connect = cls.connect
    original_connect_ex = cls.connect_ex
    original_getaddrinfo = socket.getaddrinfo

    def connect(self: socket.socket, address: Any) -> Any:
        _check(f"connect to {address!r}")
        return original_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> Any:
        _check(f"connect to {address!r}")
        return original_connect_ex(self, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        _check(f"resolve {host!r}")
        return original_getaddrinfo(host, *args, **kwargs)

    cls.connect = connect
    cls.connect_ex = connect_ex
    socket.getaddrinfo = getaddrinfo


def guarded_loop_factory() -> Callable[[], asyncio.AbstractEventLoop]:
    """A uvloop event loop (faster sockets for the server) whose connect and resolve
    methods refuse inside queries and mutations; asyncio's own loop where uvloop is
    missing (its sockets go through the patched socket module)."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop comes with uvicorn[standard]
        return asyncio.new_event_loop

    class GuardedLoop(uvloop.Loop):
        async def getaddrinfo(self, host: Any, *args: Any, **kwargs: Any) -> Any:
            _check(f"resolve {host!r}")
            return await super().getaddrinfo(host, *args, **kwargs)

        async def create_connection(self, *args: Any, **kwargs: Any) -> Any:
            _check(f"connect to {_address(args, kwargs)}")
            return await super().create_connection(*args, **kwargs)

        async def create_unix_connection(self, *args: Any, **kwargs: Any) -> Any:
            _check(f"connect to {_address(args, kwargs)}")
            return await super().create_unix_connection(*args, **kwargs)

        async def create_datagram_endpoint(self, *args: Any, **kwargs: Any) -> Any:
            _check("open a datagram endpoint")
            return await super().create_datagram_endpoint(*args, **kwargs)

        async def sock_connect(self, sock: Any, address: Any) -> Any:
            _check(f"connect to {address!r}")
            return await super().sock_connect(sock, address)

    return GuardedLoop


def _address(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    where = [repr(a) for a in args[1:3] if a is not None]  # (protocol_factory, host, port)
    where += [f"{k}={kwargs[k]!r}" for k in ("host", "port", "path") if kwargs.get(k)]
    return ", ".join(where) or "a server"
