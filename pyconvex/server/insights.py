"""The last hour of function executions, per minute: what the dashboard's charts and
insights read.

One runner listener, O(1) per execution: the record lands in the bucket of its minute
(a ring of ``MINUTES``; a bucket older than the ring is reset when its slot comes round)
under its function: calls, errors, a duration histogram, documents and bytes read and
written, documents read by queries without an index range, the largest read set; the
execution also competes for the minute's ``TOP`` largest read sets (a heap of ``TOP``),
and each OCC conflict it lost counts against the index key it lost on.

Durations go into logarithmic buckets (each ``RATIO`` wider than the one before), so a
minute holds a few dozen counters per function however many calls it saw, and p50/p99
come out within ``RATIO - 1`` (5%) of the exact figure.

Nothing here is read on the execution path: the dashboard's requests merge the buckets.
"""

from __future__ import annotations

import heapq
import math
from collections import Counter
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from functools import partial
from itertools import compress, repeat
from operator import add, attrgetter, lt, mul
from typing import Any, TypeVar

from pyconvex.database import Catalog
from pyconvex.errors import InvalidValueError
from pyconvex.functions import ExecutionRecord
from pyconvex.values.keys import decode_key

SYSTEM_PREFIX = "_system/"

K = TypeVar("K")
H = TypeVar("H", bound=Hashable)
MINUTES = 60
MINUTE_MS = 60_000
TOP = 10
RATIO = 1.05
_MIN_MS = 0.001  # durations below a microsecond share the first bucket
_PER_MIN_MS = 1 / _MIN_MS
_PER_LOG_RATIO = 1 / math.log(RATIO)
_log = math.log


_started_ms = attrgetter("started_ms")
_path = attrgetter("path")
_error = attrgetter("error")
_duration_ms = attrgetter("duration_ms")
_docs_read = attrgetter("docs_read")
_docs_written = attrgetter("docs_written")
_bytes_written = attrgetter("bytes_written")
_conflicts = attrgetter("conflicts")
_above_min = partial(lt, _MIN_MS)  # _above_min(ms): _MIN_MS < ms


def groups(records: list[ExecutionRecord], key: Callable[[ExecutionRecord], H],
           ) -> Iterable[tuple[H, list[ExecutionRecord]]]:
    """``records`` by ``key``, in the order each key first appears, each group in the
    records' order. One key (a batch of one function, the usual case under load) takes
    one pass in C."""
    keys = list(map(key, records))
    if keys.count(keys[0]) == len(keys):
        return ((keys[0], records),)
    out: dict[H, list[ExecutionRecord]] = {}
    for k, record in zip(keys, records, strict=True):
        group = out.get(k)
        if group is None:
            out[k] = [record]
        else:
            group.append(record)
    return out.items()


def _ms_of(bucket: int) -> float:
    """A bucket's geometric middle (its figure for quantiles)."""
    return _MIN_MS if bucket == 0 else _MIN_MS * RATIO ** (bucket - 0.5)


@dataclass(slots=True)
class _Cell:
    """One function in one minute."""

    kind: str = ""
    calls: int = 0
    errors: int = 0
    durations: dict[int, int] = field(default_factory=dict)
    docs_read: int = 0
    bytes_read: int = 0
    docs_written: int = 0
    bytes_written: int = 0
    unindexed_read: int = 0
    unindexed_calls: int = 0
    max_docs_read: int = 0
    conflicts: int = 0
    unindexed_tables: dict[str, int] | None = None


@dataclass(slots=True)
class _Minute:
    minute: int
    cells: dict[str, _Cell] = field(default_factory=dict)
    top: list[tuple[int, int, ExecutionRecord]] = field(default_factory=list)
    """The minute's largest read sets: a min-heap of (documents read, seq, record)."""
    top_floor: int = 0
    """What a read set must exceed to enter ``top`` (0 until it holds ``TOP``)."""
    conflicts: dict[tuple[int, bytes], Counter[str]] = field(default_factory=dict)
    """Conflicts lost per (index id, key), by the function that lost them."""


class Insights:
    def __init__(self, minutes: int = MINUTES) -> None:
        self.minutes = minutes
        self._ring: list[_Minute | None] = [None] * minutes
        self._current: _Minute | None = None  # the newest minute's bucket
        self._seq = 0
        self.pending: Callable[[], None] | None = None
        """Hands over executions not yet recorded (a runner's ``Journal.flush``, set by
        ``Metrics.attach``): every read calls it first."""

    # ---------------------------------------------------------------- recording
    def on_execution(self, record: ExecutionRecord) -> None:
        """One execution (as ``on_executions``)."""
        self.on_executions([record])

    def on_executions(self, records: list[ExecutionRecord]) -> None:
        """Executions in the order they finished (a journal's batch, fed by ``Metrics``).
        System functions (``_system/...``, what the dashboard itself subscribes to) are
        left out, as Convex leaves them out: the figures are the deployment's own
        functions.

        A batch within one minute (nearly every one) is recorded per function: its
        figures summed by C iterators over the batch (``map``, ``Counter``, ``sum``), the
        same figures the record-by-record loop gives; only executions that read
        documents or lost conflicts are then taken one by one, in order."""
        if not records:
            return
        started = list(map(_started_ms, records))
        minute = int(min(started) // MINUTE_MS)
        if int(max(started) // MINUTE_MS) != minute:
            self._record_each(records)
            return
        bucket = self._current
        if bucket is None or bucket.minute != minute:
            bucket = self._bucket(minute)
            if bucket is None:
                return
        cells = bucket.cells
        for path, group in groups(records, _path):
            if path.startswith(SYSTEM_PREFIX):
                continue
            cell = cells.get(path)
            if cell is None:
                cell = cells[path] = _Cell(group[0].kind)
            n = len(group)
            cell.calls += n
            cell.errors += n - list(map(_error, group)).count(None)
            durations = cell.durations
            ms = list(map(_duration_ms, group))
            timed = list(filter(_above_min, ms))  # the rest share the first bucket
            if len(timed) < n:
                durations[0] = durations.get(0, 0) + n - len(timed)
            slots = map(add, map(int, map(mul, map(_log, map(mul, timed, repeat(_PER_MIN_MS))),
                                          repeat(_PER_LOG_RATIO))), repeat(1))
            for slot, count in Counter(slots).items():
                durations[slot] = durations.get(slot, 0) + count
            written = list(map(_docs_written, group))
            if any(written):
                cell.docs_written += sum(written)
                cell.bytes_written += sum(compress(map(_bytes_written, group), written))
        if any(map(_docs_read, records)) or any(map(_conflicts, records)):
            for record in records:  # in order: the largest read sets' ties go by it
                if not record.path.startswith(SYSTEM_PREFIX):
                    self._reads_and_conflicts(bucket, cells[record.path], record)

    def _reads_and_conflicts(self, bucket: _Minute, cell: _Cell, record: ExecutionRecord) -> None:
        """What one execution read and the conflicts it lost (as ``_record_each``)."""
        read = record.docs_read
        if read:
            cell.docs_read += read
            cell.bytes_read += record.bytes_read
            if read > cell.max_docs_read:
                cell.max_docs_read = read
            if record.docs_read_unindexed:
                _count_unindexed(cell, record)
            if read > bucket.top_floor:
                self._keep_large(bucket, read, record)
        if record.conflicts:
            self._count_conflicts(bucket, cell, record)

    def _record_each(self, records: list[ExecutionRecord]) -> None:
        """A batch across minutes, one record at a time, in order."""
        bucket = self._current
        for record in records:
            path = record.path
            if path.startswith(SYSTEM_PREFIX):
                continue
            minute = int(record.started_ms // MINUTE_MS)
            if bucket is None or bucket.minute != minute:
                bucket = self._bucket(minute)
                if bucket is None:
                    bucket = self._current
                    continue
            cell = bucket.cells.get(path)
            if cell is None:
                cell = bucket.cells[path] = _Cell(record.kind)
            cell.calls += 1
            if record.error is not None:
                cell.errors += 1
            ms = record.duration_ms
            slot = int(_log(ms * _PER_MIN_MS) * _PER_LOG_RATIO) + 1 if ms > _MIN_MS else 0
            durations = cell.durations
            durations[slot] = durations.get(slot, 0) + 1
            if record.docs_written:
                cell.docs_written += record.docs_written
                cell.bytes_written += record.bytes_written
            if record.docs_read or record.conflicts:
                self._reads_and_conflicts(bucket, cell, record)

    def _bucket(self, minute: int) -> _Minute | None:
        """The bucket of ``minute``, reset if its slot held an older minute (None for a
        minute before the slot's: a clock step back past the window)."""
        slot = minute % self.minutes
        bucket = self._ring[slot]
        if bucket is None or bucket.minute < minute:
            bucket = self._ring[slot] = _Minute(minute)
        elif bucket.minute > minute:
            return None
        if self._current is None or minute >= self._current.minute:
            self._current = bucket
        return bucket

    def _keep_large(self, bucket: _Minute, read: int, record: ExecutionRecord) -> None:
        self._seq += 1
        top = bucket.top
        if len(top) < TOP:
            heapq.heappush(top, (read, self._seq, record))
        else:
            heapq.heapreplace(top, (read, self._seq, record))
        if len(top) == TOP:
            bucket.top_floor = top[0][0]

    @staticmethod
    def _count_conflicts(bucket: _Minute, cell: _Cell, record: ExecutionRecord) -> None:
        for key in record.conflicts:
            cell.conflicts += 1
            losers = bucket.conflicts.get(key)
            if losers is None:
                losers = bucket.conflicts[key] = Counter()
            losers[record.path] += 1

    # ---------------------------------------------------------------- reading
    def _window(self, now_ms: float) -> list[_Minute]:
        """The buckets of the last ``minutes`` minutes (the current one included), once
        the executions still pending are recorded."""
        if self.pending is not None:
            self.pending()
        newest = int(now_ms // MINUTE_MS)
        return [b for b in self._ring if b is not None and newest - self.minutes < b.minute <= newest]

    def series(self, now_ms: float, path: str | None = None) -> dict[str, Any]:
        """Per-minute figures per function for charts: ``buckets[i]`` is the minute
        starting at ``fromMs + i * bucketMs`` (oldest first; minutes without calls are
        zeros)."""
        newest = int(now_ms // MINUTE_MS)
        first = newest - self.minutes + 1
        out: dict[str, dict[str, Any]] = {}
        for bucket in self._window(now_ms):
            for name, cell in bucket.cells.items():
                if path is not None and name != path:
                    continue
                row = out.get(name)
                if row is None:
                    row = out[name] = {"kind": cell.kind,
                                       "buckets": [_empty() for _ in range(self.minutes)]}
                row["buckets"][bucket.minute - first] = _figures(cell)
        return {"bucketMs": MINUTE_MS, "fromMs": first * MINUTE_MS, "functions": out}

    def totals(self, now_ms: float) -> dict[str, dict[str, Any]]:
        """Per function over the window: the figures of ``series`` summed (quantiles
        from the merged histograms)."""
        merged: dict[str, _Cell] = {}
        for bucket in self._window(now_ms):
            for name, cell in bucket.cells.items():
                into = merged.get(name)
                if into is None:
                    into = merged[name] = _Cell(cell.kind)
                _merge(into, cell)
        return {name: {"kind": cell.kind, **_figures(cell)} for name, cell in merged.items()}

    def latency(self, now_ms: float) -> dict[str, float | None]:
        """p50/p99 of every execution in the window."""
        total = _Cell()
        for bucket in self._window(now_ms):
            for cell in bucket.cells.values():
                _add(total.durations, cell.durations)
                total.calls += cell.calls
        return {"calls": total.calls, "p50Ms": _quantile(total.durations, 0.5),
                "p99Ms": _quantile(total.durations, 0.99)}

    def report(self, now_ms: float, catalog: Catalog) -> dict[str, Any]:
        """Insights: per function what it read (and how much without an index), the
        largest read sets, and the keys hot with OCC conflicts."""
        window = self._window(now_ms)
        functions = sorted(
            ({"path": name, **row} for name, row in self.totals(now_ms).items()),
            key=lambda r: (-r["documentsRead"], r["path"]))
        largest = heapq.nlargest(TOP, (item for b in window for item in b.top))
        hot: dict[tuple[int, bytes], Counter[str]] = {}
        for bucket in window:
            for key, losers in bucket.conflicts.items():
                hot.setdefault(key, Counter()).update(losers)
        conflicts = sorted(
            (_conflict_json(catalog, key, losers) for key, losers in hot.items()),
            key=lambda c: (-c["conflicts"], c["table"], c["index"]))
        return {
            "windowMinutes": self.minutes,
            "functions": functions,
            "unindexedReads": [f for f in functions if f["unindexedDocumentsRead"]],
            "largestReadSets": [
                {"path": r.path, "kind": r.kind, "requestId": r.request_id,
                 "documentsRead": r.docs_read, "bytesRead": r.bytes_read,
                 "unindexedDocumentsRead": r.docs_read_unindexed,
                 "timestamp": r.started_ms, "durationMs": round(r.duration_ms, 3)}
                for _, _, r in largest],
            "conflicts": conflicts,
        }


def _count_unindexed(cell: _Cell, record: ExecutionRecord) -> None:
    cell.unindexed_read += record.docs_read_unindexed
    cell.unindexed_calls += 1
    tables = cell.unindexed_tables
    if tables is None:
        tables = cell.unindexed_tables = {}
    _add(tables, dict(record.unindexed_tables))


def _empty() -> dict[str, Any]:
    return _figures(_Cell())


def _merge(into: _Cell, cell: _Cell) -> None:
    into.calls += cell.calls
    into.errors += cell.errors
    _add(into.durations, cell.durations)
    into.docs_read += cell.docs_read
    into.bytes_read += cell.bytes_read
    into.docs_written += cell.docs_written
    into.bytes_written += cell.bytes_written
    into.unindexed_read += cell.unindexed_read
    into.unindexed_calls += cell.unindexed_calls
    into.max_docs_read = max(into.max_docs_read, cell.max_docs_read)
    into.conflicts += cell.conflicts
    if cell.unindexed_tables:
        if into.unindexed_tables is None:
            into.unindexed_tables = {}
        _add(into.unindexed_tables, cell.unindexed_tables)


def _add(into: dict[K, int], counts: dict[K, int]) -> None:
    for key, n in counts.items():
        into[key] = into.get(key, 0) + n


def _quantile(durations: dict[int, int], q: float) -> float | None:
    total = sum(durations.values())
    if not total:
        return None
    rank = max(1, math.ceil(q * total))
    seen = 0
    for bucket in sorted(durations):
        seen += durations[bucket]
        if seen >= rank:
            return round(_ms_of(bucket), 3)
    raise AssertionError("unreachable: the ranks add up to the total")


def _figures(cell: _Cell) -> dict[str, Any]:
    return {
        "calls": cell.calls, "errors": cell.errors,
        "p50Ms": _quantile(cell.durations, 0.5), "p99Ms": _quantile(cell.durations, 0.99),
        "documentsRead": cell.docs_read, "bytesRead": cell.bytes_read,
        "documentsWritten": cell.docs_written, "bytesWritten": cell.bytes_written,
        "unindexedDocumentsRead": cell.unindexed_read, "unindexedCalls": cell.unindexed_calls,
        "unindexedTables": dict(cell.unindexed_tables or {}),
        "maxDocumentsRead": cell.max_docs_read, "occConflicts": cell.conflicts,
    }


def _conflict_json(catalog: Catalog, key: tuple[int, bytes], losers: Counter[str]) -> dict[str, Any]:
    """Which table, index and document a conflict key is: every index key ends with the
    document's id (``by_id``'s is the id alone)."""
    index_id, raw = key
    table_name, index_name, doc_id = "?", "?", None
    for table in catalog.tables_by_name.values():
        for index in table.indexes.values():
            if index.id == index_id:
                table_name, index_name = table.name, index.name
    try:
        values = decode_key(raw)
        doc_id = values[-1] if values and isinstance(values[-1], str) else None
    except (InvalidValueError, IndexError):
        doc_id = None
    return {"table": table_name, "index": index_name, "documentId": doc_id,
            "conflicts": sum(losers.values()), "functions": dict(losers.most_common())}
