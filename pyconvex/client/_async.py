"""``AsyncConvexClient``: the thin I/O shell that runs :class:`ClientState` over a WebSocket.

All protocol decisions live in ``_state.py``; this module only moves frames and wakes
callers. One background task owns the connection:

- connect to ``ws(s)://<host>/api/sync`` (the Rust client's URL; the path of the
  deployment URL is dropped), send what ``state.on_open()`` returns, then run a sender
  (a per-socket queue of text frames) beside the receiver loop;
- any failure (refused connect, close, a server silent for ``inactivity_timeout``, a
  Transition that does not fit) closes the socket, tells the state, and reconnects after
  a jittered exponential backoff (100 ms doubling to 15 s; reset by the first Transition
  on a new socket). Messages queued for a dead socket are dropped: ``on_open`` replays
  the whole state, so nothing is lost and nothing is sent twice on one socket;
- a server ``FatalError`` is terminal, as in convex-js: pending calls and subscriptions
  fail with :class:`ConvexConnectionError` and the client closes.

The server's ``Ping`` needs no reply (the protocol has no client pong; WebSocket-level
pings are answered by ``websockets``); any message resets the inactivity timer.
Everything runs on the event loop that first used the client.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, ParamSpec, TypeVar, overload
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from pyconvex.client._auth import TokenKeeper
from pyconvex.client._errors import ConvexConnectionError
from pyconvex.client._events import (
    AuthChange,
    ClientEvent,
    FunctionResult,
    QueryResult,
    RequestDone,
    RequestLost,
    ServerFatal,
)
from pyconvex.client._state import Backoff, ClientState, function_path
from pyconvex.client._subscription import AsyncSubscription
from pyconvex.protocol import ClientMessage, ProtocolError, encode_client_message, parse_server_message
from pyconvex.protocol.references import FunctionReference

log = logging.getLogger("pyconvex.client")
function_log = logging.getLogger("pyconvex.client.functions")

_SCHEMES = {"http": "ws", "ws": "ws", "https": "wss", "wss": "wss"}


def sync_url(deployment_url: str) -> str:
    """``http://127.0.0.1:3210/x`` -> ``ws://127.0.0.1:3210/api/sync`` (as the Rust client)."""
    parts = urlsplit(deployment_url)
    scheme = _SCHEMES.get(parts.scheme.lower())
    if scheme is None or not parts.netloc:
        raise ValueError(
            f"expected a deployment URL like http://127.0.0.1:3210, got {deployment_url!r}"
        )
    return f"{scheme}://{parts.netloc}/api/sync"


P = ParamSpec("P")
R = TypeVar("R")

class AsyncConvexClient:
    """A Convex client for asyncio programs, over the sync WebSocket.

    >>> async with AsyncConvexClient("http://127.0.0.1:3210") as client:
    ...     await client.mutation("messages:send", {"body": "hi"})
    ...     print(await client.query("messages:list"))
    ...     async for messages in client.subscribe(api.messages.list, {}):
    ...         print(messages)

    A mutation returns once the client's subscriptions show its writes. Python ints travel
    as Convex int64 and floats as float64 (JS ``number``): pass ``3.0``, not ``3``, to an
    argument validated as ``v.number()``. Calls made while disconnected wait for the
    reconnect; bound them with ``asyncio.timeout`` if needed.
    """

    def __init__(
        self,
        url: str,
        *,
        inactivity_timeout: float = 60.0,
        max_message_size: int = 64 * 2**20,
        open_timeout: float = 10.0,
        backoff: Backoff | None = None,
    ) -> None:
        self.url = url
        self._ws_url = sync_url(url)
        self._inactivity_timeout = inactivity_timeout
        self._max_message_size = max_message_size
        self._open_timeout = open_timeout
        self._backoff = backoff or Backoff()
        self._state = ClientState()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._outbox: asyncio.Queue[str] | None = None
        self._requests: dict[int, tuple[str, asyncio.Future[FunctionResult]]] = {}
        self._watchers: dict[int, list[AsyncSubscription]] = {}
        self._on_auth_change: Callable[[bool], None] | None = None
        self._closed_error: str | None = None  # set once closed: why calls now fail
        self._tokens: TokenKeeper | None = None  # sign_in's tokens and their refresh

    @property
    def session_id(self) -> str:
        """Sent in every Connect; the server de-duplicates replayed mutations by it."""
        return self._state.session_id

    # ------------------------------------------------------------------ public API
    @overload
    async def query(self, fn: FunctionReference[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R: ...
    @overload
    async def query(self, fn: str, args: dict[str, Any] | None = None) -> Any: ...
    async def query(self, fn: Any, args: Any = None) -> Any:  # type: ignore[misc]
        """Run a query once (subscribe, take the first result, unsubscribe)."""
        sub = self.subscribe(fn, args)
        try:
            return await sub.__anext__()
        except StopAsyncIteration:
            raise ConvexConnectionError(self._closed_error or "the client was closed") from None
        finally:
            sub.unsubscribe()

    @overload
    async def mutation(self, fn: FunctionReference[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R: ...
    @overload
    async def mutation(self, fn: str, args: dict[str, Any] | None = None) -> Any: ...
    async def mutation(self, fn: Any, args: Any = None) -> Any:  # type: ignore[misc]
        """Run a mutation; returns after a Transition has reached its commit timestamp."""
        return await self._request("Mutation", fn, args)

    @overload
    async def action(self, fn: FunctionReference[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R: ...
    @overload
    async def action(self, fn: str, args: dict[str, Any] | None = None) -> Any: ...
    async def action(self, fn: Any, args: Any = None) -> Any:  # type: ignore[misc]
        """Run an action. An action in flight when the connection drops fails with
        :class:`ConvexConnectionError` and is not retried (it may have run)."""
        return await self._request("Action", fn, args)

    def subscribe(self, fn: Any, args: dict[str, Any] | None = None) -> AsyncSubscription:
        """Watch a query: an async iterator of its successive results (see
        :class:`AsyncSubscription`). Must be called from the client's event loop."""
        self._ensure_started()
        path = function_path(fn)
        qid, messages = self._state.subscribe(path, args if args is not None else {})
        sub = AsyncSubscription(qid, path, self._unsubscribe)
        self._watchers.setdefault(qid, []).append(sub)
        current = self._state.result(qid)
        if current is not None:
            sub.push(current)
        self._send(messages)
        return sub

    def set_auth(self, token: str, *, on_change: Callable[[bool], None] | None = None) -> None:
        """Authenticate with a JWT from now on (and after every reconnect). ``on_change``
        is called with ``True`` once the server accepts it and ``False`` if it rejects
        it, after which the client continues unauthenticated."""
        self._check_open()
        self._on_auth_change = on_change
        self._send(self._state.set_auth(token))

    async def sign_in(
        self, provider: str | None = None, params: dict[str, Any] | None = None,
        *, verifier: str | None = None,
    ) -> dict[str, Any]:
        """Sign in through the deployment's ``auth:signIn`` (pyconvex.auth, Convex Auth):
        ``await client.sign_in("password", {"email": e, "password": p, "flow": "signIn"})``.

        With tokens in the answer the client authenticates and keeps the session alive,
        refreshing the access token before it expires. Returns the action's answer
        (``{"tokens": ...}``, ``{"started": True}`` or ``{"redirect", "verifier"}``).
        """
        return await self._keeper().sign_in(provider, params, verifier)

    async def sign_out(self) -> None:
        """End the session (``auth:signOut``) and continue unauthenticated."""
        await self._keeper().sign_out()

    @property
    def auth_tokens(self) -> dict[str, str] | None:
        """The tokens of the current ``sign_in`` session (``token``, ``refreshToken``)."""
        return self._tokens.tokens if self._tokens is not None else None

    def _keeper(self) -> TokenKeeper:
        if self._tokens is None:
            self._tokens = TokenKeeper(self.action, self.set_auth, self.clear_auth)
        return self._tokens

    def set_admin_auth(self, admin_key: str, acting_as: dict[str, Any] | None = None) -> None:
        """Authenticate with the deployment's admin key, optionally acting as a user."""
        self._check_open()
        self._send(self._state.set_auth(admin_key, token_type="Admin", impersonating=acting_as))

    def clear_auth(self) -> None:
        self._check_open()
        self._on_auth_change = None
        self._send(self._state.clear_auth())

    async def aclose(self) -> None:
        """Close the connection. Pending calls fail; subscriptions end."""
        if self._tokens is not None:
            self._tokens.close()
        self._shut("the client was closed", end_subscriptions_with=None)
        task, self._task = self._task, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def __aenter__(self) -> AsyncConvexClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # ------------------------------------------------------------------ plumbing
    def _check_open(self) -> None:
        if self._closed_error is not None:
            raise ConvexConnectionError(self._closed_error)

    def _ensure_started(self) -> None:
        self._check_open()
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
            self._task = loop.create_task(self._run(), name=f"pyconvex-client {self._ws_url}")
        elif self._loop is not loop:
            raise RuntimeError("this AsyncConvexClient is bound to another event loop")

    async def _request(self, kind: str, fn: Any, args: dict[str, Any] | None) -> Any:
        self._ensure_started()
        path = function_path(fn)
        method = self._state.mutation if kind == "Mutation" else self._state.action
        rid, messages = method(path, args if args is not None else {})
        future: asyncio.Future[FunctionResult] = asyncio.get_running_loop().create_future()
        self._requests[rid] = (path, future)
        self._send(messages)
        result = await future
        return result.unwrap()

    def _unsubscribe(self, sub: AsyncSubscription) -> None:
        watchers = self._watchers.get(sub.query_id, [])
        if sub in watchers:
            watchers.remove(sub)
            if not watchers:
                del self._watchers[sub.query_id]
            if self._closed_error is None:
                self._send(self._state.unsubscribe(sub.query_id))

    def _send(self, messages: list[ClientMessage]) -> None:
        if self._outbox is None:
            return  # not connected: on_open() replays the state on the next socket
        for message in messages:
            self._outbox.put_nowait(encode_client_message(message))

    def _shut(self, reason: str, *, end_subscriptions_with: str | None) -> None:
        if self._closed_error is not None:
            return
        self._closed_error = reason
        requests, self._requests = self._requests, {}
        for _, future in requests.values():
            if not future.done():
                future.set_exception(ConvexConnectionError(reason))
        watchers, self._watchers = self._watchers, {}
        for subs in watchers.values():
            for sub in subs:
                sub.end(end_subscriptions_with)

    async def _run(self) -> None:
        try:
            while self._closed_error is None:
                reason = await self._connect_once()
                self._outbox = None
                for event in self._state.on_close(reason):
                    self._dispatch(event)
                if self._closed_error is not None:
                    break
                delay = self._backoff.next_delay()
                log.info("sync connection lost (%s); reconnecting in %.2f s", reason, delay)
                await asyncio.sleep(delay)
        except Exception as e:  # a bug here must fail every caller, not leave them hanging
            log.exception("the pyconvex client's connection task failed")
            reason = f"the client's connection task failed: {e!r}"
            self._shut(reason, end_subscriptions_with=reason)

    async def _connect_once(self) -> str:
        """One socket's life; returns why it ended (the next Connect's lastCloseReason)."""
        try:
            async with connect(
                self._ws_url,
                max_size=self._max_message_size,
                open_timeout=self._open_timeout,
                close_timeout=2,
            ) as ws:
                outbox: asyncio.Queue[str] = asyncio.Queue()
                self._outbox = outbox
                self._send(self._state.on_open(client_ts=int(time.time() * 1000)))
                sender = asyncio.get_running_loop().create_task(self._sender(ws, outbox))
                try:
                    return await self._receive(ws)
                finally:
                    self._outbox = None
                    sender.cancel()
                    await asyncio.gather(sender, return_exceptions=True)
        except ConnectionClosed as e:
            code = e.rcvd.code if e.rcvd is not None else 1006
            return f"closed with code {code}"
        except (OSError, TimeoutError, InvalidHandshake, InvalidURI) as e:
            return f"{type(e).__name__}: {e}"

    async def _sender(self, ws: ClientConnection, outbox: asyncio.Queue[str]) -> None:
        with contextlib.suppress(ConnectionClosed):
            while True:
                await ws.send(await outbox.get())

    async def _receive(self, ws: ClientConnection) -> str:
        while True:
            try:
                frame = await asyncio.wait_for(ws.recv(), self._inactivity_timeout)
            except TimeoutError:
                return "InactiveServer"
            if isinstance(frame, bytes):
                continue  # the protocol is text frames only; ignore, as the Rust client does
            try:
                message = parse_server_message(frame)
                events = self._state.receive(message)
            except ProtocolError as e:
                log.warning("resetting the sync connection: %s", e.message)
                await ws.close(4000, e.message.encode()[:120].decode("utf-8", "ignore"))
                return f"ProtocolError: {e.message}"
            if message["type"] == "Transition":
                self._backoff.reset()
            for event in events:
                self._dispatch(event)
            if self._closed_error is not None:
                return self._closed_error

    def _dispatch(self, event: ClientEvent) -> None:
        if isinstance(event, QueryResult):
            subs = self._watchers.get(event.query_id, [])
            if subs:
                _log_lines("Q", subs[0].path, event.result)
            for sub in list(subs):
                sub.push(event.result)
        elif isinstance(event, RequestDone | RequestLost):
            entry = self._requests.pop(event.request_id, None)
            if entry is None or entry[1].done():
                return
            path, future = entry
            if isinstance(event, RequestLost):
                future.set_exception(ConvexConnectionError(event.reason))
            else:
                _log_lines("F", path, event.result)
                future.set_result(event.result)
        elif isinstance(event, AuthChange):
            callback = self._on_auth_change
            if not event.authenticated:
                log.warning("the server rejected the auth token: %s", event.error)
            if callback is not None:
                try:
                    callback(event.authenticated)
                except Exception:
                    log.exception("on_change callback of set_auth() failed")
        elif isinstance(event, ServerFatal):
            log.error("the server sent a FatalError: %s", event.error)
            reason = f"the server sent a FatalError: {event.error}"
            self._shut(reason, end_subscriptions_with=reason)


def _log_lines(kind: str, path: str, result: FunctionResult) -> None:
    for line in result.log_lines:
        function_log.info("[CONVEX %s(%s)] %s", kind, path, line)
