"""One fixture over every persistence backend: each test runs once per backend (tinydb style).

Adding a backend is one entry in ``BACKENDS``: an async factory that opens the store
living at ``place`` (a fresh per-test directory). Called again with the same ``place``
after a ``close()``, it must reopen the same data, which is how durability is tested.
A networked backend derives its database or schema name from ``place``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from pyconvex.persistence import Persistence
from pyconvex.persistence.postgres import PostgresPersistence
from pyconvex.persistence.sqlite import SqlitePersistence
from tests.pg import drop_schema, pg_url, schema_for

Factory = Callable[[Path], Awaitable[Persistence]]
MakeStore = Callable[[], Awaitable[Persistence]]


async def _sqlite(place: Path) -> Persistence:
    return await SqlitePersistence.open(place / "conformance.sqlite3")


async def _postgres(place: Path) -> Persistence:
    return await PostgresPersistence.open(pg_url(schema_for(place)))


BACKENDS: dict[str, Factory] = {"sqlite": _sqlite, "postgres": _postgres}


@pytest.fixture(params=sorted(BACKENDS))
async def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[MakeStore]:
    """``await make_store()`` opens (or reopens) this test's store; all are closed after."""
    opened: list[Persistence] = []
    factory = BACKENDS[request.param]

    async def make() -> Persistence:
        store = await factory(tmp_path)
        opened.append(store)
        return store

    yield make
    for store in opened:
        await store.close()
    if request.param == "postgres":
        await drop_schema(schema_for(tmp_path))


@pytest.fixture
async def store(make_store: MakeStore) -> Persistence:
    return await make_store()
