"""Refuse network I/O inside queries and mutations.

Queries and mutations must be deterministic functions of the database snapshot, or
reactivity and OCC retries would be wrong. Connecting a socket or resolving a host name
while a query or mutation runs raises :class:`NondeterminismError`; actions may do
anything. The check is a context variable read, so code outside functions pays almost
nothing. (Event loops that bypass Python's socket module, such as uvloop, are not
covered.)
"""

from __future__ import annotations

import socket
from contextvars import ContextVar
from typing import Any

from pyconvex.errors import NondeterminismError

forbid_io: ContextVar[str | None] = ContextVar("pyconvex_forbid_io", default=None)
_installed = False


def _check(what: str) -> None:
    who = forbid_io.get()
    if who is not None:
        raise NondeterminismError(
            f"{who}: network I/O ({what}) is not allowed in queries and mutations, which "
            "must be deterministic. Move it to an action (ctx.run_mutation can save the "
            "result)."
        )


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
