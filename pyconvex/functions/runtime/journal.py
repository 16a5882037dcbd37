"""Finished executions on their way to the server's observers (the log buffer that
``pyconvex logs`` and the dashboard follow, metrics, insights, log streams).

The runner appends each execution's record to :attr:`Journal.pending` (one list append
per call) and the observers take them in batches (``consumers``, each called with a
list of records), so their per-call work runs in one loop per batch instead of one
Python call per observer per execution. A batch is handed over:

- when a reader asks (``flush`` before the log buffer is read, ``/metrics`` renders or
  the dashboard reads insights): what a reader sees includes every finished execution;
- once per event loop step while some observer wants records at once (``prompt``: a
  follower waiting on the log buffer, a configured log stream);
- and when ``FLUSH_AT`` records are pending, which bounds the memory an unread server
  holds for them.

The observers take a journal through :class:`JournalObserver`'s ``attach`` and give it
up through its ``detach``.

Failures still reach the server's log synchronously, when they happen (``failures.py``):
the journal only carries the records.
"""

from __future__ import annotations

import abc
import asyncio
from collections.abc import Callable
from typing import NamedTuple


class ExecutionRecord(NamedTuple):
    """One finished execution, for log followers (``pyconvex logs``, the dev console, the
    dashboard), metrics and insights: Convex's function log entry. A named tuple, as
    immutable as the frozen dataclass it was and a quarter of its cost to build (every
    call makes one when the server listens)."""

    path: str
    kind: str
    log_lines: list[str]
    error: str | None
    started_ms: float
    duration_ms: float
    request_id: str = ""
    traceback: str | None = None
    docs_read: int = 0
    bytes_read: int = 0
    docs_written: int = 0
    bytes_written: int = 0
    docs_read_unindexed: int = 0
    """Of ``docs_read``, those read by queries with no index range."""
    conflicts: tuple[tuple[int, bytes], ...] = ()
    """The ``(index id, key)`` of each OCC conflict a mutation lost before this run."""
    unindexed_tables: tuple[tuple[str, int], ...] = ()
    """``docs_read_unindexed`` by table."""


ExecutionListener = Callable[[ExecutionRecord], None]

FLUSH_AT = 256
"""Pending records that are handed over without waiting for a reader."""

BatchConsumer = Callable[[list[ExecutionRecord]], None]


class Journal:
    """The runner's finished executions not yet handed to its ``consumers``."""

    __slots__ = ("consumers", "pending", "prompt", "scheduled")

    def __init__(self) -> None:
        self.pending: list[ExecutionRecord] = []
        self.consumers: list[BatchConsumer] = []
        self.prompt: set[object] = set()
        """Observers that want each record in the loop step it was made in (see
        :meth:`want_prompt`); while empty, records wait for a reader or ``FLUSH_AT``."""
        self.scheduled = False

    def want_prompt(self, owner: object, wanted: bool) -> None:
        """``owner`` wants records handed over within the loop step they are made in
        (``wanted``) or no longer does."""
        if wanted:
            self.prompt.add(owner)
            if self.pending:
                self.schedule()
        else:
            self.prompt.discard(owner)

    def add(self, record: ExecutionRecord) -> None:
        """One finished execution: handed over at this loop step's end if an observer
        wants it at once, else with ``FLUSH_AT`` records, else to the next reader."""
        pending = self.pending
        pending.append(record)
        if self.prompt:
            if not self.scheduled:
                self.schedule()
        elif len(pending) >= FLUSH_AT:
            self.flush()

    def schedule(self) -> None:
        """Hand the pending records over at the end of this loop step."""
        if not self.scheduled:
            self.scheduled = True
            asyncio.get_running_loop().call_soon(self.flush)

    def flush(self) -> None:
        """Hand every pending record to every consumer, in order."""
        self.scheduled = False
        pending = self.pending
        if pending:
            self.pending = []
            for consumer in self.consumers[:]:  # a consumer may remove itself
                consumer(pending)


class JournalObserver(abc.ABC):
    """A consumer of a runner's journal (the log buffer, metrics, log streams): its
    ``on_executions`` is handed each batch. ``attach``/``detach`` are the one place the
    consumer joins and leaves a journal, so that leaving always hands over what is
    pending first and takes back any wish for prompt records; an observer that does
    more on either (insights' read-through, a log stream's prompt) extends them.

    Nothing of this class runs per batch: the journal calls the subclass's own bound
    ``on_executions`` (the per-call path costs what it did before the class)."""

    _journal: Journal | None
    """Set to None by each subclass's ``__init__``, so that it is in the instance's
    dict from the start (not a class default found on a miss)."""

    @abc.abstractmethod
    def on_executions(self, records: list[ExecutionRecord]) -> None:
        """A batch of records, oldest first (the journal's consumer)."""

    def on_execution(self, record: ExecutionRecord) -> None:
        """One execution (as ``on_executions``)."""
        self.on_executions([record])

    def attach(self, journal: Journal) -> None:
        """Take the runner's records from ``journal`` in batches."""
        self._journal = journal
        journal.consumers.append(self.on_executions)

    def detach(self) -> None:
        """Take what is pending, then no more records (nor prompt ones)."""
        journal = self._journal
        if journal is not None:
            journal.flush()
            journal.consumers.remove(self.on_executions)
            journal.want_prompt(self, False)
            self._journal = None
