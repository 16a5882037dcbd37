"""Log lines for long work (index backfills, search index builds), so a slow step is
never silent: nothing for work that finishes within ``QUIET_S`` (a schema push on a
small table stays quiet), then a line every ``EVERY_S`` saying how far it got, and a
last line with the count and the time taken. ``pyconvex dev`` prints them on its
console, ``pyconvex serve`` as JSON lines on stderr.
"""

from __future__ import annotations

import logging
import time

QUIET_S = 1.0
EVERY_S = 2.0


class ProgressLog:
    def __init__(self, logger: logging.Logger, what: str, unit: str) -> None:
        self.logger = logger
        self.what = what
        self.unit = unit
        self.count = 0
        self.started = time.monotonic()
        self._next = self.started + QUIET_S
        self._spoke = False

    def advance(self, n: int) -> None:
        self.count += n
        now = time.monotonic()
        if now >= self._next:
            self._next = now + EVERY_S
            self._spoke = True
            self.logger.info("%s: %s %s so far (%.1f s)", self.what, f"{self.count:,}", self.unit,
                             now - self.started)

    def done(self) -> None:
        elapsed = time.monotonic() - self.started
        if self._spoke or elapsed >= QUIET_S:
            self.logger.info("%s: done, %s %s in %.1f s", self.what, f"{self.count:,}", self.unit,
                             elapsed)
