"""One fixture over every persistence backend: each test runs once per backend.

Adding a backend is one entry in ``BACKENDS`` (an async factory of a fresh, empty store).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from pyconvex.persistence import Persistence
from pyconvex.persistence.sqlite import SqlitePersistence


async def _sqlite(tmp: Path) -> Persistence:
    return await SqlitePersistence.open(tmp / "conformance.sqlite3")


BACKENDS: dict[str, Callable[[Path], Awaitable[Persistence]]] = {"sqlite": _sqlite}


@pytest.fixture(params=sorted(BACKENDS))
async def make_store(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[Callable[[], Awaitable[Persistence]]]:
    opened: list[Persistence] = []
    factory = BACKENDS[request.param]

    async def make() -> Persistence:
        store = await factory(tmp_path)
        opened.append(store)
        return store

    yield make
    for store in opened:
        await store.close()
