"""One client connection of the sync protocol: its query set, identity and requests.

The session is I/O-free: it is fed parsed client messages (``handle``) and emits server
messages through an injected async ``send``; ``server/ws.py`` is the thin shell that
owns the socket. Rules it keeps (docs/protocol.md §4–§7):

- Every Transition starts exactly at the previous one's end version, and all of its
  results hold at its end timestamp (``transitions.py``): the client never sees a mix of
  before and after a commit, and its timestamp only grows. It goes out as soon as this
  client's own queries have results there; another client's slow query never delays it.
- Mutations from one connection run one at a time in arrival order; after each
  MutationResponse comes a Transition at or past the commit timestamp, with this
  client's re-run results, before the next mutation runs: the client reads its writes.
- A replayed mutation (same session id and request id, after a reconnect, maybe to
  another process) is answered from the durable record of its first run, never run
  twice (``sync/requests.py``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from pyconvex.errors import AuthError
from pyconvex.functions import FunctionRunner
from pyconvex.functions.runtime.request_meta import RequestOrigin
from pyconvex.protocol import ProtocolError, parse_mutation
from pyconvex.protocol import messages as wire
from pyconvex.sync.authenticate import (
    TOKEN_EXPIRED,
    CloseAfterAuthError,
    VerifyToken,
    auth_error,
    credentials_of,
)
from pyconvex.sync.fanout import FanOut, SendFrame, fanout_of
from pyconvex.sync.invariants import SessionInvariantError, session_problems
from pyconvex.sync.mutation_queue import MutationQueue
from pyconvex.sync.requests import identity_binding
from pyconvex.sync.session_calls import Caller, QueuedMutation, SessionCalls
from pyconvex.sync.session_lock import SessionLock
from pyconvex.sync.subscriptions import Outcome, Subscription, SubscriptionManager
from pyconvex.sync.transitions import ClientQuery, Plan, plan, transition_message, transition_of

# ``send(message, more)``: ``more`` says the caller sends another message next, before
# it awaits anything (a mutation's response, then the Transition covering it): the
# shell may keep this one and write both at once. It returns None when the message is
# written (or kept so), else what to await until it is (see ``SyncSession.send``).
Send = Callable[[wire.ServerMessage, bool], Awaitable[None] | None]

MAX_TAKEN_MUTATIONS = 16  # queued mutations a session takes past its receive loop
# What one socket may make the server hold (see also server/limits.py): live queries,
# and mutations and actions waiting: past those two the receive loop waits for room, so
# a client sending faster than its requests run is slowed down (TCP flow control).
MAX_QUERIES_PER_SOCKET = 4096
MAX_CLIENT_TS_MS = 2**53  # a Connect's clientTs beyond this is no clock
MAX_QUEUED_MUTATIONS = 1024
MAX_ACTIONS_IN_FLIGHT = 64


_NONE_REMOVED: list[int] = []
"""Every session's removed-query list until it has one: shared, never appended to."""
_NONE_HELD: dict[Subscription, Outcome] = {}
"""Likewise the catch-up results a session holds (``transitions.py``): never written to."""


class SyncSession(SessionCalls):
    # Slots, and every part an idle subscriber does not use made only when first
    # needed: a server holds thousands of these, and each object the garbage collector
    # tracks lengthens every full collection (a pause in a fan-out round).
    __slots__ = (
        "_action_slots", "_admin_key", "_caller", "_clock_skew", "_closed", "_dirty", "_failure",
        "_held", "_lock", "_mutations", "_progress", "_removed", "_resumed", "_send",
        "_send_frame", "_serving", "_tasks", "_transitions_sent", "_verify_token",
        "_watcher", "connected", "current", "expires_at", "fanout_noted", "identity",
        "identity_version", "is_admin", "last_send", "manager", "origin", "queries",
        "query_set_version", "receiving", "runner", "session_id", "token",
    )

    def __init__(
        self,
        manager: SubscriptionManager,
        runner: FunctionRunner,
        send: Send,
        *,
        admin_key: str | None = None,
        verify_token: VerifyToken | None = None,
        origin: RequestOrigin | None = None,
        send_frame: SendFrame | None = None,
    ) -> None:
        self.manager = manager
        self._send_frame = send_frame  # the shell's synchronous write (fanout.py)
        self.fanout_noted = False
        # The connection's address and User-Agent (ctx.meta), with the token of the last
        # request that asked for it (``_origin``).
        self.origin = origin
        self.token: str | None = None
        self.runner = runner
        self._send = send
        self._admin_key = admin_key
        self._verify_token = verify_token
        self.session_id = ""
        self.connected = False
        self.query_set_version = 0
        self.identity_version = 0
        self.identity: dict[str, Any] | None = None
        self.is_admin = False
        self.expires_at: float | None = None  # the identity's token ends then (expiry.py)
        self._caller = self._caller_now()  # the above, for mutations (session_calls.py)
        self._resumed = True  # until Connect says this is the session's first connection
        self.current: wire.StateVersion = {"querySet": 0, "identity": 0, "ts": 0}
        self.queries: dict[int, ClientQuery] = {}
        self._removed: list[int] = _NONE_REMOVED  # replaced by a list of its own on a removal
        self._held: dict[Subscription, Outcome] = _NONE_HELD  # catch-up results (transitions.py)
        # Made when first needed (an idle subscriber never needs them): the lock, the
        # mutation queue and its worker (each mutation with the identity in force when
        # it arrived: an Authenticate after it does not change who runs it), the action
        # slots, the task set, the pusher's flag and the flag a confirmation waits on.
        self._lock: SessionLock | None = None
        self._mutations: MutationQueue[QueuedMutation] | None = None
        self._action_slots: asyncio.Semaphore | None = None
        self._tasks: set[asyncio.Task[Any]] | None = None
        self._clock_skew: int | None = None
        self._dirty: asyncio.Event | None = None  # a new result: the pusher looks
        self._progress: asyncio.Event | None = None  # the same, for a confirmation
        self._watcher = self._on_result
        self._transitions_sent = 0
        self._serving: asyncio.Task[Any] | None = None  # the task running ``serve``
        self._failure: BaseException | None = None  # the first failure of a task
        self._closed = False
        self.last_send = time.monotonic()
        self.receiving = False  # the shell is waiting for a frame, with nothing in hand

    def _locked(self) -> SessionLock:
        if self._lock is None:
            self._lock = SessionLock()
        return self._lock

    # ---------------------------------------------------------------- lifecycle
    # A session is *new* until Connect, then *connected*, then *closed* when its socket
    # ends: the client left, a message broke the protocol (FatalError), an Authenticate
    # failed (AuthError), or one of its tasks failed. Its tasks (receive loop, mutation
    # worker, pusher, pinger, actions) are one group: the first failure ends them all
    # (``serve``). While connected, the client's version (querySet, identity, ts) only
    # grows: ModifyQuerySet adds one to querySet, Authenticate one to identity, and each
    # Transition moves ts to where all of the client's queries have results.
    # ``check_invariants`` tests what must hold between steps.
    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> None:
        """Run ``coro`` in this socket's task group: if it fails, the socket closes."""
        task = asyncio.get_running_loop().create_task(coro, name=f"sync {name}")
        if self._tasks is None:
            self._tasks = set()
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        if self._tasks is not None:
            self._tasks.discard(task)
        if task.cancelled():
            return
        error = task.exception()
        if error is not None:
            self.fail(error)

    async def serve(self, receive_loop: Coroutine[Any, Any, None]) -> None:
        """Run the socket's receive loop beside this session's tasks, as one group (as
        Convex's sync socket joins its futures): it returns when the loop does (the
        client left) and raises the first failure of any of them, which ends the rest;
        the shell then closes the socket with that failure as the reason.

        The loop runs in the caller's task, not a task of its own, and a failure
        elsewhere cancels that task (``fail``): no second task, context, waiter future
        and callbacks per idle connection. The WebSocket shell runs its loop inline,
        between :meth:`begin_serving` and :meth:`end_serving` as here, which saves
        this coroutine's frame and the loop's for every idle connection."""
        try:
            self.begin_serving()
        except BaseException:
            receive_loop.close()
            raise
        try:
            await receive_loop
        except BaseException as e:
            self.end_serving(e)
            raise
        self.end_serving()

    def begin_serving(self) -> None:
        """The calling task runs the receive loop from now on (a failure of one of the
        session's tasks cancels it); raises the failure that came first, if one did."""
        if self._failure is not None:
            raise self._failure
        self._serving = asyncio.current_task()

    def end_serving(self, error: BaseException | None = None) -> None:
        """The receive loop returned (the client left) or raised ``error``: raise what
        the socket closes with. That is the session's first failure, if there is one
        and the loop returned or was cancelled for it (the cancellation is taken back);
        else ``error`` (a cancellation from outside, or the loop's own failure)."""
        task, self._serving = self._serving, None
        if self._failure is not None and (
            error is None or isinstance(error, asyncio.CancelledError)
        ):
            if error is not None and task is not None:
                task.uncancel()
            raise self._failure
        if error is not None:
            raise error

    async def close(self) -> None:
        self._closed = True
        tasks = list(self._tasks or ())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for query in self.queries.values():
            self.manager.unsubscribe(query.sub, self._watcher)
        self.queries.clear()
        self._held = _NONE_HELD

    def send(self, message: wire.ServerMessage, *, more: bool = False) -> Awaitable[None] | None:
        """The shell's send of ``message``: None when it is written already (the common
        case: no coroutine to make and await per frame), else what to await until it
        is. (Returned, not awaited here: no coroutine of this method per message.)"""
        self.last_send = time.monotonic()
        return self._send(message, more)

    def _origin(self, token: str | None) -> RequestOrigin | None:
        """The connection's origin with ``token`` (the token a request arrived with):
        kept as the session's, so a token that did not change since the last request
        makes no new ``RequestOrigin``."""
        origin = self.origin
        if origin is None or origin.auth_token == token:
            return origin
        origin = self.origin = origin.with_token(token)
        return origin

    # ----------------------------------------------------------------- messages
    def take_text(self, text: str) -> bool:
        """A Mutation message, taken as it is parsed (not through the receive loop) when
        that changes nothing: the receive loop is waiting with nothing in hand (so every
        earlier message, an Authenticate included, is fully handled) and few mutations
        are queued (beyond that, the receive path's flow control applies). Anything else
        is declined and goes the usual way."""
        mutations = self._mutations
        if (
            not self.receiving
            or not self.connected
            or self._closed
            or (mutations is not None and mutations.qsize() >= MAX_TAKEN_MUTATIONS)
            or '"Mutation"' not in text
        ):
            return False
        msg = parse_mutation(text)
        if msg is None:
            return False  # not a plain Mutation: the receive loop reads (or reports) it
        queued: QueuedMutation = (msg, self._caller)
        if mutations is None:
            mutations = self._worker_needed()
        mutations.put_nowait(queued)
        return True

    def _worker_needed(self) -> MutationQueue[QueuedMutation]:
        if self._mutations is None:
            self._mutations = MutationQueue(MAX_QUEUED_MUTATIONS)
            self.spawn(self._mutation_worker(self._mutations), "mutations")
        return self._mutations

    async def handle(self, msg: wire.ClientMessage) -> None:
        if msg["type"] == "Connect":
            self.session_id = msg["sessionId"]
            # A first connection (count 0) has sent nothing before: no resends to look up.
            self._resumed = bool(msg.get("connectionCount"))
            self.connected = True
            client_ts = msg.get("clientTs")
            if client_ts and not 0 < client_ts < MAX_CLIENT_TS_MS:  # NaN fails this too
                raise ProtocolError(
                    f"Connect: clientTs must be the client's clock in milliseconds since "
                    f"the epoch, got {client_ts!r}"
                )
            if client_ts:
                self._clock_skew = int(client_ts - time.time() * 1000)
            return
        if not self.connected:
            raise ProtocolError(f"{msg['type']} before Connect")
        if msg["type"] == "ModifyQuerySet":
            await self._modify_query_set(msg)
        elif msg["type"] == "Mutation":
            await self._worker_needed().put((msg, self._caller))
        elif msg["type"] == "Action":
            if self._action_slots is None:
                self._action_slots = asyncio.Semaphore(MAX_ACTIONS_IN_FLIGHT)
            await self._action_slots.acquire()
            self.spawn(self._action(msg), "action")
        elif msg["type"] == "Authenticate":
            await self._authenticate(msg)
        # Event: telemetry, ignored.

    async def _modify_query_set(self, msg: wire.ModifyQuerySet) -> None:
        if msg["baseVersion"] != self.query_set_version:
            raise ProtocolError(
                f"BaseVersionMismatch: ModifyQuerySet baseVersion {msg['baseVersion']} but "
                f"the server is at {self.query_set_version}"
            )
        if msg["newVersion"] != msg["baseVersion"] + 1:
            raise ProtocolError("ModifyQuerySet newVersion must be baseVersion + 1")
        added: list[tuple[int, wire.AddQuery]] = []
        seen: set[int] = set()
        for mod in msg["modifications"]:
            qid = mod["queryId"]
            if mod["type"] == "Add":
                if qid in self.queries or qid in seen:
                    raise ProtocolError(f"query {qid} is already in the query set")
                seen.add(qid)
                added.append((qid, mod))
            else:
                if qid not in self.queries and qid not in seen:
                    raise ProtocolError(f"query {qid} is not in the query set")
                if qid in seen:
                    added = [(q, m) for q, m in added if q != qid]
                    seen.discard(qid)
                else:
                    self.manager.unsubscribe(self.queries.pop(qid).sub, self._watcher)
                if self._removed is _NONE_REMOVED:
                    self._removed = []
                self._removed.append(qid)
        if len(self.queries) + len(added) > MAX_QUERIES_PER_SOCKET:
            raise ProtocolError(
                f"TooManyQueries: a connection may hold at most {MAX_QUERIES_PER_SOCKET} "
                f"queries; this ModifyQuerySet would make {len(self.queries) + len(added)}."
            )
        if added:
            await self._catch_up_to_head()
        subs = await asyncio.gather(
            *(self._subscribe(mod["udfPath"], mod["args"], mod.get("journal")) for _, mod in added)
        )
        for (qid, mod), sub in zip(added, subs, strict=True):
            # The shared subscription's path and arguments, equal to this client's (they
            # are its key): the client's own copies are not kept for the query's life.
            self.queries[qid] = ClientQuery(sub.path, sub.args, sub, journal=mod.get("journal"))
        self.query_set_version = msg["newVersion"]
        await self.send_transition(force=True)

    async def _catch_up_to_head(self) -> None:
        """New queries' first results include every commit acknowledged before they were
        asked for, by any process sharing the database (``Database.catch_up_to_head``:
        nothing to do with one process)."""
        db = self.manager.db
        before = db.latest_ts
        await db.catch_up_to_head()
        if db.latest_ts > before:
            await self.manager.wait_for(db.latest_ts)

    async def _subscribe(
        self, path: str, args: dict[str, Any], journal: str | None = None
    ) -> Subscription:
        return await self.manager.subscribe(
            path, args, self.identity, journal, self._watcher, internal_ok=self.is_admin
        )

    async def _authenticate(self, msg: wire.Authenticate) -> None:
        if msg["baseVersion"] != self.identity_version:
            raise ProtocolError(
                f"Authenticate baseVersion {msg['baseVersion']} but the server is at "
                f"{self.identity_version}"
            )
        try:
            identity, admin, token, expires_at = await credentials_of(
                msg, self._admin_key, self._verify_token
            )
        except AuthError as e:
            await self.sent(auth_error(e.message, msg["baseVersion"], attempted=True))
            raise CloseAfterAuthError(e.message) from None
        self.identity, self.is_admin, self.token = identity, admin, token
        self.identity_version += 1
        self.expires_at = expires_at
        self._caller = self._caller_now()
        if expires_at is not None:
            self.spawn(self._expire(self.identity_version, expires_at), "token expiry")
        # Queries run per identity: move every query to the new identity's subscription.
        old = list(self.queries.items())
        subs = await asyncio.gather(
            *(self._subscribe(q.path, q.args, q.sub.journal) for _, q in old)  # pages stay put
        )
        for (_, query), sub in zip(old, subs, strict=True):
            self.manager.unsubscribe(query.sub, self._watcher)
            query.sub = sub
            query.sent = None
        await self.send_transition(force=True)

    def _caller_now(self) -> Caller:
        """Who a mutation arriving now runs as (``session_calls.Caller``)."""
        return Caller(self.identity, self.is_admin, self.expires_at,
                      identity_binding(self.identity, self.is_admin), self._origin(self.token))

    async def _expire(self, version: int, expires_at: float) -> None:
        """When the token of identity ``version`` runs out (and no Authenticate replaced
        it): AuthError, which the clients answer with a fresh token, and the socket
        closes, ending its live queries under the expired identity."""
        await asyncio.sleep(max(0.0, expires_at - time.time()))
        if self.identity_version != version:
            return
        async with self._locked():
            await self.sent(auth_error(TOKEN_EXPIRED, version - 1, attempted=False))
        raise CloseAfterAuthError(TOKEN_EXPIRED)

    # -------------------------------------------------------------- transitions
    def _on_result(self, sub: Subscription) -> None:
        """One of this client's subscriptions has a new result (called by the manager)."""
        if self._progress is not None:
            self._progress.set()
        if self._send_frame is not None:
            fanout_of(asyncio.get_running_loop()).note(self)
        else:
            self.defer_push()

    async def _pusher(self, dirty: asyncio.Event) -> None:
        while True:
            await dirty.wait()
            dirty.clear()
            await self.send_transition(bare=False)

    def _basis(self) -> tuple[int, int, int]:
        return (self.current["ts"], self.query_set_version, self.identity_version)

    async def send_transition(self, *, force: bool = False, bare: bool = True) -> None:
        """Move the client to the newest timestamp at which all of its queries have a
        result (``transitions.py``), first fetching the results it lacks there. Send
        nothing if that changes nothing, unless ``force``; nor if it only moves the
        timestamp, unless ``bare`` (a mutation's confirmation needs that move; a new
        result elsewhere in the client's set does not)."""
        while True:
            async with self._locked():
                if self._closed:
                    return
                step = plan(self.queries, self.current["ts"], self.manager.processed_ts, self._held)
                if not step.missing:
                    await self._send_transition(step, force, bare)
                    return
                basis = self._basis()
            found = await asyncio.gather(
                *(self.manager.outcome_at(sub, step.ts) for _, sub in step.missing)
            )
            async with self._locked():
                if self._closed:
                    return
                if self._held is _NONE_HELD:
                    self._held = {}
                for (qid, sub), outcome in zip(step.missing, found, strict=True):
                    self._held[sub] = outcome
                    step.chosen[qid] = outcome
                # The other results chosen still hold at step.ts: a result's range only
                # ever ends after the newest commit taken in when it was chosen.
                if self._basis() == basis:
                    await self._send_transition(step, force, bare)
                    return
            # A transition or a query set change came first: plan again.

    async def _send_transition(self, step: Plan, force: bool, bare: bool) -> None:
        transition = self._next_transition(step, force, bare)
        if transition is not None:
            self._moved(step, transition["endVersion"])
            sending = self.send(transition)
            if sending is not None:
                await sending

    def _next_transition(self, step: Plan, force: bool, bare: bool) -> wire.Transition | None:
        """The Transition to ``step`` (None: nothing to send); changes no state."""
        end: wire.StateVersion = {"querySet": self.query_set_version,
                                  "identity": self.identity_version, "ts": step.ts}
        return transition_message(self.queries, step.chosen, self._removed, self.current,
                                  end, self._clock_skew, send_bare=bare, force=force)

    def _moved(self, step: Plan, end: wire.StateVersion) -> None:
        """The client is sent the Transition to ``end``: it now has the results of
        ``step``."""
        if self._removed:
            self._removed = _NONE_REMOVED
        oldest = 0  # the invalidating commit of the oldest result replaced (0: none)
        for qid, query in self.queries.items():
            sent, new = query.sent, step.chosen[qid]
            if sent is not new and sent is not None and sent.stale_at is not None \
                    and (not oldest or sent.stale_at < oldest):
                oldest = sent.stale_at
            query.sent = new
        if oldest:
            self.manager.transition_latency.add(time.time_ns() - oldest)
        self.current = end
        if self._held:
            self._held = _NONE_HELD
        self._transitions_sent += 1

    def _confirmation(self, ts: int | None) -> wire.Transition | None:
        """The Transition confirming a mutation committed at ``ts`` (None: it failed),
        for the caller to send at once under the lock that sent its response, when it
        can go at once: the commit is taken in (the manager's listener runs as it is
        published, so it usually is) and every query of the client has a result at or
        past ``ts`` (a client with no queries always has). Then it is exactly the one
        the general path would send (its ``_reach`` and forced Transition), without the
        second lock, the wait and the progress event, and the session has moved to its
        end. None: nothing changed, the general path follows. (Not a coroutine: it
        awaits nothing.)"""
        newest = self.manager.processed_ts
        if self._closed or (ts is not None and newest < ts):
            return None
        current = self.current
        if not self.queries and not self._removed and not self._held:
            # No queries: a version move to the newest commit, as ``plan`` finds it,
            # and nothing to record of results (``_moved``).
            end: wire.StateVersion = {
                "querySet": self.query_set_version, "identity": self.identity_version,
                "ts": newest if newest > current["ts"] else current["ts"],
            }
            self.current = end
            self._transitions_sent += 1
            return transition_of(current, end, [], self._clock_skew)
        step = plan(self.queries, current["ts"], newest, self._held)
        if step.missing or (ts is not None and step.ts < ts):
            return None
        transition = self._next_transition(step, True, True)
        assert transition is not None  # (forced: never None)
        self._moved(step, transition["endVersion"])
        return transition

    # ------------------------------------------------------- fan-out (fanout.py)
    def push_now(self, fanout: FanOut) -> bool:
        """What the pusher would send now, sent without a task switch (True), or False
        when that must wait for the pusher: the lock is held, a result is missing, or
        the socket cannot take the frame at once (then nothing changed)."""
        if self._closed or self._send_frame is None or (
                self._lock is not None and self._lock.locked()):
            return False
        step = plan(self.queries, self.current["ts"], self.manager.processed_ts, self._held)
        if step.missing:
            return False
        end: wire.StateVersion = {"querySet": self.query_set_version,
                                  "identity": self.identity_version, "ts": step.ts}
        found = fanout.transition(self.queries, step.chosen, self._removed, self.current,
                                  end, self._clock_skew)
        if found is None:
            return True  # no result changed for this client: nothing to send
        data, end = found
        if not self._send_frame(data):
            return False
        self._moved(step, end)
        self.last_send = time.monotonic()
        return True

    def defer_push(self) -> None:
        if self._dirty is None:
            if self._closed:
                return
            self._dirty = asyncio.Event()
            self.spawn(self._pusher(self._dirty), "pusher")
        self._dirty.set()

    def fail(self, error: BaseException) -> None:
        """End the session with ``error``, as a failure of one of its tasks does: the
        first failure is kept, and the task serving the receive loop is cancelled (its
        ``serve`` then raises the failure)."""
        if self._failure is None:
            self._failure = error
            if self._serving is not None:
                self._serving.cancel()

    async def _reach(self, ts: int) -> None:
        """Until this client's transitions reach ``ts`` (a mutation's commit): its own
        invalidated queries have re-run, whatever other clients' queries are doing."""
        while self.current["ts"] < ts and not self._closed:
            if self._progress is None:
                self._progress = asyncio.Event()
            self._progress.clear()
            await self.send_transition()
            if self.current["ts"] >= ts:
                return
            await self._progress.wait()

    def check_invariants(self) -> None:
        """Raise :class:`SessionInvariantError` naming each rule this session breaks
        (for tests, between steps; see the lifecycle comment above ``spawn``)."""
        problems = session_problems(self)
        if problems:
            raise SessionInvariantError("; ".join(problems))
