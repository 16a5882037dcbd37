"""A sync session's queue of mutations waiting to run, for its one worker.

``asyncio.Queue`` does more than a session needs, on every mutation: a put and a get
each go through its putter and getter deques, ``empty``/``full`` checks and the loop
lookup of its mixin, and it makes its three deques (about 760 bytes each) up front. A
session has one reader (its mutation worker) and one writer at a time (its receive
loop, or the shell taking a parsed Mutation text): this queue holds a deque and, only
while one of them waits, one future.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")


class OneReader(Generic[T]):
    """Items for one reader, and the future it waits on only while it waits. The
    container is the subclass's choice (an idle connection's list is smaller than a
    deque): anything with ``append``, ``len`` and truth."""

    __slots__ = ("_items", "_waiter")

    _items: list[T] | deque[T]

    def __init__(self) -> None:
        self._waiter: asyncio.Future[None] | None = None

    def qsize(self) -> int:
        return len(self._items)

    def put_nowait(self, item: T) -> None:
        self._items.append(item)
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def wait(self) -> asyncio.Future[None]:
        """A future done when an item is put (the caller awaits it directly: no
        coroutine frame of its own stays suspended while nothing arrives)."""
        waiter = self._waiter
        if waiter is None or waiter.done():
            waiter = self._waiter = asyncio.get_running_loop().create_future()
        return waiter


class MutationQueue(OneReader[T]):
    """First in, first out, at most ``maxsize`` items; ``put`` waits for room (the
    receive loop's flow control), ``put_nowait`` does not (its caller checks
    ``qsize`` first)."""

    __slots__ = ("_maxsize", "_room")

    _items: deque[T]

    def __init__(self, maxsize: int) -> None:
        super().__init__()
        self._items = deque()
        self._maxsize = maxsize
        self._room: asyncio.Future[None] | None = None  # the writer, waiting for room

    async def put(self, item: T) -> None:
        while len(self._items) >= self._maxsize:
            room = self._room
            if room is None or room.done():
                room = self._room = asyncio.get_running_loop().create_future()
            await room
        self.put_nowait(item)

    async def get(self) -> T:
        items = self._items
        while not items:
            await self.wait()
        item = self.take()
        assert item is not None
        return item

    def take(self) -> T | None:
        """The first item, or None when there is none (then ``wait``): the reader's
        ``get`` without a coroutine per item. (Items are never None.)"""
        items = self._items
        if not items:
            return None
        item = items.popleft()
        room = self._room
        if room is not None:
            self._room = None
            if not room.done():
                room.set_result(None)
        return item
