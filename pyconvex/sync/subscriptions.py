"""Live queries: shared subscriptions, precise invalidation, one timestamp for all.

- A subscription is ``(path, args, identity)``. Identical subscriptions from any number
  of clients share one run and one serialised result (``value_json``).
- After commits, the manager finds the subscriptions whose read sets contain a written
  key through an interval index per index id (``IntervalIndex``) — never by scanning
  all subscriptions — re-runs only those, once each, at the newest timestamp, and only
  then publishes: ``current_ts`` advances and every subscription is valid at it. So a
  client that reads its queries' results at ``current_ts`` never sees a mix of before
  and after a commit.
- A result that did not change (same hash of value and log lines) keeps its version, so
  sessions send nothing for it but the timestamp advance.
"""

from __future__ import annotations

import asyncio
import hashlib
import heapq
import logging
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from pyconvex.database import Committed, Database, ReadSet
from pyconvex.errors import ConvexError
from pyconvex.functions import FunctionRunner, canonicalize_path
from pyconvex.values import convex_to_json

log = logging.getLogger("pyconvex.sync")

_TOP = b"\xff" * 32  # above every key: stands for an unbounded interval end

ErrorFormatter = Callable[[BaseException], tuple[str, Any, bool]]
"""Turns a function error into ``(message, errorData, has_error_data)`` for the wire."""


@dataclass(eq=False)
class Subscription:
    key: tuple[str, bytes, str]
    path: str
    args: dict[str, Any]
    identity: dict[str, Any] | None
    ts: int = 0
    reads: ReadSet | None = None
    version: int = 0
    digest: bytes = b""
    value_json: Any = None
    value_fragment: Any = None
    """``value_json`` serialised once (an ``orjson.Fragment``): every session that sends
    this result splices the same bytes instead of encoding the value again."""
    log_lines: list[str] = field(default_factory=list)
    error: tuple[str, Any, bool] | None = None
    refs: int = 0
    ready: bool = False
    """Valid at the manager's ``current_ts`` and indexed (set once, on first subscribe)."""
    journal: str | None = None
    """The query journal every run is given and the last run produced: a paginated
    query's page end, so re-runs keep the page's range (sent as ``QueryUpdated.journal``)."""


class IntervalIndex:
    """Stabbing queries over read intervals of one index: which subscriptions contain a key.

    Intervals sorted by start with a running maximum of ends: walking left from the
    last start <= key stops as soon as no earlier interval can reach the key.
    """

    def __init__(self) -> None:
        self._items: list[tuple[bytes, bytes, Subscription]] = []
        self._los: list[bytes] = []
        self._max_hi: list[bytes] = []
        self._dirty = False

    def add(self, lo: bytes, hi: bytes | None, sub: Subscription) -> None:
        self._items.append((lo, hi if hi is not None else _TOP, sub))
        self._dirty = True

    def remove(self, sub: Subscription) -> None:
        self._items = [item for item in self._items if item[2] is not sub]
        self._dirty = True

    def __len__(self) -> int:
        return len(self._items)

    def _build(self) -> None:
        self._items.sort(key=lambda item: item[0])
        self._los = [item[0] for item in self._items]
        running = b""
        self._max_hi = []
        for _, hi, _ in self._items:
            running = max(running, hi)
            self._max_hi.append(running)
        self._dirty = False

    def stab(self, key: bytes, out: set[Subscription]) -> None:
        if self._dirty:
            self._build()
        i = bisect_right(self._los, key) - 1
        items, max_hi = self._items, self._max_hi
        while i >= 0 and max_hi[i] > key:
            _, hi, sub = items[i]
            if key < hi:
                out.add(sub)
            i -= 1


@dataclass(frozen=True, slots=True)
class _Outcome:
    ts: int
    reads: ReadSet
    digest: bytes
    value_json: Any
    log_lines: list[str]
    error: tuple[str, Any, bool] | None
    fragment: Any
    journal: str | None = None


def _identity_key(identity: dict[str, Any] | None) -> str:
    if identity is None:
        return ""
    token = identity.get("tokenIdentifier")
    return str(token) if token is not None else orjson.dumps(identity, option=orjson.OPT_SORT_KEYS).decode()


class SubscriptionManager:
    """Owns every live subscription of one deployment. One per process."""

    def __init__(self, db: Database, runner: FunctionRunner, format_error: ErrorFormatter) -> None:
        self.db = db
        self.runner = runner
        self.format_error = format_error
        self.current_ts = db.latest_ts
        self.subscriptions: dict[tuple[str, bytes, str], Subscription] = {}
        self._index: dict[int, IntervalIndex] = {}
        self._pending: list[Committed] = []
        self._wake = asyncio.Event()
        self._listeners: list[Callable[[int, set[Subscription]], None]] = []
        self._task: asyncio.Task[None] | None = None
        self._remove_listener = db.add_listener(self._on_commit)
        self._advanced = asyncio.Condition()
        self._rerun_all = False
        self._ts_waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._waiter_seq = 0
        self.reruns = 0

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="subscriptions")

    async def stop(self) -> None:
        self._remove_listener()
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    def add_listener(self, fn: Callable[[int, set[Subscription]], None]) -> Callable[[], None]:
        """``fn(ts, changed)`` after each published advance."""
        self._listeners.append(fn)
        return lambda: self._listeners.remove(fn)

    # ------------------------------------------------------------ subscribing
    def key_of(
        self,
        path: str,
        args: dict[str, Any],
        identity: dict[str, Any] | None,
        journal: str | None = None,
    ) -> tuple[str, bytes, str]:
        """The sharing key. A client's journal (``Add.journal`` after a reconnect) pins
        a page, so it is part of the key, after the arguments' JSON and a NUL (which JSON
        text never holds)."""
        args_json = orjson.dumps(convex_to_json(args), option=orjson.OPT_SORT_KEYS)
        if journal is not None:
            args_json += b"\0" + journal.encode()
        return (canonicalize_path(path), args_json, _identity_key(identity))

    async def subscribe(
        self,
        path: str,
        args: dict[str, Any],
        identity: dict[str, Any] | None,
        journal: str | None = None,
    ) -> Subscription:
        """The shared subscription, valid at ``current_ts`` when this returns."""
        key = self.key_of(path, args, identity, journal)
        sub = self.subscriptions.get(key)
        if sub is None:
            sub = Subscription(key, key[0], args, identity, journal=journal)
            self.subscriptions[key] = sub
            sub.refs += 1
            try:
                await self._bring_current(sub)
            except BaseException:
                self._release(sub)
                raise
            return sub
        sub.refs += 1
        if not sub.ready:  # another caller is still bringing it up to date
            async with self._advanced:
                await self._advanced.wait_for(lambda: sub.ready)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._release(sub)

    def _release(self, sub: Subscription) -> None:
        sub.refs -= 1
        if sub.refs <= 0 and self.subscriptions.get(sub.key) is sub:
            del self.subscriptions[sub.key]
            self._unindex(sub)

    async def _bring_current(self, sub: Subscription) -> None:
        """Run at ``current_ts``; if commits landed meanwhile that touch it, run again."""
        while True:
            ts = self.current_ts
            await self._execute(sub, ts)
            if self.current_ts == ts:
                break
            assert self.db.write_log is not None
            entries = self.db.write_log.entries_after(ts)
            if sub.reads is not None and not any(
                e.ts <= self.current_ts and sub.reads.overlaps(e.written) for e in entries
            ):
                sub.ts = self.current_ts
                break
        self._index_sub(sub)
        sub.ready = True
        async with self._advanced:
            self._advanced.notify_all()

    async def _execute(self, sub: Subscription, ts: int) -> bool:
        """Run the query at ``ts`` and apply the outcome; True if its result changed."""
        return self._apply(sub, await self._run_query(sub, ts))

    async def _run_query(self, sub: Subscription, ts: int) -> _Outcome:
        self.reruns += 1
        try:
            result = await self.runner.run_query(
                sub.path, sub.args, sub.identity, ts=ts, journal=sub.journal
            )
        except Exception as e:  # a failing query is a result too (QueryFailed)
            lines = list(getattr(e, "log_lines", []))
            error = self.format_error(e)
            digest = hashlib.blake2b(
                orjson.dumps([error[0], lines, repr(error[1])]), digest_size=16
            ).digest()
            reads = getattr(e, "reads", None) or ReadSet()
            return _Outcome(ts, reads, digest, None, lines, error, None, sub.journal)
        value_json = convex_to_json(result.value)
        encoded = orjson.dumps(value_json)
        digest = hashlib.blake2b(
            encoded + orjson.dumps([result.log_lines, result.journal]), digest_size=16
        ).digest()
        assert result.reads is not None
        return _Outcome(
            ts, result.reads, digest, value_json, result.log_lines, None,
            orjson.Fragment(encoded), result.journal,
        )

    @staticmethod
    def _apply(sub: Subscription, outcome: _Outcome) -> bool:
        sub.ts = outcome.ts
        sub.reads = outcome.reads
        sub.journal = outcome.journal
        changed = outcome.digest != sub.digest
        if changed:
            sub.error = outcome.error
            sub.value_json = outcome.value_json
            sub.value_fragment = outcome.fragment
            sub.log_lines = outcome.log_lines
            sub.digest = outcome.digest
            sub.version += 1
        return changed

    def _index_sub(self, sub: Subscription) -> None:
        self._unindex(sub)
        if sub.reads is None:
            return
        for index_id, interval in sub.reads.items():
            index = self._index.get(index_id)
            if index is None:
                index = self._index[index_id] = IntervalIndex()
            index.add(interval.lo, interval.hi, sub)

    def _unindex(self, sub: Subscription) -> None:
        if sub.reads is None:
            return
        for index_id in set(sub.reads.index_ids()):
            index = self._index.get(index_id)
            if index is not None:
                index.remove(sub)
                if not len(index):
                    del self._index[index_id]

    # --------------------------------------------------------------- commits
    def _on_commit(self, committed: list[Committed]) -> None:
        self._pending.extend(committed)
        self._wake.set()

    def invalidate_all(self) -> None:
        """New code or environment: every subscription re-runs, as one transition."""
        self._rerun_all = True
        self._wake.set()

    def affected_by(self, committed: list[Committed]) -> set[Subscription]:
        hit: set[Subscription] = set()
        index = self._index
        for item in committed:
            for index_id, key in item.request.written:
                intervals = index.get(index_id)
                if intervals is not None:
                    intervals.stab(key, hit)
        return hit

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            committed, self._pending = self._pending, []
            rerun_all, self._rerun_all = self._rerun_all, False
            if not committed and not rerun_all:
                continue
            try:
                await self._advance(committed, rerun_all)
            except Exception:  # never let one bad round stop reactivity
                log.exception("subscription update failed")

    async def _advance(self, committed: list[Committed], rerun_all: bool = False) -> None:
        ts = committed[-1].ts if committed else self.current_ts
        outcomes: dict[Subscription, _Outcome] = {}
        # Subscriptions created while this round awaits its re-runs are indexed with an
        # older result; look again after every await until none is left behind.
        while True:
            candidates = (
                set(self.subscriptions.values()) if rerun_all else self.affected_by(committed)
            )
            stale = [
                s
                for s in candidates
                if s not in outcomes
                and (s.ts < ts or rerun_all)
                and self.subscriptions.get(s.key) is s
            ]
            if not stale:
                break
            results = await asyncio.gather(*(self._run_query(s, ts) for s in stale))
            outcomes.update(zip(stale, results, strict=True))
        # Applied together with the timestamp below, with no await in between, so
        # nobody can observe some results at ts and others still at the old one.
        changed: set[Subscription] = set()
        for sub, outcome in outcomes.items():
            self._unindex(sub)
            if self._apply(sub, outcome):
                changed.add(sub)
            self._index_sub(sub)
        # Everything not re-run read nothing that changed: it is valid at ts too.
        self.current_ts = max(self.current_ts, ts)
        for listener in list(self._listeners):
            listener(self.current_ts, changed)
        waiters = self._ts_waiters
        while waiters and waiters[0][0] <= self.current_ts:
            fut = heapq.heappop(waiters)[2]
            if not fut.done():
                fut.set_result(None)
        async with self._advanced:
            self._advanced.notify_all()

    async def wait_for(self, ts: int) -> None:
        """Return once ``current_ts >= ts`` (e.g. a mutation's commit timestamp).

        One future per waiter in a heap by timestamp: an advance wakes exactly the
        waiters it satisfies (a Condition would wake them all to re-check).
        """
        if self.current_ts >= ts:
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiter_seq += 1
        heapq.heappush(self._ts_waiters, (ts, self._waiter_seq, fut))
        await fut


def error_data_of(e: BaseException) -> tuple[Any, bool]:
    if isinstance(e, ConvexError):
        return e.data, True
    return None, False
