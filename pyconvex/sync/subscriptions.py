"""Live queries: shared subscriptions whose results each hold for a range of timestamps.

- A subscription is ``(path, args, identity)`` (plus the journal a paginated query was
  added with). Identical subscriptions from any number of clients share one run and one
  serialised result.
- A run's result (:class:`Outcome`) holds from the snapshot it read (``ts``) up to just
  before the first commit that wrote a key inside its read set (``stale_at``), or, while
  no such commit is known, up to the newest commit the manager has taken in
  (``processed_ts``).
- A commit is taken in synchronously as it is published: an interval index per index id
  (``interval_index.py``) finds the subscriptions whose current result it makes stale,
  and one re-run of each starts at the new timestamp. Nothing waits for re-runs to
  finish: a finished run becomes its subscription's result and calls the subscription's
  watchers (the sessions that hold it), and each session moves its client to a timestamp
  at which all of *its* queries have a result (``transitions.py``). So a slow query
  delays only the clients subscribed to it.
- A commit costs what it touches: the index walk for the keys it wrote and the watchers
  of the subscriptions it invalidates; never a pass over all subscriptions or sessions.
- A result that did not change (same hash of value, log lines and journal) keeps the
  subscription's ``version``: sessions send nothing for it but the timestamp advance.
"""

from __future__ import annotations

import asyncio
import hashlib
import heapq
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from pyconvex.database import Committed, Database, ReadSet
from pyconvex.functions import FunctionRunner, canonicalize_path, failure_of
from pyconvex.sync.errors import ErrorReply
from pyconvex.sync.interval_index import IntervalIndex
from pyconvex.sync.latency import TRANSITION_BUCKETS_S, LatencyHistogram
from pyconvex.values import convex_to_json

log = logging.getLogger("pyconvex.sync")

ErrorFormatter = Callable[[BaseException], ErrorReply]
"""Turns a function error into ``(message, errorData, has_error_data)`` for the wire."""

Watcher = Callable[["Subscription"], None]
"""Called (synchronously, so it must only take note) when a subscription has a new result."""

Signature = tuple[tuple[int, bytes, bytes | None], ...]


class Outcome:
    """One run of a subscription's query at one timestamp, and how long it holds."""

    __slots__ = ("digest", "error", "fragment", "journal", "log_lines", "reads", "stale_at",
                 "ts", "value_json")

    def __init__(
        self,
        ts: int,
        reads: ReadSet,
        digest: bytes,
        *,
        value_json: Any = None,
        fragment: Any = None,
        log_lines: list[str] | None = None,
        error: ErrorReply | None = None,
        journal: str | None = None,
    ) -> None:
        self.ts = ts
        self.reads = reads
        self.digest = digest
        self.value_json = value_json
        self.fragment = fragment
        """``value_json`` serialised once (an ``orjson.Fragment``): every session that
        sends this result splices the same bytes instead of encoding the value again."""
        self.log_lines = log_lines if log_lines is not None else []
        self.error = error
        self.journal = journal
        self.stale_at: int | None = None
        """The first commit known to change this result (None: none up to the newest)."""

    def valid_through(self, newest: int) -> int:
        return newest if self.stale_at is None else self.stale_at - 1

    def covers(self, ts: int, newest: int) -> bool:
        """Whether this is the query's result at ``ts`` (``newest``: the manager's
        ``processed_ts``)."""
        return self.ts <= ts <= self.valid_through(newest)


@dataclass(eq=False)
class Subscription:
    key: tuple[str, bytes, str]
    path: str
    args: dict[str, Any]
    identity: dict[str, Any] | None
    journal: str | None = None
    """The query journal every run is given and the last run produced: a paginated
    query's page end, so re-runs keep the page's range (sent as ``QueryUpdated.journal``)."""
    internal_ok: bool = False
    """An admin's subscription (it may run internal queries, as Convex's dashboard
    does); never shared with anyone else's."""
    outcome: Outcome | None = None
    """The newest finished run (None until the first one finishes)."""
    version: int = 0
    """Bumped whenever ``outcome`` changes to a different result."""
    refs: int = 0
    watchers: dict[Watcher, int] = field(default_factory=dict)
    runs: dict[int, asyncio.Task[Outcome]] = field(default_factory=dict)
    """Runs in flight, by the timestamp they read at (shared by whoever needs that one)."""
    indexed: Signature = ()
    """The read intervals this subscription is filed under in the manager's indexes."""

    @property
    def value_json(self) -> Any:
        return self.outcome.value_json if self.outcome is not None else None

    @property
    def error(self) -> ErrorReply | None:
        return self.outcome.error if self.outcome is not None else None


def _identity_key(identity: dict[str, Any] | None) -> str:
    """Every claim, not just who: two tokens of one user may differ in a claim a query
    reads (a role), so only identical identities share a run (as in Convex)."""
    if identity is None:
        return ""
    return orjson.dumps(identity, option=orjson.OPT_SORT_KEYS, default=str).decode()


def _signature(reads: ReadSet) -> Signature:
    return tuple((index_id, i.lo, i.hi) for index_id, i in reads.items())


class SubscriptionManager:
    """Owns every live subscription of one deployment. One per process.

    Counters for tests and benchmarks of what a commit costs: ``reruns`` (query runs),
    ``invalidated`` (results a commit made stale), ``notified`` (watcher calls), and
    :meth:`index_visits`.
    """

    def __init__(self, db: Database, runner: FunctionRunner, format_error: ErrorFormatter) -> None:
        self.db = db
        self.runner = runner
        self.format_error = format_error
        self.processed_ts = db.latest_ts
        """The newest commit taken in: every result not marked stale holds up to it."""
        self.subscriptions: dict[tuple[str, bytes, str], Subscription] = {}
        self._index: dict[int, IntervalIndex[Subscription]] = {}
        self._remove_listener: Callable[[], None] | None = None
        self._tasks: set[asyncio.Task[Outcome]] = set()
        self._ts_waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._waiter_seq = 0
        self.reruns = 0
        self.invalidated = 0
        self.notified = 0
        self.transition_latency = LatencyHistogram(TRANSITION_BUCKETS_S)
        """Per Transition that replaced results a client had: nanoseconds from the oldest
        one's invalidating commit to the push (``SyncSession._moved``; ``/metrics``).
        Commit timestamps are wall-clock nanoseconds (``database/timestamps.py``), so this
        is commit-to-push latency, the commit's own write included."""

    def start(self) -> None:
        self.processed_ts = max(self.processed_ts, self.db.latest_ts)
        self._remove_listener = self.db.add_listener(self._on_commit)

    async def stop(self) -> None:
        if self._remove_listener is not None:
            self._remove_listener()
            self._remove_listener = None
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # ------------------------------------------------------------ subscribing
    def key_of(
        self,
        path: str,
        args: dict[str, Any],
        identity: dict[str, Any] | None,
        journal: str | None = None,
        internal_ok: bool = False,
    ) -> tuple[str, bytes, str]:
        """The sharing key. A client's journal (``Add.journal`` after a reconnect) pins
        a page, so it is part of the key, after the arguments' JSON and a NUL (which JSON
        text never holds)."""
        args_json = orjson.dumps(convex_to_json(args), option=orjson.OPT_SORT_KEYS)
        if journal is not None:
            args_json += b"\0" + journal.encode()
        who = _identity_key(identity) + ("\0admin" if internal_ok else "")
        return (canonicalize_path(path), args_json, who)

    async def subscribe(
        self,
        path: str,
        args: dict[str, Any],
        identity: dict[str, Any] | None,
        journal: str | None = None,
        watcher: Watcher | None = None,
        internal_ok: bool = False,
    ) -> Subscription:
        """The shared subscription, with a result (``outcome``) when this returns.
        ``watcher`` is called after each later run that changes its result."""
        key = self.key_of(path, args, identity, journal, internal_ok)
        sub = self.subscriptions.get(key)
        if sub is not None and sub.outcome is not None and sub.journal != journal:
            self._rekey(sub)  # it pinned its page: this subscriber gets a first run of its own
            sub = None
        if sub is None:
            sub = Subscription(key, key[0], args, identity, journal=journal,
                               internal_ok=internal_ok)
            self.subscriptions[key] = sub
        sub.refs += 1
        if watcher is not None:
            sub.watchers[watcher] = sub.watchers.get(watcher, 0) + 1
        try:
            while sub.outcome is None:  # the first run (someone else's, maybe)
                first = next(iter(sub.runs.values()), None)
                await asyncio.shield(first or self._spawn(sub, self.processed_ts))
        except BaseException:
            self.unsubscribe(sub, watcher)
            raise
        return sub

    def _rekey(self, sub: Subscription) -> None:
        """File a subscription whose first run recorded a journal (a page's end) under
        that journal's key, where a client resending the journal after a reconnect finds
        it; a subscriber without a journal then gets a page of its own, cut at its
        ``numItems`` now, as on Convex. If an equal one is filed there already, this one
        keeps a private key."""
        del self.subscriptions[sub.key]
        key = self.key_of(sub.path, sub.args, sub.identity, sub.journal, sub.internal_ok)
        if key in self.subscriptions:
            key = (key[0], key[1] + b"\0#" + str(id(sub)).encode(), key[2])
        sub.key = key
        self.subscriptions[key] = sub

    def unsubscribe(self, sub: Subscription, watcher: Watcher | None = None) -> None:
        if watcher is not None:
            left = sub.watchers.get(watcher, 0) - 1
            if left > 0:
                sub.watchers[watcher] = left
            else:
                sub.watchers.pop(watcher, None)
        sub.refs -= 1
        if sub.refs <= 0 and self.subscriptions.get(sub.key) is sub:
            del self.subscriptions[sub.key]
            self._unindex(sub)
            current = sub.outcome
            if current is not None and current.stale_at is None:
                current.stale_at = self.processed_ts + 1  # no longer followed by the index

    async def outcome_at(self, sub: Subscription, ts: int) -> Outcome:
        """The subscription's result at ``ts`` (at most ``processed_ts``): its current one
        if that holds at ``ts``, else from a run at ``ts`` (shared with anyone else who
        needs that timestamp). A client that is behind catches up this way."""
        current = sub.outcome
        if current is not None and current.covers(ts, self.processed_ts):
            return current
        return await asyncio.shield(sub.runs.get(ts) or self._spawn(sub, ts))

    async def settled(self) -> None:
        """Until no run is in flight: every live result holds at ``processed_ts``
        (tests and benchmarks; sessions never wait for this)."""
        while self._tasks:
            await asyncio.wait(set(self._tasks))

    # ------------------------------------------------------------------ runs
    def _spawn(self, sub: Subscription, ts: int) -> asyncio.Task[Outcome]:
        self.reruns += 1
        task = asyncio.get_running_loop().create_task(self._run(sub, ts))
        sub.runs[ts] = task
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _run(self, sub: Subscription, ts: int) -> Outcome:
        task = asyncio.current_task()
        try:
            outcome = await self._run_query(sub, ts)
        finally:
            mine = sub.runs.get(ts) is task
            if mine:
                del sub.runs[ts]
        if mine:  # not set aside by invalidate_all (new code) meanwhile
            self._complete(sub, outcome)
        return outcome

    async def _run_query(self, sub: Subscription, ts: int) -> Outcome:
        try:
            result = await self.runner.run_query(
                sub.path, sub.args, sub.identity, ts=ts, journal=sub.journal,
                internal_ok=sub.internal_ok,
            )
        except Exception as e:  # a failing query is a result too (QueryFailed)
            failure = failure_of(e)
            lines = list(failure.log_lines) if failure is not None else []
            error = self.format_error(e)
            digest = hashlib.blake2b(
                orjson.dumps([error[0], lines, repr(error[1])]), digest_size=16
            ).digest()
            reads = (failure.reads if failure is not None else None) or ReadSet()
            return Outcome(ts, reads, digest, log_lines=lines, error=error, journal=sub.journal)
        value_json = convex_to_json(result.value)
        encoded = orjson.dumps(value_json)
        digest = hashlib.blake2b(
            encoded + orjson.dumps([result.log_lines, result.journal]), digest_size=16
        ).digest()
        assert result.reads is not None
        return Outcome(
            ts, result.reads, digest, value_json=value_json, fragment=orjson.Fragment(encoded),
            log_lines=result.log_lines, journal=result.journal,
        )

    def _complete(self, sub: Subscription, outcome: Outcome) -> None:
        """A run finished: newer than the current result, it becomes the current one."""
        newest = self.processed_ts
        self._find_stale(outcome, newest)
        current = sub.outcome
        if current is not None and outcome.ts <= current.ts and not (
            outcome.ts == current.ts and current.stale_at is not None
            and current.stale_at <= outcome.ts
        ):
            # A catch-up run at an older snapshot: only for whoever asked. Not indexed,
            # so it is known to hold no further than what has been taken in so far.
            # (A run at the current result's own timestamp replaces it when that result
            # no longer holds there: new code re-runs every query at the same commit.)
            if outcome.stale_at is None:
                outcome.stale_at = newest + 1
            return
        if current is not None and current.stale_at is None:
            current.stale_at = newest + 1  # no longer followed by the index
        sub.outcome = outcome
        sub.journal = outcome.journal
        if current is None or current.digest != outcome.digest:
            sub.version += 1
        if self.subscriptions.get(sub.key) is not sub:
            return  # unsubscribed meanwhile
        self._reindex(sub, outcome.reads)
        if outcome.stale_at is not None:
            self._refresh(sub)  # commits landed while it ran
        if current is None:
            return  # the first result: subscribers take it as ``subscribe`` returns
        for watcher in list(sub.watchers):
            self.notified += 1
            watcher(sub)

    def _find_stale(self, outcome: Outcome, newest: int) -> None:
        """Set ``stale_at`` from commits already taken in after the run's snapshot (later
        ones reach it through the index)."""
        write_log = self.db.write_log
        if write_log is None or outcome.ts < write_log.floor:
            outcome.stale_at = outcome.ts + 1  # cannot tell: it holds at its own ts only
            return
        read_indexes = outcome.reads.index_ids()
        for entry in write_log.entries_after(outcome.ts):
            if entry.ts > newest:
                return
            if read_indexes.isdisjoint(entry.indexes):
                continue
            if outcome.reads.overlaps(entry.written) is not None:
                outcome.stale_at = entry.ts
                return

    def _refresh(self, sub: Subscription) -> None:
        """Make sure a run that will replace the stale current result is in flight."""
        current = sub.outcome
        if current is None or current.stale_at is None:
            return
        if any(ts >= current.stale_at for ts in sub.runs):
            return  # one already reads a snapshot past the commit that made it stale
        self._spawn(sub, self.processed_ts)

    # --------------------------------------------------------------- indexing
    def _reindex(self, sub: Subscription, reads: ReadSet) -> None:
        signature = _signature(reads)
        if signature == sub.indexed:
            return  # a re-run that read the same ranges (the common case): nothing moves
        self._unindex(sub)
        for index_id, lo, hi in signature:
            index = self._index.get(index_id)
            if index is None:
                index = self._index[index_id] = IntervalIndex()
            index.add(lo, hi, sub)
        sub.indexed = signature

    def _unindex(self, sub: Subscription) -> None:
        for index_id in {index_id for index_id, _, _ in sub.indexed}:
            index = self._index.get(index_id)
            if index is not None:
                index.remove(sub)
                if not len(index):
                    del self._index[index_id]
        sub.indexed = ()

    def index_visits(self) -> int:
        """Index nodes looked at by all commits so far."""
        return sum(index.visits for index in self._index.values())

    # --------------------------------------------------------------- commits
    def _on_commit(self, committed: list[Committed]) -> None:
        try:
            self._take(committed)
        except Exception:  # never let one bad round stop reactivity (or the committer)
            log.exception("subscription update failed")

    def _take(self, committed: list[Committed]) -> None:
        """Mark the results these commits change stale and start their re-runs."""
        index = self._index
        stale: list[Subscription] = []
        for item in committed:
            hit: set[Subscription] = set()
            for index_id, key in item.request.written:
                intervals = index.get(index_id)
                if intervals is not None:
                    intervals.stab(key, hit)
            for sub in hit:
                current = sub.outcome
                if current is not None and current.stale_at is None and current.ts < item.ts:
                    current.stale_at = item.ts
                    stale.append(sub)
        self.processed_ts = max(self.processed_ts, committed[-1].ts)
        self.invalidated += len(stale)
        for sub in stale:
            self._refresh(sub)
        self._wake_waiters()

    def invalidate_all(self) -> None:
        """New code or environment: every subscription re-runs. Results from before hold
        only up to the previous commit, so no client sees old and new code together."""
        newest = self.processed_ts
        for sub in list(self.subscriptions.values()):
            sub.runs.clear()  # runs of the old code still answer who awaits them, no more
            current = sub.outcome
            if current is not None:
                if current.stale_at is None or current.stale_at > newest:
                    current.stale_at = newest
                self._spawn(sub, newest)

    def _wake_waiters(self) -> None:
        waiters = self._ts_waiters
        while waiters and waiters[0][0] <= self.processed_ts:
            fut = heapq.heappop(waiters)[2]
            if not fut.done():
                fut.set_result(None)

    async def wait_for(self, ts: int) -> None:
        """Return once ``processed_ts >= ts`` (e.g. a mutation's commit timestamp): the
        commit has been taken in, and the results it changes are marked stale.

        One future per waiter in a heap by timestamp: an advance wakes exactly the
        waiters it satisfies (a Condition would wake them all to re-check).
        """
        if self.processed_ts >= ts:
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiter_seq += 1
        heapq.heappush(self._ts_waiters, (ts, self._waiter_seq, fut))
        await fut
