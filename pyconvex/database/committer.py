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
commit is validated, stamped and handed over by its caller at once (a group of one; the
SQLite writer process merges what is waiting into one transaction). A pipelining
backend reports completion through ``write_fields_then`` synchronously, so the group is
published in the same event-loop step its durability is learnt. Each hop through a task
costs a loop iteration, which under load is what a closed loop of clients waits on.

Named pause points (tests only): ``AFTER_VALIDATE`` (group validated, not yet written),
``AFTER_WRITE`` (durable, not yet published).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
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
    SharedLog,
)

AFTER_VALIDATE = "after_validate"
AFTER_WRITE = "after_write"

MAX_GROUP = 512
MAX_QUEUE = 20_000


class Committed(NamedTuple):
    ts: int
    request: CommitRequest


Accepted = list[tuple[int, CommitRequest, "asyncio.Future[int]"]]


PublishFn = Callable[[list[Committed]], None]


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
        # Groups handed to the backend, oldest first, and their writes (validation).
        self._pipelined = persistence if isinstance(persistence, PipelinedLog) else None
        self._depth = max(1, self._pipelined.write_pipeline) if self._pipelined else 1
        self._in_flight: deque[_Group] = deque()
        self._unpublished: list[tuple[int, CommitRequest]] = []
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
        self._task = asyncio.get_running_loop().create_task(self._run(), name="committer")
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
        shutting_down = OverloadedError("the database is shutting down")
        while self._in_flight:
            _fail([fut for _, _, fut in self._in_flight.popleft().accepted], shutting_down)
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

    def commit_now(self, request: CommitRequest, fut: asyncio.Future[int]) -> None:
        """The fast path (see the module docstring): the caller validates, stamps and
        hands over its own commit; ``fut`` resolves once it is durable and published."""
        accepted = self._accept([(request, fut)])
        if accepted:
            self._hand_over(accepted)

    def enqueue(self, request: CommitRequest, fut: asyncio.Future[int]) -> None:
        """Queue a commit for the committer task (when ``commit_now`` cannot take it);
        ``fut`` resolves as for ``commit_now``. A full queue refuses it at once."""
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
            # Wait for a free pipeline slot before draining: what queues meanwhile
            # joins this group (one fsync for more commits).
            while len(self._in_flight) >= self._depth:
                self._room_freed.clear()
                await self._room_freed.wait()
            self._forming = True
            try:
                accepted = self._accept(self._drain(first))
                if accepted:
                    await self._pauses.reached(AFTER_VALIDATE)
                    self._hand_over(accepted)
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
        """Like ``_commit_group``, through the shared head: if another process committed
        first, learn its commits, validate again against them, and retry."""
        assert self._shared is not None
        shared = self._shared
        pending = [(r, f) for r, f in group if not f.done()]
        while True:
            accepted = self._accept(pending)
            if not accepted:
                return
            documents, indexes = self._entries(accepted)
            commits = [LogCommit(ts, r.written, r.catalog is not None) for ts, r, _ in accepted]
            try:
                ok = await shared.log.commit_shared(documents, indexes, commits, shared.head())
            except Exception as e:
                _fail([fut for _, _, fut in accepted], e)
                return
            if ok:
                break
            self.head_conflicts += 1
            await shared.catch_up()  # publishes the other processes' commits
            pending = [(r, f) for _, r, f in accepted]
        self._publish_group(accepted)

    def observe(self, ts: int) -> None:
        """Another process committed at ``ts``: later timestamps must exceed it."""
        self._oracle.observe(ts)

    @staticmethod
    def _entries(
        accepted: Accepted,
    ) -> tuple[list[DocumentLogEntry], list[IndexEntry]]:
        documents: list[DocumentLogEntry] = []
        indexes: list[IndexEntry] = []
        for ts, request, _ in accepted:
            documents.extend(
                DocumentLogEntry(ts, doc_id, table_number, value, prev_ts)
                for doc_id, table_number, value, prev_ts in request.documents
            )
            indexes.extend(
                IndexEntry(index_id, key, ts, doc_id) for index_id, key, doc_id in request.indexes
            )
        return documents, indexes

    def _accept(
        self, group: list[tuple[CommitRequest, asyncio.Future[int]]]
    ) -> Accepted:
        """Validate the group in order (each also against those accepted before it in the
        group); fail the conflicting callers; stamp the rest with timestamps."""
        accepted: Accepted = []
        accepted_writes: list[tuple[int, CommitRequest]] = []
        for request, fut in group:
            if fut.done():  # the caller went away before we got to it: commit nothing
                continue
            conflict = self._validate(request, accepted_writes)
            if conflict is not None:
                fut.set_exception(conflict)
                continue
            ts = self._oracle.next()
            accepted.append((ts, request, fut))
            accepted_writes.append((ts, request))
        return accepted

    def _validate(
        self, request: CommitRequest, accepted: list[tuple[int, CommitRequest]]
    ) -> OccConflict | None:
        if request.begin_ts < self._write_log.floor:
            return OccConflict("transaction too old to validate; retry")
        reads = request.reads
        hit = self._write_log.first_conflict(request.begin_ts, reads)
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

    def _hand_over(self, accepted: Accepted) -> None:
        """Give an accepted group to the backend; it is published when durable."""
        # Flat field lists, built in one pass: what the SQLite writer process is sent
        # (no DocumentLogEntry / IndexEntry objects to build and take apart again).
        document_fields: list[object] = []
        index_fields: list[object] = []
        for ts, request, _ in accepted:
            for doc_id, table_number, value, prev_ts in request.documents:
                document_fields += (ts, doc_id, table_number, value, prev_ts)
            for index_id, key, entry_doc in request.indexes:
                index_fields += (index_id, key, ts, entry_doc)
        group = _Group(accepted)
        assert self._pipelined is not None, "a backend is a SharedLog or a PipelinedLog"
        try:
            self._pipelined.write_fields_then(
                document_fields, index_fields, accepted[-1][0],
                lambda error: self._on_written(group, error),
            )
        except Exception as e:  # nothing of the group is visible: fail every caller
            _fail([fut for _, _, fut in accepted], e)
            return
        self._unpublished.extend((ts, request) for ts, request, _ in accepted)
        self._in_flight.append(group)

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
        while self._in_flight and self._in_flight[0].done:
            self._finish(self._in_flight.popleft())

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
        del self._unpublished[: len(group.accepted)]
        if group.error is not None:  # nothing of the group is visible: fail every caller
            _fail([fut for _, _, fut in group.accepted], group.error)
        else:
            self._publish_group(group.accepted)
        self._room_freed.set()

    def _publish_group(self, accepted: Accepted) -> None:
        self.groups += 1
        self.commits += len(accepted)
        for ts, request, _ in accepted:
            self._write_log.append(ts, request.written, request.written_indexes)
        self._publish([Committed(ts, request) for ts, request, _ in accepted])
        for ts, _, fut in accepted:
            if not fut.done():
                fut.set_result(ts)


class _Group:
    __slots__ = ("accepted", "done", "error")

    def __init__(self, accepted: Accepted) -> None:
        self.accepted = accepted
        self.done = False
        self.error: BaseException | None = None


def _fail(futures: list[asyncio.Future[int]], error: BaseException) -> None:
    for fut in futures:
        if not fut.done():
            fut.set_exception(error)


class CommitterClient:
    """The handle transactions commit through."""

    __slots__ = ("_committer",)

    def __init__(self, committer: Committer) -> None:
        self._committer = committer

    async def commit(self, request: CommitRequest) -> int:
        committer = self._committer
        fut: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        if committer.can_commit_now():
            committer.commit_now(request, fut)
            return await fut
        committer.enqueue(request, fut)
        # Not shielded: a caller cancelled while queued cancels its future, and the
        # committer skips a done future, so the commit happens once or not at all
        # (a cancel after acceptance only stops the caller waiting for the answer).
        return await fut
