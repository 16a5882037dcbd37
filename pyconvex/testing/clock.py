"""A clock that tests move: wall-clock time plus an offset that only grows."""

from __future__ import annotations

import time


class VirtualClock:
    """Milliseconds since the epoch, ``advance``-able. Real time still flows underneath,
    so documents created one after another keep their creation order."""

    def __init__(self) -> None:
        self.offset_ms = 0.0

    def __call__(self) -> float:
        return time.time_ns() / 1_000_000 + self.offset_ms

    def advance(self, ms: float) -> None:
        if ms < 0:
            raise ValueError(f"time only moves forward; got advance({ms})")
        self.offset_ms += ms
