"""Recent function executions, for ``pyconvex logs`` and the dev console to follow.

A bounded ring with sequence numbers: a follower asks for everything after the last
number it saw and waits (long-polls) when there is nothing new, so it never misses a
line while connected and a slow follower cannot make the server hold unbounded memory.
"""

from __future__ import annotations

import asyncio
from collections import deque
from itertools import islice
from typing import Any

from pyconvex.functions import ExecutionRecord
from pyconvex.functions.runtime.journal import JournalObserver

CAPACITY = 10_000


class LogBuffer(JournalObserver):
    """The last ``capacity`` records; the one at ``_entries[i]`` has sequence number
    ``_seq - len(_entries) + 1 + i`` (numbers are not stored: a batch of records is
    one ``extend``)."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        self._entries: deque[ExecutionRecord] = deque(maxlen=capacity)
        self._seq = 0
        self._event = asyncio.Event()
        self._waiting = 0
        """Followers waiting in ``wait_after``: without any, an execution does not replace
        and set the event (an ``asyncio.Event`` made per execution was a microsecond of
        every call's cost)."""
        self._stopping = False
        self._journal = None
        """The runner's journal once attached (``JournalObserver``): reads take what it
        holds first, and it hands records over within their loop step while a follower
        waits."""

    @property
    def last_seq(self) -> int:
        if self._journal is not None:
            self._journal.flush()
        return self._seq

    def append(self, record: ExecutionRecord) -> None:
        self.extend([record])

    def extend(self, records: list[ExecutionRecord]) -> None:
        """A journal consumer (``functions/runtime/journal.py``)."""
        self._seq += len(records)
        self._entries.extend(records)
        if self._waiting:
            event, self._event = self._event, asyncio.Event()
            event.set()

    on_executions = extend  # the journal consumer's name (JournalObserver)

    def after(self, seq: int, limit: int = 1000) -> list[tuple[int, ExecutionRecord]]:
        if self._journal is not None:
            self._journal.flush()
        entries, last = self._entries, self._seq
        if not entries or last <= seq:
            return []
        first = last - len(entries) + 1
        skip = max(0, seq + 1 - first)
        return list(zip(range(first + skip, last + 1),
                        islice(entries, skip, min(len(entries), skip + limit)), strict=False))

    def release_waiters(self) -> None:
        """The server is stopping: followers get what there is now instead of holding the
        shutdown (which waits for open requests) for up to their whole wait."""
        self._stopping = True
        self._event.set()

    async def wait_after(self, seq: int, timeout: float) -> list[tuple[int, ExecutionRecord]]:
        entries = self.after(seq)
        if entries or self._stopping:
            return entries
        self._waiting += 1
        if self._journal is not None:
            self._journal.want_prompt(self, True)
        try:
            await asyncio.wait_for(self._event.wait(), timeout)
        except TimeoutError:
            return []
        finally:
            self._waiting -= 1
            if self._journal is not None and not self._waiting:
                self._journal.want_prompt(self, False)
        return self.after(seq)


def record_json(seq: int, record: ExecutionRecord) -> dict[str, Any]:
    return {
        "seq": seq,
        "path": record.path,
        "kind": record.kind,
        "logLines": record.log_lines,
        "error": record.error,
        "timestamp": record.started_ms,
        "durationMs": round(record.duration_ms, 3),
        "requestId": record.request_id,
        "traceback": record.traceback,
        "usage": {
            "documentsRead": record.docs_read,
            "bytesRead": record.bytes_read,
            "documentsWritten": record.docs_written,
            "bytesWritten": record.bytes_written,
        },
    }
