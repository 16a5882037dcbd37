"""``AsyncSubscription``: one caller's view of a live query, as an async iterator.

Each ``__anext__`` returns the query's next result: the current one first (if the server
already sent it), then one per change. Results are **coalesced**: a slow consumer sees the
latest value, never a backlog, so memory stays bounded however fast the data changes.
A failed run raises ``ConvexError`` / ``ConvexExecutionError`` from ``__anext__`` and the
iteration goes on with the next result, as convex-py's ``QuerySubscription`` does.
Iteration ends (``StopAsyncIteration``) after :meth:`unsubscribe` or when the client
closes; it raises ``ConvexConnectionError`` if the server ended the client with a
FatalError.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from types import TracebackType
from typing import Any

from pyconvex.client._errors import ConvexConnectionError
from pyconvex.client._events import FunctionResult


class AsyncSubscription:
    """Returned by ``AsyncConvexClient.subscribe``; use ``async for`` or ``async with``.

    >>> async with client.subscribe("messages:list", {}) as sub:
    ...     async for messages in sub:
    ...         print(len(messages))
    """

    def __init__(
        self, query_id: int, path: str, on_unsubscribe: Callable[[AsyncSubscription], None]
    ) -> None:
        self.query_id = query_id
        self.path = path
        self._on_unsubscribe = on_unsubscribe
        self._latest: FunctionResult | None = None
        self._ready = asyncio.Event()
        self._ended = False
        self._error: str | None = None

    # Called by the client.
    def push(self, result: FunctionResult) -> None:
        if not self._ended:
            self._latest = result
            self._ready.set()

    def end(self, error: str | None) -> None:
        if not self._ended:
            self._ended, self._error = True, error
            self._ready.set()

    # Public.
    def unsubscribe(self) -> None:
        """Stop watching; a pending or later ``__anext__`` ends the iteration."""
        if not self._ended:
            self.end(None)
            self._latest = None
            self._on_unsubscribe(self)

    async def aclose(self) -> None:
        self.unsubscribe()

    def __aiter__(self) -> AsyncSubscription:
        return self

    async def __anext__(self) -> Any:
        while True:
            if self._latest is not None:
                result, self._latest = self._latest, None
                return result.unwrap()
            if self._ended:
                if self._error is not None:
                    raise ConvexConnectionError(self._error)
                raise StopAsyncIteration
            self._ready.clear()
            await self._ready.wait()

    async def __aenter__(self) -> AsyncSubscription:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.unsubscribe()
