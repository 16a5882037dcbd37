"""The single committer: OCC validation, timestamps, group commit, publication.

Every writing transaction ends here. The committer task takes all commit requests that
are ready together, validates each against the write log (commits after its begin
timestamp) and against those accepted earlier in the same group, stamps the accepted
ones with increasing timestamps, writes the whole group to persistence in ONE storage
transaction (one fsync), and only then appends them to the write log, publishes the
new snapshot and resolves the callers' futures. A commit is therefore acknowledged only
once durable, and a reader that begins at the published timestamp sees all of it.

Pipelining (one process, SQLite: a :class:`PipelinedLog` applies batches in call order,
up to ``write_pipeline`` outstanding): the next group is validated and handed to the
backend while earlier ones are still being written. Its transactions are validated
against the groups accepted but not yet published too (their timestamps are above every
begin timestamp, so any read overlapping their writes is a conflict). Groups are
published strictly in order, each only once durable; if a group's write fails, later
groups stay valid (they were checked against its writes as if it had committed, which
only rejects more, never fewer).

The fast path: when nothing is queued, no pause is held and the pipeline has room, a
commit is validated and stamped by its caller at once, and joins the group of its
event-loop step: every commit accepted in one step is handed over together at the
step's end (one request to the SQLite writer, one reply, one publication; the writer
process also merges the groups waiting for it into one transaction). Under load the
callers of a published group all commit again in the step after it, so a step's group
holds many commits. A pipelining backend reports completion through
``write_commits_then`` synchronously, so the group is published in the same event-loop
step its durability is learnt. Each hop through a task costs a loop iteration, which
under load is what a closed loop of clients waits on.

Validation starts with ``_newest``, the newest timestamp that wrote each index: a read
set none of whose indexes was written since it began conflicts with nothing, whatever
the write log and the pipeline hold.

Named pause points (tests only): ``AFTER_VALIDATE`` (group validated, not yet written),
``AFTER_WRITE`` (durable, not yet published).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from itertools import chain
from typing import NamedTuple

from pyconvex.database.commit_request import CommitRequest
from pyconvex.database.pause import PausePoints
from pyconvex.database.timestamps import TimestampOracle
from pyconvex.database.write_log import WriteLog
from pyconvex.errors import OccConflict, OverloadedError
from pyconvex.persistence.base import (
    DocumentLogEntry,
    IndexEntry,
    LogCommit,
    Persistence,
    PipelinedLog,
    SessionRequestRow,
    SharedLog,
)

AFTER_VALIDATE = "after_validate"
AFTER_WRITE = "after_write"

MAX_GROUP = 512
MAX_QUEUE = 20_000


class Committed(NamedTuple):
    ts: int
    request: CommitRequest


PublishFn = Callable[[list[Committed]], None]
_new = tuple.__new__


class SharedHead(NamedTuple):
    """Several processes on one database (a :class:`SharedLog` backend): commits are
    serialised through the log's shared head; ``catch_up`` learns and publishes other
    processes' commits (with the committer's ``lock`` held); ``head`` is the newest
    timestamp this process has published."""

    log: SharedLog
    catch_up: Callable[[], Awaitable[None]]
    head: Callable[[], int]


class Committer:
    """Owns the write path. Hold a :class:`CommitterClient` to submit commits."""

    def __init__(
        self,
        persistence: Persistence,
        oracle: TimestampOracle,
        write_log: WriteLog,
        publish: PublishFn,
        pauses: PausePoints,
        *,
        shared: SharedHead | None = None,
    ) -> None:
        self._oracle = oracle
        self._write_log = write_log
        self._publish = publish
        self._pauses = pauses
        self._queue: asyncio.Queue[tuple[CommitRequest, asyncio.Future[int]]] = asyncio.Queue(
            MAX_QUEUE
        )
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        # Groups accepted, oldest first (handed to the backend, or the open one), and
        # their commits (validation).
        self._pipelined = persistence if isinstance(persistence, PipelinedLog) else None
        self._depth = max(1, self._pipelined.write_pipeline) if self._pipelined else 1
        self._in_flight: deque[_Group] = deque()
        self._unpublished: list[Committed] = []
        self._open: _Group | None = None  # the fast path's group of this loop step
        self._newest: dict[int, int] = {}
        """Per index id, the newest timestamp of a commit that wrote it (accepted here,
        or learnt from another process). A read set none of whose indexes was written
        after its begin timestamp conflicts with nothing, which this tells without
        looking at the write log or the commits in flight."""
        self._room_freed = asyncio.Event()
        self._forming = False  # the committer task is between accepting and handing over
        self._draining = False  # a task publishes (a pause point is held)
        self._drainer: asyncio.Task[None] | None = None
        self._stopped = False
        self.groups = 0
        self.commits = 0
        # ``lock`` keeps a catch-up and a commit of this process from interleaving their
        # publications (several processes only).
        self._shared = shared
        self.lock = asyncio.Lock()
        self.head_conflicts = 0

    def start(self) -> CommitterClient:
        self._loop = asyncio.get_running_loop()
        self._task = self._loop.create_task(self._run(), name="committer")
        return CommitterClient(self)

    async def stop(self) -> None:
        self._stopped = True
        for task in (self._task, self._drainer):
            if task is not None:
                task.cancel()
                try:
                    await task
                except asyncio.CancelledError:
                    pass
        self._task = self._drainer = None
        self._open = None
        shutting_down = OverloadedError("the database is shutting down")
        while self._in_flight:
            _fail(self._in_flight.popleft().futures, shutting_down)
        while not self._queue.empty():
            _, fut = self._queue.get_nowait()
            _fail([fut], shutting_down)

    @property
    def queue_depth(self) -> int:
        """Commits waiting for the committer (``/metrics``)."""
        return self._queue.qsize()

    @property
    def running(self) -> bool:
        """The committer task is alive (``/ready``): a crashed one accepts no commit."""
        return self._task is not None and not self._task.done()

    def can_commit_now(self) -> bool:
        return (
            self._shared is None
            and self._task is not None
            and not self._forming
            and self._queue.empty()
            and len(self._in_flight) < self._depth
            and not self._pauses.active
        )

    def submit(self, request: CommitRequest) -> asyncio.Future[int]:
        """A future that resolves to the commit's timestamp once it is durable and
        published (or fails with its conflict or the write's error).

        The fast path (see the module docstring): when the open group of this loop
        step takes it, or nothing queued, no pause held and the pipeline has room, the
        caller validates and stamps its own commit, which joins that group (one hand-over
        at the step's end, one writer reply, one publication for all of the step's
        commits). Otherwise the committer task takes it; a full queue refuses it."""
        assert self._loop is not None, "the committer is not started"
        fut: asyncio.Future[int] = self._loop.create_future()
        group = self._open
        if group is None or self._pauses.active:
            if not self.can_commit_now():
                self.enqueue(request, fut)
                return fut
            group = None
        conflict = None if self._unchanged(request) else self._validate(request, ())
        if conflict is not None:
            fut.set_exception(conflict)
            return fut
        ts = self._oracle.next()
        if group is None:
            group = self._open = _Group()
            self._in_flight.append(group)
            self._loop.call_soon(self._hand_over_open)
        committed = _new(Committed, (ts, request))  # not Committed(): no Python __new__
        group.committed.append(committed)
        group.futures.append(fut)
        self._unpublished.append(committed)
        newest = self._newest
        for index_id in request.written_indexes:
            newest[index_id] = ts
        return fut

    def enqueue(self, request: CommitRequest, fut: asyncio.Future[int]) -> None:
        """Queue a commit for the committer task (when the fast path cannot take it);
        ``fut`` resolves as for ``submit``. A full queue refuses it at once."""
        try:
            self._queue.put_nowait((request, fut))
        except asyncio.QueueFull:
            raise OverloadedError(
                "Too many commits are queued (the committer is full); retry shortly."
            ) from None

    async def _run(self) -> None:
        queue = self._queue
        while True:
            first = await queue.get()
            if self._shared is not None:
                async with self.lock:
                    await self._commit_group_shared(self._drain(first))
                continue
            self._hand_over_open()  # the fast path's group goes first
            # Wait for a free pipeline slot before draining: what queues meanwhile
            # joins this group (one fsync for more commits).
            while len(self._in_flight) >= self._depth:
                self._room_freed.clear()
                await self._room_freed.wait()
            self._forming = True
            try:
                group = self._accept(self._drain(first))
                if group.committed:
                    self._unpublished += group.committed
                    self._in_flight.append(group)
                    await self._pauses.reached(AFTER_VALIDATE)
                    self._hand_over(group)
            finally:
                self._forming = False

    def _drain(
        self, first: tuple[CommitRequest, asyncio.Future[int]]
    ) -> list[tuple[CommitRequest, asyncio.Future[int]]]:
        group = [first]
        queue = self._queue
        while len(group) < MAX_GROUP and not queue.empty():
            group.append(queue.get_nowait())
        return group

    async def _commit_group_shared(
        self, group: list[tuple[CommitRequest, asyncio.Future[int]]]
    ) -> None:
        """Like the pipelined path, through the shared head: if another process
        committed first, learn its commits, validate again against them, and retry."""
        assert self._shared is not None
        shared = self._shared
        pending = [(r, f) for r, f in group if not f.done()]
        while True:
            accepted = self._accept(pending)
            if not accepted.committed:
                return
            documents, indexes = _entries(accepted.committed)
            commits = [LogCommit(ts, r.written, r.catalog is not None)
                       for ts, r in accepted.committed]
            sessions = [SessionRequestRow(ts, *r.record)
                        for ts, r in accepted.committed if r.record is not None]
            try:
                ok = await shared.log.commit_shared(
                    documents, indexes, commits, shared.head(), sessions)
            except Exception as e:
                _fail(accepted.futures, e)
                return
            if ok:
                break
            self.head_conflicts += 1
            await shared.catch_up()  # publishes the other processes' commits
            pending = [(c.request, f) for c, f in zip(accepted.committed, accepted.futures, strict=True)]
        self._publish_group(accepted)

    def observe(self, ts: int, written: tuple[tuple[int, bytes], ...] = ()) -> None:
        """Another process committed at ``ts`` (writing ``written``): later timestamps
        must exceed it, and a read of what it wrote conflicts."""
        self._oracle.observe(ts)
        newest = self._newest
        for index_id, _ in written:
            if newest.get(index_id, 0) < ts:
                newest[index_id] = ts

    def _accept(self, group: list[tuple[CommitRequest, asyncio.Future[int]]]) -> _Group:
        """Validate the group in order (each also against those accepted before it in the
        group); fail the conflicting callers; stamp the rest with timestamps."""
        accepted = _Group()
        newest = self._newest
        for request, fut in group:
            if fut.done():  # the caller went away before we got to it: commit nothing
                continue
            conflict = self._validate(request, accepted.committed)
            if conflict is not None:
                fut.set_exception(conflict)
                continue
            ts = self._oracle.next()
            accepted.committed.append(_new(Committed, (ts, request)))
            accepted.futures.append(fut)
            for index_id in request.written_indexes:
                newest[index_id] = ts
        return accepted

    def _unchanged(self, request: CommitRequest) -> bool:
        """Nothing ``request`` read can conflict: it is not too old to validate, and no
        index it read was written since it began. Every commit after its begin
        timestamp (published, in flight or earlier in this group) is in ``_newest``, so
        this is one dict look-up per index read (the common case, every insert)."""
        begin_ts = request.begin_ts
        if begin_ts < self._write_log.floor:
            return False
        newest = self._newest
        for index_id in request.reads.index_ids():  # noqa: SIM110 (a loop: all() of a generator costs a frame per commit)
            if newest.get(index_id, 0) > begin_ts:
                return False
        return True

    def _validate(
        self, request: CommitRequest, accepted: Sequence[Committed]
    ) -> OccConflict | None:
        begin_ts = request.begin_ts
        if begin_ts < self._write_log.floor:
            return OccConflict("transaction too old to validate; retry")
        if self._unchanged(request):
            return None
        reads = request.reads
        hit = self._write_log.first_conflict(begin_ts, reads)
        if hit is not None:
            return OccConflict(f"conflicting commit at {hit[0]}", conflicting_ts=hit[0], key=hit[1])
        # Every commit in flight is checked (under load, most of the writer pipeline);
        # one that wrote no index this read set read is passed over by a set test, as
        # the write log passes over its entries.
        read_indexes = reads.index_ids()
        for ts, other in chain(self._unpublished, accepted):
            if read_indexes.isdisjoint(other.written_indexes):
                continue
            key = reads.overlaps(other.written)
            if key is not None:
                return OccConflict(f"conflicting commit at {ts}", conflicting_ts=ts, key=key)
        return None

    def _hand_over_open(self) -> None:
        """The end of the loop step that opened the fast path's group: hand it over."""
        group = self._open
        if group is not None:
            self._open = None
            self._hand_over(group)

    def _hand_over(self, group: _Group) -> None:
        """Give an accepted group (the newest in flight) to the backend; it is published
        when durable."""
        # Each commit as its timestamp and the request's own row lists: what the SQLite
        # writer process is sent, and its child (not this process) makes the rows.
        commits = [(ts, request.documents, request.indexes, request.record)
                   for ts, request in group.committed]
        assert self._pipelined is not None, "a backend is a SharedLog or a PipelinedLog"
        try:
            self._pipelined.write_commits_then(commits, partial(self._on_written, group))
        except Exception as e:  # nothing of the group is visible: fail every caller
            assert self._in_flight[-1] is group
            self._in_flight.pop()
            del self._unpublished[len(self._unpublished) - len(group.committed):]
            _fail(group.futures, e)
            self._room_freed.set()

    def _on_written(self, group: _Group, error: BaseException | None) -> None:
        """The backend finished a group (in hand-over order): publish what is ready."""
        if self._stopped:
            return
        group.done, group.error = True, error
        if self._draining or self._pauses.active:
            if not self._draining:
                self._draining = True
                self._drainer = asyncio.get_running_loop().create_task(self._drain_paused())
            return
        in_flight = self._in_flight
        while in_flight and in_flight[0].done:
            self._finish(in_flight.popleft())

    async def _drain_paused(self) -> None:
        """Publishing with pause points held (tests): each group stops at AFTER_WRITE."""
        try:
            while self._in_flight and self._in_flight[0].done:
                if self._in_flight[0].error is None:
                    await self._pauses.reached(AFTER_WRITE)
                self._finish(self._in_flight.popleft())
        finally:
            self._draining = False

    def _finish(self, group: _Group) -> None:
        del self._unpublished[: len(group.committed)]
        if group.error is not None:  # nothing of the group is visible: fail every caller
            _fail(group.futures, group.error)
        else:
            self._publish_group(group)
        self._room_freed.set()

    def _publish_group(self, group: _Group) -> None:
        committed = group.committed
        self.groups += 1
        self.commits += len(committed)
        self._write_log.append_commits(committed)
        self._publish(committed)
        for (ts, _), fut in zip(committed, group.futures, strict=True):
            if not fut.done():
                fut.set_result(ts)


class _Group:
    """Commits accepted together, written in one hand-over and published together:
    ``committed`` and the callers' ``futures``, in the same order."""

    __slots__ = ("committed", "done", "error", "futures")

    def __init__(self) -> None:
        self.committed: list[Committed] = []
        self.futures: list[asyncio.Future[int]] = []
        self.done = False
        self.error: BaseException | None = None


def _entries(committed: list[Committed]) -> tuple[list[DocumentLogEntry], list[IndexEntry]]:
    documents: list[DocumentLogEntry] = []
    indexes: list[IndexEntry] = []
    for ts, request in committed:
        documents.extend(
            DocumentLogEntry(ts, doc_id, table_number, value, prev_ts)
            for doc_id, table_number, value, prev_ts in request.documents
        )
        indexes.extend(
            IndexEntry(index_id, key, ts, doc_id) for index_id, key, doc_id in request.indexes
        )
    return documents, indexes


def _fail(futures: list[asyncio.Future[int]], error: BaseException) -> None:
    for fut in futures:
        if not fut.done():
            fut.set_exception(error)


class CommitterClient:
    """The handle transactions commit through: ``submit(request)`` is the committer's
    own bound method (no call in between), a future to await (not a coroutine: one
    frame fewer per commit)."""

    __slots__ = ("submit",)

    def __init__(self, committer: Committer) -> None:
        self.submit = committer.submit
