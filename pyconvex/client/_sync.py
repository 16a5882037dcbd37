"""``ConvexClient``: the blocking twin of ``AsyncConvexClient``, for scripts and threads.

It does not duplicate the client. Each ``ConvexClient`` owns a private event loop on a
daemon thread, runs one ``AsyncConvexClient`` there, and every method submits a coroutine
with ``asyncio.run_coroutine_threadsafe(...).result()`` (the idea of Starlette's TestClient
portal). The connection therefore stays alive, reconnects and keeps subscriptions current
between calls, exactly as the async client does. Methods may be called from any thread;
callbacks (``set_auth(on_change=...)``) run on the client's loop thread. ``close()`` (or
leaving the ``with`` block) stops the loop and joins the thread; an interrupted call
(``KeyboardInterrupt``) cancels its coroutine.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine, Iterator
from types import TracebackType
from typing import Any, ParamSpec, TypeVar, overload

from pyconvex.client._async import AsyncConvexClient
from pyconvex.client._errors import ConvexConnectionError
from pyconvex.client._subscription import AsyncSubscription
from pyconvex.protocol.references import FunctionReference

T = TypeVar("T")


P = ParamSpec("P")
R = TypeVar("R")

class ConvexClient:
    """A blocking Convex client over the sync WebSocket (same API as convex-py's).

    >>> with ConvexClient("http://127.0.0.1:3210") as client:
    ...     client.mutation("messages:send", {"body": "hi"})
    ...     print(client.query(api.messages.list))
    ...     for messages in client.subscribe("messages:list", {}):
    ...         print(messages)

    Keyword options are those of :class:`AsyncConvexClient`.
    """

    def __init__(self, url: str, **options: Any) -> None:
        self._client = AsyncConvexClient(url, **options)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="pyconvex-client", daemon=True
        )
        self._thread.start()
        self._closed = False
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return self._client.url

    @property
    def session_id(self) -> str:
        return self._client.session_id

    @overload
    def query(self, fn: FunctionReference[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R: ...
    @overload
    def query(self, fn: str, args: dict[str, Any] | None = None) -> Any: ...
    def query(self, fn: Any, args: Any = None) -> Any:  # type: ignore[misc]
        """Run a query once and return its result."""
        return self._call(self._client.query(fn, args))

    @overload
    def mutation(self, fn: FunctionReference[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R: ...
    @overload
    def mutation(self, fn: str, args: dict[str, Any] | None = None) -> Any: ...
    def mutation(self, fn: Any, args: Any = None) -> Any:  # type: ignore[misc]
        """Run a mutation; returns once its writes are visible to this client's queries."""
        return self._call(self._client.mutation(fn, args))

    @overload
    def action(self, fn: FunctionReference[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R: ...
    @overload
    def action(self, fn: str, args: dict[str, Any] | None = None) -> Any: ...
    def action(self, fn: Any, args: Any = None) -> Any:  # type: ignore[misc]
        return self._call(self._client.action(fn, args))

    def subscribe(self, fn: Any, args: dict[str, Any] | None = None) -> Subscription:
        """Watch a query: an iterator of its successive results (see :class:`Subscription`)."""
        return Subscription(self, self._on_loop(lambda: self._client.subscribe(fn, args)))

    def set_auth(self, token: str, *, on_change: Callable[[bool], None] | None = None) -> None:
        self._on_loop(lambda: self._client.set_auth(token, on_change=on_change))

    def set_admin_auth(self, admin_key: str, acting_as: dict[str, Any] | None = None) -> None:
        self._on_loop(lambda: self._client.set_admin_auth(admin_key, acting_as))

    def sign_in(
        self, provider: str | None = None, params: dict[str, Any] | None = None,
        *, verifier: str | None = None,
    ) -> dict[str, Any]:
        """Sign in through ``auth:signIn``; the session is kept and refreshed (see
        :meth:`AsyncConvexClient.sign_in`)."""
        return self._call(self._client.sign_in(provider, params, verifier=verifier))

    def sign_out(self) -> None:
        """End the session (``auth:signOut``) and continue unauthenticated."""
        self._call(self._client.sign_out())

    @property
    def auth_tokens(self) -> dict[str, str] | None:
        return self._client.auth_tokens

    def clear_auth(self) -> None:
        self._on_loop(self._client.clear_auth)

    def close(self) -> None:
        """Close the connection and stop the client's thread; idempotent."""
        with self._lock:
            if self._closed:
                return
            try:
                self._call(self._shutdown())
            finally:
                self._closed = True
                self._loop.call_soon_threadsafe(self._loop.stop)
                self._thread.join()
                self._loop.close()

    def __enter__(self) -> ConvexClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # ------------------------------------------------------------------ the portal
    async def _shutdown(self) -> None:
        await self._client.aclose()
        await self._loop.shutdown_asyncgens()

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        if self._closed:
            coro.close()
            raise ConvexConnectionError("the client was closed")
        if threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError("ConvexClient methods cannot be called from its own callbacks")
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result()
        except BaseException:
            future.cancel()  # e.g. KeyboardInterrupt while waiting: stop the coroutine too
            raise

    def _on_loop(self, fn: Callable[[], T]) -> T:
        async def call() -> T:
            return fn()

        return self._call(call())


class Subscription:
    """Returned by ``ConvexClient.subscribe``: ``next()`` blocks until the next result.

    Results are coalesced (a slow consumer gets the latest value); a failed run raises
    ``ConvexError`` / ``ConvexExecutionError`` from ``next()`` and iteration continues;
    iteration stops after :meth:`unsubscribe` or when the client closes.
    """

    def __init__(self, client: ConvexClient, sub: AsyncSubscription) -> None:
        self._client = client
        self._sub = sub

    @property
    def query_id(self) -> int:
        return self._sub.query_id

    def __iter__(self) -> Iterator[Any]:
        return self

    def __next__(self) -> Any:
        if self._client._closed:
            raise StopIteration
        found, value = self._client._call(self._next())
        if not found:
            raise StopIteration
        return value

    async def _next(self) -> tuple[bool, Any]:
        # StopAsyncIteration cannot cross run_coroutine_threadsafe cleanly; use a flag.
        try:
            return True, await self._sub.__anext__()
        except StopAsyncIteration:
            return False, None

    def unsubscribe(self) -> None:
        if not self._client._closed:
            self._client._on_loop(self._sub.unsubscribe)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.unsubscribe()
