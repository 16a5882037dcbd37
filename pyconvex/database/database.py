"""One deployment's database: the published snapshot, transactions, the committer.

The database publishes ``(latest_ts, catalog)`` together: a transaction begins at the
latest published timestamp with the catalog of that moment. Publication happens in the
committer after the group is durable, on the event loop, so readers never observe a
timestamp whose writes are not all visible.

Listeners (the sync layer, the scheduler) are called after each published group with
the committed requests, so they can find what a commit invalidated.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import weakref
from collections.abc import Callable

from pyconvex.database.catalog import (
    INDEX_TABLE,
    SCHEMAS_TABLE,
    SYSTEM_TABLES,
    TABLES_TABLE,
    Catalog,
    IndexInfo,
    TableInfo,
    index_info,
)
from pyconvex.database.commit_request import CommitRequest
from pyconvex.database.committer import Committed, Committer, CommitterClient, SharedHead
from pyconvex.database.limits import DEFAULT_LIMITS, Limits
from pyconvex.database.pause import PausePoints
from pyconvex.database.reads import ReadSet
from pyconvex.database.search_indexes import SearchManager
from pyconvex.database.timestamps import TimestampOracle
from pyconvex.database.transaction import Transaction
from pyconvex.database.write_log import WriteLog
from pyconvex.errors import BadRequestError
from pyconvex.persistence.base import IndexEntry, Persistence, SharedLog
from pyconvex.schema import SchemaDefinition

Clock = Callable[[], float]
"""Milliseconds since the epoch (``ctx.now()``); injectable so tests can move time."""

CommitListener = Callable[[list[Committed]], None]
FOLLOW_POLL_S = 1.0
RETAINED_FROM = "retainedFrom"


class RetentionError(BadRequestError):
    short_msg = "OutsideRetentionWindow"
log = logging.getLogger("pyconvex.database")


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


def wall_clock_ms() -> float:
    return time.time_ns() / 1_000_000


_READERS_SWEEP_MIN = 1024
"""Dead references to ended transactions are dropped once the list reaches this many
(or twice the live ones at the last sweep): a bounded list, swept in amortised O(1)."""


class Database:
    def __init__(self, persistence: Persistence, *, clock: Clock = wall_clock_ms) -> None:
        self.persistence = persistence
        self.clock = clock
        self.pauses = PausePoints()
        self.latest_ts = 0
        self.catalog = Catalog.bootstrap()
        self._listeners: list[CommitListener] = []
        self.commit_observers: list[Callable[[float], None]] = []
        """Called with each commit's seconds in the committer (``/metrics``)."""
        self._committer: Committer | None = None
        self._client: CommitterClient | None = None
        self._follower: asyncio.Task[None] | None = None
        self._head_read: asyncio.Future[None] | None = None  # in flight (catch_up_to_head)
        self._next_head_read: asyncio.Future[None] | None = None  # for those arriving now
        self._head_task: asyncio.Task[None] | None = None
        self._readers: list[weakref.ref[Transaction]] = []
        """Every transaction begun and perhaps still alive (for ``oldest_reader_ts``):
        plain weak references, swept now and then, not a ``WeakSet``, whose ``add`` and
        removal callback are Python code run for every transaction (each call's)."""
        self._sweep_readers_at = _READERS_SWEEP_MIN
        self.search = SearchManager(self)
        self.retained_from = 0
        """Versions below this timestamp may have been collected: no reads there."""
        self.write_log: WriteLog | None = None
        self._ts_waiters: list[tuple[int, asyncio.Future[None]]] = []

    @classmethod
    async def open(cls, persistence: Persistence, *, clock: Clock = wall_clock_ms) -> Database:
        db = cls(persistence, clock=clock)
        await db._start()
        return db

    async def _start(self) -> None:
        self.latest_ts = await self.persistence.max_ts()
        self.retained_from = int(await self.persistence.get_global(RETAINED_FROM) or 0)
        self.catalog = await self._load_catalog(self.latest_ts)
        self.catalog = self.catalog.with_schema(await self._load_schema())
        self.write_log = WriteLog(self.latest_ts)
        shared = None
        if isinstance(self.persistence, SharedLog):
            shared = SharedHead(self.persistence, self._catch_up, lambda: self.latest_ts)
        self._committer = Committer(
            self.persistence,
            TimestampOracle(self.latest_ts),
            self.write_log,
            self._publish,
            self.pauses,
            shared=shared,
        )
        if shared is not None:
            self._follower = asyncio.get_running_loop().create_task(self._follow(), name="follower")
        self._client = self._committer.start()

    async def close(self) -> None:
        if self._head_task is not None:  # a head read in flight (catch_up_to_head)
            self._head_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._head_task
            self._head_task = None
        if self._follower is not None:
            self._follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._follower
            self._follower = None
        if self._committer is not None:
            await self._committer.stop()
            self._committer = None
        await self.persistence.close()

    # ------------------------------------------------- several processes (SharedLog)
    async def catch_up_to_head(self) -> None:
        """Return once this process has published every commit the database had when
        the call began (another process's included): a query that begins after this
        reads every commit acknowledged before it was asked, wherever it was made
        (strict serializability across processes; mutations get it from their commit
        validation). Free with one process; otherwise one read of the head, shared by
        every caller that arrives while the previous read is in flight."""
        if self._follower is None:
            return
        if self._head_read is None:
            loop = asyncio.get_running_loop()
            self._head_read = loop.create_future()
            self._head_task = loop.create_task(self._read_head(self._head_read))
            await asyncio.shield(self._head_read)
            return
        # A read already in flight may have begun before a commit this caller must see:
        # wait for the next one (started when this one ends), shared by all who wait.
        if self._next_head_read is None:
            self._next_head_read = asyncio.get_running_loop().create_future()
        await asyncio.shield(self._next_head_read)

    async def _read_head(self, done: asyncio.Future[None]) -> None:
        while True:
            try:
                head = await self.persistence.max_ts()
                if head > self.latest_ts:
                    assert self._committer is not None
                    async with self._committer.lock:
                        if head > self.latest_ts:
                            await self._catch_up()
            except Exception as e:
                if not done.done():
                    done.set_exception(e)
            else:
                if not done.done():
                    done.set_result(None)
            nxt, self._next_head_read = self._next_head_read, None
            if nxt is None:
                self._head_read = None
                return
            self._head_read = done = nxt

    async def _follow(self) -> None:
        """Learn other processes' commits: on each notification, and every second."""
        assert isinstance(self.persistence, SharedLog)
        while True:
            try:
                notified = await self.persistence.wait_for_commits(FOLLOW_POLL_S)
                if notified is not None and notified <= self.latest_ts:
                    continue  # our own commit, already published
                assert self._committer is not None
                async with self._committer.lock:
                    if notified is None or notified > self.latest_ts:
                        await self._catch_up()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("following the shared commit log failed; retrying")
                await asyncio.sleep(FOLLOW_POLL_S)

    async def _catch_up(self) -> None:
        """Append commits made by other processes to the write log and publish them, so
        OCC validation, subscriptions and the scheduler see them (caller holds the lock)."""
        assert isinstance(self.persistence, SharedLog)
        assert self._committer is not None and self.write_log is not None
        while True:
            commits = await self.persistence.commits_after(self.latest_ts)
            if not commits:
                return
            published: list[Committed] = []
            for commit in commits:
                self.write_log.append(commit.ts, commit.written)
                self._committer.observe(commit.ts, commit.written)
                catalog = None
                if commit.catalog_changed:
                    catalog = (await self._load_catalog(commit.ts)).with_schema(
                        await self._load_schema_at(commit.ts)
                    )
                request = CommitRequest(commit.ts, ReadSet(), [], [], commit.written, catalog)
                published.append(Committed(commit.ts, request))
            self._publish(published)

    @property
    def committer(self) -> Committer:
        assert self._committer is not None
        return self._committer

    # ----------------------------------------------------------- catalog & schema
    async def _load_catalog(self, ts: int) -> Catalog:
        boot = Catalog.bootstrap()
        txn = Transaction(self, ts, boot, now_ms=self.clock(), limits=None, writable=False)
        tables_table = boot.tables_by_name[TABLES_TABLE]
        index_table = boot.tables_by_name[INDEX_TABLE]
        rows = [doc async for _, doc in txn.scan(tables_table.by_id, b"", None)]
        index_rows = [doc async for _, doc in txn.scan(index_table.by_id, b"", None)]
        tables: list[TableInfo] = list(SYSTEM_TABLES)
        by_number: dict[int, dict[str, IndexInfo]] = {}
        max_index = 0
        for doc in index_rows:
            number = int(doc["tableNumber"])  # type: ignore[arg-type]
            index_id = int(doc["indexId"])  # type: ignore[arg-type]
            max_index = max(max_index, index_id)
            by_number.setdefault(number, {})
        names = {int(d["number"]): str(d["name"]) for d in rows}  # type: ignore[arg-type]
        for doc in index_rows:
            number = int(doc["tableNumber"])  # type: ignore[arg-type]
            name = str(doc["name"])
            fields = tuple(str(f) for f in doc["fields"])  # type: ignore[union-attr]
            by_number[number][name] = index_info(
                int(doc["indexId"]),  # type: ignore[arg-type]
                names.get(number, "?"),
                number,
                name,
                fields,
                doc["state"],  # type: ignore[arg-type]
                str(doc["_id"]),
            )
        max_table = 0
        for doc in rows:
            number = int(doc["number"])  # type: ignore[arg-type]
            max_table = max(max_table, number)
            tables.append(
                TableInfo(str(doc["name"]), number, by_number.get(number, {}), str(doc["_id"]))
            )
        catalog = Catalog.build(tables)
        return Catalog.build(
            tables,
            max(catalog.next_table_number, max_table + 1),
            max(catalog.next_index_id, max_index + 1),
        )

    async def _load_schema(self) -> SchemaDefinition | None:
        return await self._load_schema_at(self.latest_ts)

    async def _load_schema_at(self, ts: int) -> SchemaDefinition | None:
        boot = Catalog.bootstrap()
        txn = Transaction(self, ts, boot, now_ms=self.clock(), limits=None, writable=False)
        table = txn.catalog.tables_by_name[SCHEMAS_TABLE]
        active: SchemaDefinition | None = None
        async for _, doc in txn.scan(table.by_id, b"", None):
            if doc.get("state") == "active":
                text = doc["schema"]
                assert isinstance(text, (str, dict))
                active = SchemaDefinition.from_json(text)
        return active

    @property
    def schema(self) -> SchemaDefinition | None:
        return self.catalog.schema

    # ------------------------------------------------------------ transactions
    def begin(
        self,
        *,
        writable: bool = True,
        limits: Limits | None = DEFAULT_LIMITS,
        now_ms: float | None = None,
        ts: int | None = None,
    ) -> Transaction:
        """A transaction at the latest published snapshot (or at ``ts``, read-only)."""
        if ts is not None and ts != self.latest_ts:
            if ts > self.latest_ts:
                raise ValueError(f"timestamp {ts} is in the future (latest {self.latest_ts})")
            if ts < self.retained_from:
                raise RetentionError(
                    f"Timestamp {ts} is older than the retention window: versions before "
                    f"{self.retained_from} may have been removed."
                )
            writable = False
        txn = Transaction(
            self,
            self.latest_ts if ts is None else ts,
            self.catalog,
            now_ms=self.clock() if now_ms is None else now_ms,
            limits=limits,
            writable=writable,
        )
        readers = self._readers
        readers.append(weakref.ref(txn))
        if len(readers) >= self._sweep_readers_at:
            live = [r for r in readers if r() is not None]
            self._readers = live
            self._sweep_readers_at = max(_READERS_SWEEP_MIN, 2 * len(live))
        return txn

    # -------------------------------------------------------------- retention
    def oldest_reader_ts(self) -> int:
        """The oldest snapshot a live transaction of this process reads."""
        live = [t for t in (r() for r in self._readers) if t is not None]
        return min((t.begin_ts for t in live), default=self.latest_ts)

    async def collect_old_versions(self, keep_ns: int, batch: int = 5000) -> int:
        """Remove versions older than ``keep_ns`` before the latest commit that no live
        transaction can still read; returns how many entries went.

        The floor is published (and persisted) before anything is deleted, so a
        time-travel read below it is refused rather than answered from a partial log.
        """
        floor = min(self.latest_ts - keep_ns, self.oldest_reader_ts())
        if floor <= self.retained_from:
            return 0
        self.retained_from = floor
        await self.persistence.set_global(RETAINED_FROM, str(floor))
        total = 0
        while True:
            n = await self.persistence.delete_versions_before(floor, batch)
            total += n
            if n == 0:
                return total
            await asyncio.sleep(0)

    async def commit(self, txn: Transaction) -> int:
        """Commit ``txn``; returns its commit timestamp (its begin ts if it wrote nothing).

        Raises :class:`OccConflict` if something it read changed since it began.
        """
        request = txn.commit_request()
        if request is None:  # nothing written
            return txn.begin_ts
        assert self._client is not None
        # Awaited here, not through a coroutine of the committer's (one frame fewer).
        # Not shielded: a caller cancelled while queued cancels its future, and the
        # committer skips a done future, so the commit happens once or not at all (a
        # cancel after acceptance only stops the caller waiting for the answer).
        if not self.commit_observers:
            return await self._client.submit(request)
        start = time.perf_counter()
        ts = await self._client.submit(request)
        for observe in self.commit_observers:  # /metrics: commit latency
            observe(time.perf_counter() - start)
        return ts

    def _publish(self, committed: list[Committed]) -> None:
        for item in committed:
            request = item.request
            if request.catalog is not None:
                self.catalog = request.catalog
        self.latest_ts = committed[-1].ts
        for listener in list(self._listeners):
            listener(committed)
        if self._ts_waiters:
            waiting, self._ts_waiters = self._ts_waiters, []
            for ts, waiter in waiting:
                if ts > self.latest_ts:
                    self._ts_waiters.append((ts, waiter))
                else:
                    _wake(waiter)

    async def wait_published(self, ts: int, timeout: float) -> None:
        """Until transactions begin at ``ts`` or later, or ``timeout`` seconds pass (a
        commit whose write failed is never published)."""
        if ts <= self.latest_ts:
            return
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        # Awaited directly (not through wait_for, which adds a hop): waiters wake in the
        # order they queued, ahead of the callers of the commit just published, so a
        # hot document changes hands in turn instead of staying with its last writer.
        timer = loop.call_later(timeout, _wake, waiter)
        self._ts_waiters.append((ts, waiter))
        try:
            await waiter
        finally:
            timer.cancel()
            if any(w is waiter for _, w in self._ts_waiters):  # timed out or cancelled
                self._ts_waiters = [(t, w) for t, w in self._ts_waiters if w is not waiter]

    def add_listener(self, listener: CommitListener) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    async def write_index_entries(self, entries: list[IndexEntry]) -> None:
        """Backfill: write index entries for versions that predate the index."""
        await self.persistence.write([], entries)
