"""Fan-out: the Transitions one commit causes, sent in one pass with shared frames.

When a re-run gives a shared subscription a new result, every session holding it has a
Transition to send. Each session could wake its own pusher task, plan, build the message
and encode it: per subscriber a task switch, a lock, a message of dicts and a JSON
encoding, though most of them send the same bytes (same query set and identity
versions, same timestamps, same result). Instead the manager's watcher notes the
session here (:meth:`FanOut.note`), and once per loop step :meth:`FanOut._run` moves
each noted session in turn (:meth:`SyncSession.push_now`): the same plan and the same
state changes as its pusher would make, with no await between planning and writing,
which is what the session's lock guarantees on the task path. A session that cannot go
at once (its lock is held, a result it needs is not there yet, its socket cannot take a
frame now) is left to its pusher task, as before.

Frames are shared through :meth:`FanOut.transition`: a Transition's bytes are a function
of its start and end versions, the results it carries (their digests), the queries it
removes and the client's clock skew (``transitions.pass_key``), except ``serverTs``,
which is the time of the pass (the first session's). A session whose key another one of
the pass already built sends that frame without building the message. The cache lives
for one pass.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar

from pyconvex.protocol.messages import StateVersion
from pyconvex.protocol.server_codec import encode_server_frame
from pyconvex.sync.subscriptions import Outcome
from pyconvex.sync.transitions import ClientQuery, pass_key, transition_message

FrameKey = tuple[Any, ...]
T = TypeVar("T")


class Pushable(Protocol):
    """What the fan-out needs of a session (``SyncSession``)."""

    fanout_noted: bool

    def push_now(self, fanout: FanOut) -> bool: ...

    def defer_push(self) -> None: ...

    def fail(self, error: BaseException) -> None: ...


class FanOut:
    """One per event loop: the sessions with a Transition to send, moved together."""

    __slots__ = ("_loop", "_pending", "_sent", "passes", "pushed", "shared")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._pending: list[Pushable] = []
        self._sent: dict[FrameKey, tuple[bytes, StateVersion]] = {}
        self.passes = 0
        self.pushed = 0
        """Sessions moved in a pass (not left to their pusher)."""
        self.shared = 0
        """Frames reused from another session of the same pass."""

    def note(self, session: Pushable) -> None:
        if session.fanout_noted:
            return
        session.fanout_noted = True
        if not self._pending:
            self._loop.call_soon(self._run)
        self._pending.append(session)

    def transition(
        self,
        queries: dict[int, ClientQuery],
        chosen: dict[int, Outcome],
        removed: list[int],
        current: StateVersion,
        end: StateVersion,
        clock_skew: int | None,
    ) -> tuple[bytes, StateVersion] | None:
        """The frame of a session's Transition from ``current`` to ``end`` with the
        ``chosen`` results and the ``removed`` queries, and the end version to record;
        None when no result changed for it (a pass sends no bare timestamp move).

        Most sessions of a pass send a frame another one built: found by its
        :func:`pass_key`, the message is neither built nor encoded again, and the
        sessions share its end version (a session replaces its ``current`` version,
        never changes it in place)."""
        key = pass_key(queries, chosen, removed, current, end, clock_skew)
        if key is None:
            return None
        found = self._sent.get(key)
        if found is not None:
            self.shared += 1
            return found
        message = transition_message(queries, chosen, removed, current, end, clock_skew,
                                     send_bare=False, force=False)
        assert message is not None  # a key names at least one modification
        found = self._sent[key] = (encode_server_frame(message), message["endVersion"])
        return found

    def _run(self) -> None:
        pending, self._pending = self._pending, []
        self.passes += 1
        try:
            for session in pending:
                session.fanout_noted = False
                try:
                    moved = session.push_now(self)
                except Exception as e:  # a bug: end that session, as a failed task would
                    session.fail(e)
                    continue
                if moved:
                    self.pushed += 1
                else:
                    session.defer_push()
        finally:
            self._sent.clear()


class PerLoop(Generic[T]):
    """One ``T`` per event loop, made on first use and forgotten with its loop (the
    fan-out pass, the server's flusher and its pinger each keep one)."""

    __slots__ = ("_make", "_of")

    def __init__(self, make: Callable[[asyncio.AbstractEventLoop], T]) -> None:
        self._make = make
        self._of: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, T] = (
            weakref.WeakKeyDictionary()
        )

    def get(self, loop: asyncio.AbstractEventLoop) -> T:
        found = self._of.get(loop)
        if found is None:
            found = self._of[loop] = self._make(loop)
        return found

    def values(self) -> list[T]:
        return list(self._of.values())


_FANOUTS: PerLoop[FanOut] = PerLoop(FanOut)
fanout_of = _FANOUTS.get


SendFrame = Callable[[bytes], bool]
"""Write one encoded frame at once if the socket can take it now (True), else nothing
(False): the shell's synchronous send."""
