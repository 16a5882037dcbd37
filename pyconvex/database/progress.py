"""Progress of long work (index backfills, search index builds), so a slow step is
never silent.

Log lines: nothing for work that finishes within ``QUIET_S`` (a schema push on a small
table stays quiet), then a line every ``EVERY_S`` saying how far it got, and a last line
with the count and the time taken. ``pyconvex dev`` prints them on its console,
``pyconvex serve`` as JSON lines on stderr.

The same counts are on the database's :class:`ProgressBoard` while the work runs, for
the dashboard (documents done and total per index being backfilled).
"""

from __future__ import annotations

import logging
import time
import weakref
from typing import Any

QUIET_S = 1.0
EVERY_S = 2.0


class ProgressLog:
    def __init__(
        self, logger: logging.Logger, what: str, unit: str, *,
        board: ProgressBoard | None = None, kind: str = "", table: str = "", index: str = "",
        total: int | None = None,
    ) -> None:
        self.logger = logger
        self.what = what
        self.unit = unit
        self.kind = kind
        self.table = table
        self.index = index
        self.total = total
        self.count = 0
        self.started = time.monotonic()
        self.started_ms = time.time() * 1000
        self._next = self.started + QUIET_S
        self._spoke = False
        self._board = board
        if board is not None:
            board.add(self)

    def advance(self, n: int) -> None:
        self.count += n
        now = time.monotonic()
        if now >= self._next:
            self._next = now + EVERY_S
            self._spoke = True
            self.logger.info("%s: %s %s so far (%.1f s)", self.what, f"{self.count:,}", self.unit,
                             now - self.started)

    def done(self) -> None:
        self.close()
        elapsed = time.monotonic() - self.started
        if self._spoke or elapsed >= QUIET_S:
            self.logger.info("%s: done, %s %s in %.1f s", self.what, f"{self.count:,}", self.unit,
                             elapsed)

    def close(self) -> None:
        """Off the board (finished or failed)."""
        if self._board is not None:
            self._board.remove(self)
            self._board = None

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "table": self.table, "index": self.index, "what": self.what,
                "unit": self.unit, "done": self.count, "total": self.total,
                "startedMs": self.started_ms}


class ProgressBoard:
    """The long work running now in one database."""

    def __init__(self) -> None:
        self._running: dict[int, ProgressLog] = {}

    def add(self, work: ProgressLog) -> None:
        self._running[id(work)] = work

    def remove(self, work: ProgressLog) -> None:
        self._running.pop(id(work), None)

    def running(self) -> list[ProgressLog]:
        return list(self._running.values())


_BOARDS: weakref.WeakKeyDictionary[object, ProgressBoard] = weakref.WeakKeyDictionary()


def progress_board(db: object) -> ProgressBoard:
    """The board of ``db`` (a Database; any object that can be weakly referenced)."""
    board = _BOARDS.get(db)
    if board is None:
        board = _BOARDS[db] = ProgressBoard()
    return board
