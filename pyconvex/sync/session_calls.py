"""A sync session's mutations and actions: each run, answered, and a mutation confirmed.

Part of :class:`~pyconvex.sync.session.SyncSession` (its requests, apart from its query
set and transitions). Rules kept (docs/protocol.md §6):

- Mutations from one connection run one at a time in arrival order, each with the
  identity in force when it arrived; a replay (same session and request id) is answered
  from the durable record of its first run (``sync/requests.py``), never run twice.
- After each MutationResponse, failed ones included, comes a Transition at or past the
  commit timestamp, with this client's re-run results, before the next mutation runs:
  the official clients settle a mutation on it, and the client reads its writes.

A mutation's common course (its lock free, the confirmation due at once, both
frames written at once) awaits nothing but the mutation itself: ``send`` returns None
for a frame already written, the confirmation is made without a coroutine
(``_confirmation``) and the worker runs each mutation inline. Each coroutine made and
awaited cost about 900 instructions more than a plain call (callgrind), and there
were four per mutation.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, NamedTuple

from pyconvex.functions.runtime import FunctionResult
from pyconvex.functions.runtime.request_meta import (
    RequestOrigin,
    origin_scope,
    request_origin_var,
)
from pyconvex.protocol import messages as wire
from pyconvex.sync.expiry import check_not_expired
from pyconvex.sync.requests import SessionRecorder, session_mutation
from pyconvex.sync.responses import action_response, mutation_response

if TYPE_CHECKING:
    from pyconvex.functions import FunctionRunner
    from pyconvex.sync.mutation_queue import MutationQueue
    from pyconvex.sync.session_lock import SessionLock
    from pyconvex.sync.subscriptions import SubscriptionManager


class Caller(NamedTuple):
    """Who a session's mutations run as, from its last Authenticate: made once per
    Authenticate and shared by every mutation queued under it (each runs as the
    identity in force when it arrived), with what each would otherwise work out again:
    the owner of its exactly-once record and its ``ctx.meta`` origin."""

    identity: dict[str, Any] | None
    is_admin: bool
    expires_at: float | None
    binding: str  # sync/requests.py's ``identity_binding``
    origin: RequestOrigin | None  # the connection's, with this identity's token


QueuedMutation = tuple[wire.Mutation, Caller]
_NOT_SET = object()


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

        def _locked(self) -> SessionLock: ...
        def send(self, message: wire.ServerMessage, *,
                 more: bool = False) -> Awaitable[None] | None: ...
        def _origin(self, token: str | None) -> RequestOrigin | None: ...
        async def send_transition(self, *, force: bool = False, bare: bool = True) -> None: ...
        def _confirmation(self, ts: int | None) -> wire.Transition | None: ...
        async def _reach(self, ts: int) -> None: ...

    async def sent(self, message: wire.ServerMessage) -> None:
        """Send ``message`` and wait until it is written (for the rarer messages)."""
        sending = self.send(message)
        if sending is not None:
            await sending

    async def _mutation_worker(self, mutations: MutationQueue[QueuedMutation]) -> None:
        """Each queued mutation in turn: run, answered, confirmed, before the next one
        starts. Inline, not a coroutine per mutation: one would be made for each, and
        passed through at each of its resumptions."""
        take = mutations.take
        lock = self._locked()
        # The caller of the last mutation (most often every mutation's): its record's
        # owner and ctx.meta's origin are set when it changes. The origin is set in this
        # task's own context (a task runs in a copy of its spawner's) and left set
        # between mutations (nothing else runs functions in this task), instead of a
        # set and reset per mutation.
        last: Caller | None = None
        origin: object = _NOT_SET
        recorder = SessionRecorder(self.session_id, "")
        while True:
            queued = take()  # no coroutine of ``get`` per mutation: one only to wait
            if queued is None:
                await mutations.wait()
                continue
            msg, caller = queued
            outcome: FunctionResult | BaseException
            if caller is not last:
                last = caller
                recorder.bind(caller.binding)
                if caller.origin is not origin:
                    origin = caller.origin
                    request_origin_var.set(caller.origin)
            recorder.session_id = self.session_id  # (as a second Connect may have set it)
            # Answered from its durable record if it already ran (sync/requests.py).
            try:
                if caller.expires_at is not None:
                    check_not_expired(caller.expires_at)
                outcome = await session_mutation(
                    self.runner, recorder, msg, caller.identity, caller.is_admin,
                    self._resumed,
                )
            except Exception as e:
                outcome = e
            response = mutation_response(self.session_id, msg, outcome, recorder.result_json)
            ts = response["ts"]
            if not lock.take():
                await lock.acquire()
            try:
                transition = self._confirmation(ts)
                if transition is not None:
                    # Its covering Transition follows at once: both go out in one write
                    # (``more``: the shell holds the response for the next frame).
                    sending = self.send(response, more=True)
                    if sending is not None:
                        await sending
                    sending = self.send(transition)
                else:
                    sending = self.send(response)
                if sending is not None:
                    await sending
                sent = self._transitions_sent
            finally:
                lock.release()
            if transition is None:
                await self._confirm_later(ts, sent)

    async def _confirm_later(self, ts: int | None, sent: int) -> None:
        """The Transition covering a mutation committed at ``ts`` (None: it failed),
        when it could not go at once with the response (``_confirmation``): once the
        commit is taken in and this client's queries have re-run. ``sent``: the count of
        Transitions when the response went out."""
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
            await self.sent(response)
