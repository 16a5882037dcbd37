"""Work the server does for a function, inside the function's execution, that is not the
function's own: building a search index on its first search is seconds of the server's
time, which a query's 1 s limit must not count.

The function runtime sets ``current_meter`` while a query or mutation runs; code here
that may take long wraps itself in :func:`system_work`, which pauses that meter (and
its interrupt) for the duration.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Protocol


class Meter(Protocol):
    def pause(self) -> None: ...

    def resume(self) -> None: ...


current_meter: ContextVar[Meter | None] = ContextVar("pyconvex_meter", default=None)


@contextlib.contextmanager
def system_work() -> Iterator[None]:
    meter = current_meter.get()
    if meter is None:
        yield
        return
    meter.pause()
    try:
        yield
    finally:
        meter.resume()
