"""Commit timestamps: int64 nanoseconds, strictly increasing, close to wall-clock time.

The oracle never goes backwards across restarts: it starts above the largest timestamp
persisted, so a clock that jumped back cannot reorder commits.
"""

from __future__ import annotations

import time

_time_ns = time.time_ns
"""The real clock, taken at import (as ``values/ids.py`` does): inside a function
``time.time_ns`` is the deterministic stand-in, a Python function that reads a context
variable first, and the fast path stamps a commit from its caller's task."""


class TimestampOracle:
    """Hands out commit timestamps; only the committer calls ``next``."""

    __slots__ = ("_last",)

    def __init__(self, last: int = 0) -> None:
        self._last = last

    @property
    def last(self) -> int:
        return self._last

    def observe(self, ts: int) -> None:
        """A timestamp issued elsewhere (another process): never hand out one at or below."""
        if ts > self._last:
            self._last = ts

    def next(self) -> int:
        ts = _time_ns()
        if ts <= self._last:
            ts = self._last + 1
        self._last = ts
        return ts
