"""The single committer: OCC validation, timestamps, group commit, publication.

Every writing transaction ends here. The committer task takes all commit requests that
are ready together, validates each against the write log (commits after its begin
timestamp) and against those accepted earlier in the same group, stamps the accepted
ones with increasing timestamps, writes the whole group to persistence in ONE storage
transaction (one fsync), and only then appends them to the write log, publishes the
new snapshot and resolves the callers' futures. A commit is therefore acknowledged only
once durable, and a reader that begins at the published timestamp sees all of it.

Pipelining: where the backend applies batches in call order (``write_pipeline`` > 1,
SQLite), the next group is validated and handed to the backend while the previous one
is still being written. Its transactions are validated against the groups accepted but
not yet published too (their timestamps are above every begin timestamp, so any read
overlapping their writes is a conflict). Groups are published strictly in order, each
only once durable; if a group's write fails, later groups stay valid (they were checked
against its writes as if it had committed, which only rejects more, never fewer).

Named pause points (tests only): ``AFTER_VALIDATE`` (group validated, not yet written),
``AFTER_WRITE`` (durable, not yet published).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from itertools import chain
from typing import NamedTuple

from pyconvex.database.pause import PausePoints
from pyconvex.database.reads import WrittenKey
from pyconvex.database.timestamps import TimestampOracle
from pyconvex.database.transaction import CommitRequest
from pyconvex.database.write_log import WriteLog
from pyconvex.errors import OccConflict, OverloadedError
from pyconvex.persistence.base import DocumentLogEntry, IndexEntry, LogCommit, Persistence, SharedLog

AFTER_VALIDATE = "after_validate"
AFTER_WRITE = "after_write"

MAX_GROUP = 512
MAX_QUEUE = 20_000


class Committed(NamedTuple):
    ts: int
    request: CommitRequest


Accepted = list[tuple[int, CommitRequest, "asyncio.Future[int]"]]


PublishFn = Callable[[list[Committed]], None]


class Committer:
    """Owns the write path. Hold a :class:`CommitterClient` to submit commits."""

    def __init__(
        self,
        persistence: Persistence,
        oracle: TimestampOracle,
        write_log: WriteLog,
        publish: PublishFn,
        pauses: PausePoints,
    ) -> None:
        self._persistence = persistence
        self._oracle = oracle
        self._write_log = write_log
        self._publish = publish
        self._pauses = pauses
        self._queue: asyncio.Queue[tuple[CommitRequest, asyncio.Future[int]]] = asyncio.Queue(
            MAX_QUEUE
        )
        self._task: asyncio.Task[None] | None = None
        # Groups handed to the backend, oldest first, and their writes (validation).
        self._room = asyncio.Semaphore(max(1, int(getattr(persistence, "write_pipeline", 1))))
        self._writing: asyncio.Queue[tuple[Accepted, asyncio.Future[None]]] = asyncio.Queue()
        self._unpublished: list[tuple[int, tuple[WrittenKey, ...]]] = []
        self._publisher: asyncio.Task[None] | None = None
        self.groups = 0
        self.commits = 0
        # Several processes (a SharedLog backend): commits are serialised through the
        # shared head; ``catch_up`` learns other processes' commits. ``lock`` keeps a
        # catch-up and a commit of this process from interleaving their publications.
        self.shared: SharedLog | None = None
        self.catch_up: Callable[[], Awaitable[None]] | None = None
        self.head: Callable[[], int] = lambda: 0
        self.lock = asyncio.Lock()
        self.head_conflicts = 0

    def start(self) -> CommitterClient:
        loop = asyncio.get_running_loop()
        self._task = loop.create_task(self._run(), name="committer")
        self._publisher = loop.create_task(self._publish_written(), name="committer-publish")
        return CommitterClient(self)

    async def stop(self) -> None:
        for task in (self._task, self._publisher):
            if task is not None:
                task.cancel()
                try:
                    await task
                except asyncio.CancelledError:
                    pass
        self._task = self._publisher = None
        shutting_down = OverloadedError("the database is shutting down")
        while not self._writing.empty():
            accepted, _ = self._writing.get_nowait()
            _fail([fut for _, _, fut in accepted], shutting_down)
        while not self._queue.empty():
            _, fut = self._queue.get_nowait()
            _fail([fut], shutting_down)

    async def _run(self) -> None:
        queue = self._queue
        while True:
            first = await queue.get()
            if self.shared is not None:
                async with self.lock:
                    await self._commit_group_shared(self._drain(first))
                continue
            # Wait for a free pipeline slot before draining: what queues meanwhile
            # joins this group (one fsync for more commits).
            await self._room.acquire()
            handed_over = False
            try:
                handed_over = await self._commit_group(self._drain(first))
            finally:
                if not handed_over:
                    self._room.release()

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
        assert self.shared is not None and self.catch_up is not None
        pending = [(r, f) for r, f in group if not f.done()]
        while True:
            accepted = self._accept(pending)
            if not accepted:
                return
            documents, indexes = self._entries(accepted)
            commits = [LogCommit(ts, r.written, r.catalog is not None) for ts, r, _ in accepted]
            try:
                ok = await self.shared.commit_shared(documents, indexes, commits, self.head())
            except Exception as e:
                _fail([fut for _, _, fut in accepted], e)
                return
            if ok:
                break
            self.head_conflicts += 1
            await self.catch_up()  # publishes the other processes' commits
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
        accepted_writes: list[tuple[int, tuple[WrittenKey, ...]]] = []
        for request, fut in group:
            if fut.done():  # the caller went away before we got to it: commit nothing
                continue
            conflict = self._validate(request, accepted_writes)
            if conflict is not None:
                fut.set_exception(conflict)
                continue
            ts = self._oracle.next()
            accepted.append((ts, request, fut))
            accepted_writes.append((ts, request.written))
        return accepted

    def _validate(
        self, request: CommitRequest, accepted: list[tuple[int, tuple[WrittenKey, ...]]]
    ) -> OccConflict | None:
        if request.begin_ts < self._write_log.floor:
            return OccConflict("transaction too old to validate; retry")
        hit = self._write_log.first_conflict(request.begin_ts, request.reads)
        if hit is not None:
            return OccConflict(f"conflicting commit at {hit[0]}", conflicting_ts=hit[0])
        for ts, written in chain(self._unpublished, accepted):
            if request.reads.overlaps(written) is not None:
                return OccConflict(f"conflicting commit at {ts}", conflicting_ts=ts)
        return None

    async def _commit_group(self, group: list[tuple[CommitRequest, asyncio.Future[int]]]) -> bool:
        """Validate and stamp the group and hand it to the backend; the publisher task
        takes it from there. False if nothing was handed over (its slot is free)."""
        accepted = self._accept(group)
        if not accepted:
            return False
        await self._pauses.reached(AFTER_VALIDATE)
        documents, indexes = self._entries(accepted)
        try:
            written = asyncio.ensure_future(self._persistence.write(documents, indexes))
        except Exception as e:  # nothing of the group is visible: fail every caller
            _fail([fut for _, _, fut in accepted], e)
            return False
        self._unpublished.extend((ts, request.written) for ts, request, _ in accepted)
        self._writing.put_nowait((accepted, written))
        return True

    async def _publish_written(self) -> None:
        """Publish the groups handed to the backend, in order, each once durable."""
        while True:
            accepted, written = await self._writing.get()
            try:
                try:
                    await written
                except asyncio.CancelledError:
                    _fail([f for _, _, f in accepted], OverloadedError("the database is shutting down"))
                    raise
                except Exception as e:  # nothing of the group is visible: fail every caller
                    _fail([fut for _, _, fut in accepted], e)
                    continue
                await self._pauses.reached(AFTER_WRITE)
                self._publish_group(accepted)
            finally:
                del self._unpublished[: len(accepted)]
                self._room.release()

    def _publish_group(self, accepted: Accepted) -> None:
        self.groups += 1
        self.commits += len(accepted)
        for ts, request, _ in accepted:
            self._write_log.append(ts, request.written)
        self._publish([Committed(ts, request) for ts, request, _ in accepted])
        for ts, _, fut in accepted:
            if not fut.done():
                fut.set_result(ts)


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
        fut: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        try:
            self._committer._queue.put_nowait((request, fut))
        except asyncio.QueueFull:
            raise OverloadedError(
                "Too many commits are queued (the committer is full); retry shortly."
            ) from None
        # Not shielded: a caller cancelled while queued cancels its future, and the
        # committer skips a done future, so the commit happens once or not at all
        # (a cancel after acceptance only stops the caller waiting for the answer).
        return await fut
