"""A sync session's lock: what ``asyncio.Lock`` does, with a free lock taken in one call.

Every mutation takes its session's lock to send its response and the Transition that
covers it, and nearly always finds it free. ``asyncio.Lock.acquire`` is a coroutine,
made and run for every take, and once any waiter has come and gone it looks for a
live waiter through a generator on every take; ``release`` calls a method of its own
to wake the next one. Here :meth:`SessionLock.take` takes a free lock with a plain
call (the caller awaits :meth:`SessionLock.acquire` only when it is not free), and a
release hands the lock straight to the oldest live waiter: first come, first served,
and nobody takes it between the release and that waiter's turn.
"""

from __future__ import annotations

import asyncio
from collections import deque


class SessionLock:
    """One holder at a time; waiters in arrival order (``async with`` works too)."""

    __slots__ = ("_held", "_waiters")

    def __init__(self) -> None:
        self._held = False
        self._waiters: deque[asyncio.Future[None]] | None = None  # made at the first wait

    def locked(self) -> bool:
        return self._held

    def take(self) -> bool:
        """Take the lock if it is free (True); False, and nothing changed, if not.
        (While anyone waits the lock is held: a release hands it over.)"""
        if self._held:
            return False
        self._held = True
        return True

    async def acquire(self) -> None:
        """Take the lock, waiting behind everyone who came first."""
        if self.take():
            return
        waiter = asyncio.get_running_loop().create_future()
        if self._waiters is None:
            self._waiters = deque()
        self._waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.cancelled():  # still in line (or skipped by a release already)
                try:
                    self._waiters.remove(waiter)
                except ValueError:
                    pass
            else:  # handed the lock just as it was cancelled: pass it on
                self.release()
            raise

    def release(self) -> None:
        """Hand the lock to the oldest waiter still waiting, else free it."""
        if not self._held:
            raise RuntimeError("SessionLock released while not held")
        waiters = self._waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the lock stays held: it is the waiter's now
                return
        self._held = False

    async def __aenter__(self) -> None:
        if not self.take():
            await self.acquire()

    async def __aexit__(self, *exc: object) -> None:
        self.release()
