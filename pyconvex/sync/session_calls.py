"""A sync session's mutations and actions: each run, answered, and a mutation confirmed.

Part of :class:`~pyconvex.sync.session.SyncSession` (its requests, apart from its query
set and transitions). Rules kept (docs/protocol.md §6):

- Mutations from one connection run one at a time in arrival order, each with the
  identity in force when it arrived; a replay (same session and request id) is answered
  from the durable record of its first run (``sync/requests.py``), never run twice.
- After each MutationResponse, failed ones included, comes a Transition at or past the
  commit timestamp, with this client's re-run results, before the next mutation runs:
  the official clients settle a mutation on it, and the client reads its writes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, NamedTuple

from pyconvex.functions.runtime import FunctionResult
from pyconvex.functions.runtime.request_meta import RequestOrigin, origin_scope
from pyconvex.protocol import messages as wire
from pyconvex.sync.expiry import check_not_expired
from pyconvex.sync.requests import session_mutation
from pyconvex.sync.responses import action_response, mutation_response

if TYPE_CHECKING:
    from pyconvex.functions import FunctionRunner
    from pyconvex.sync.mutation_queue import MutationQueue
    from pyconvex.sync.subscriptions import SubscriptionManager


class QueuedMutation(NamedTuple):
    msg: wire.Mutation
    identity: dict[str, Any] | None
    is_admin: bool
    expires_at: float | None = None
    token: str | None = None  # the user token in force when it arrived (ctx.meta)


class SessionCalls:
    """The session's requests (a base of ``SyncSession``, which holds the state)."""

    __slots__ = ()

    if TYPE_CHECKING:  # SyncSession's state and steps these use
        manager: SubscriptionManager
        runner: FunctionRunner
        session_id: str
        origin: RequestOrigin | None
        identity: dict[str, Any] | None
        is_admin: bool
        expires_at: float | None
        token: str | None
        _resumed: bool
        _transitions_sent: int
        _action_slots: asyncio.Semaphore | None

        def _locked(self) -> asyncio.Lock: ...
        def send(self, message: wire.ServerMessage, *, more: bool = False) -> Awaitable[None]: ...
        def _origin(self, token: str | None) -> RequestOrigin | None: ...
        async def send_transition(self, *, force: bool = False, bare: bool = True) -> None: ...
        async def _confirm_now(self, ts: int | None) -> bool: ...
        async def _reach(self, ts: int) -> None: ...

    async def _mutation_worker(self, mutations: MutationQueue[QueuedMutation]) -> None:
        take = mutations.take
        while True:
            queued = take()  # no coroutine of ``get`` per mutation: one only to wait
            if queued is None:
                await mutations.wait()
            else:
                await self._mutation(queued)

    async def _mutation(self, queued: QueuedMutation) -> None:
        msg = queued.msg
        outcome: FunctionResult | BaseException
        # Answered from its durable record if it already ran (sync/requests.py).
        try:
            check_not_expired(queued.expires_at)
            with origin_scope(self._origin(queued.token)):
                outcome = await session_mutation(
                    self.runner, self.session_id, msg, queued.identity,
                    queued.is_admin, self._resumed,
                )
        except Exception as e:
            outcome = e
        response = mutation_response(self.session_id, msg, outcome)
        ts = response["ts"]
        # The lock taken and released directly, not through ``async with``: its
        # ``__aenter__`` and ``__aexit__`` are two coroutines per mutation.
        lock = self._locked()
        await lock.acquire()
        try:
            # The covering Transition usually follows at once (sent together, one write).
            await self.send(response, more=True)
            if await self._confirm_now(ts):
                return
            sent = self._transitions_sent
        finally:
            lock.release()
        if ts is not None:
            await self.manager.wait_for(ts)
            await self._reach(ts)
        if self._transitions_sent == sent:
            # Clients settle a mutation on a Transition after its response (the PyPI
            # client waits for one even after a failure), so one follows, however bare.
            await self.send_transition(force=True)

    async def _action(self, msg: wire.Action) -> None:
        try:
            await self._run_action(msg)
        finally:
            assert self._action_slots is not None
            self._action_slots.release()

    async def _run_action(self, msg: wire.Action) -> None:
        outcome: FunctionResult | BaseException
        try:
            check_not_expired(self.expires_at)
            with origin_scope(self._origin(self.token)):
                outcome = await self.runner.run_action(
                    msg["udfPath"], msg["args"], self.identity, internal_ok=self.is_admin
                )
        except Exception as e:
            outcome = e
        response = action_response(self.session_id, msg, outcome)
        async with self._locked():
            await self.send(response)
