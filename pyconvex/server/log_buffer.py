"""Recent function executions, for ``pyconvex logs`` and the dev console to follow.

A bounded ring with sequence numbers: a follower asks for everything after the last
number it saw and waits (long-polls) when there is nothing new, so it never misses a
line while connected and a slow follower cannot make the server hold unbounded memory.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

from pyconvex.functions import ExecutionRecord

CAPACITY = 10_000


class LogBuffer:
    def __init__(self, capacity: int = CAPACITY) -> None:
        self._entries: deque[tuple[int, ExecutionRecord]] = deque(maxlen=capacity)
        self._seq = 0
        self._event = asyncio.Event()
        self._waiting = 0
        """Followers waiting in ``wait_after``: without any, an execution does not replace
        and set the event (an ``asyncio.Event`` made per execution was a microsecond of
        every call's cost)."""
        self._stopping = False

    @property
    def last_seq(self) -> int:
        return self._seq

    def append(self, record: ExecutionRecord) -> None:
        self._seq += 1
        self._entries.append((self._seq, record))
        if self._waiting:
            event, self._event = self._event, asyncio.Event()
            event.set()

    def after(self, seq: int, limit: int = 1000) -> list[tuple[int, ExecutionRecord]]:
        if not self._entries or self._entries[-1][0] <= seq:
            return []
        return [(n, r) for n, r in self._entries if n > seq][:limit]

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
        try:
            await asyncio.wait_for(self._event.wait(), timeout)
        except TimeoutError:
            return []
        finally:
            self._waiting -= 1
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
