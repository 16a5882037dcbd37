"""Named pause points: no-ops in production, held by tests to force an interleaving.

A test calls ``pauses.hold(NAME)`` to get a :class:`Hold`; the next time the engine
reaches ``await pauses.reached(NAME)`` it signals the hold and waits until the test
calls ``hold.release()``. Without a hold, ``reached`` returns at once.
"""

from __future__ import annotations

import asyncio


class Hold:
    def __init__(self) -> None:
        self.arrived = asyncio.Event()
        self._release = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None  # the engine's, once reached

    async def wait_arrived(self, timeout: float = 10.0) -> None:
        await asyncio.wait_for(self.arrived.wait(), timeout)

    def release(self) -> None:
        self._release.set()

    def release_from_another_thread(self) -> None:
        """For a test driving a server that runs its loop in another thread (an in-process
        live server): the release is handed to the engine's loop."""
        if self._loop is None:
            raise RuntimeError("the pause point has not been reached yet")
        self._loop.call_soon_threadsafe(self._release.set)


class PausePoints:
    def __init__(self) -> None:
        self._holds: dict[str, Hold] = {}
        self.active = False
        """Whether a test holds any pause point (the engine then takes its slow paths,
        which reach them). A plain attribute, kept by ``hold`` and ``reached``: every
        commit reads it."""

    def hold(self, name: str) -> Hold:
        hold = Hold()
        self._holds[name] = hold
        self.active = True
        return hold

    async def reached(self, name: str) -> None:
        if not self._holds:
            return
        hold = self._holds.pop(name, None)
        if hold is None:
            return
        self.active = bool(self._holds)
        hold._loop = asyncio.get_running_loop()
        hold.arrived.set()
        await hold._release.wait()
