"""The storage boundary. ``open_persistence(url)`` picks the backend from the URL."""

from __future__ import annotations

from pathlib import Path

from pyconvex.errors import BadRequestError
from pyconvex.persistence.base import (
    DocumentLogEntry,
    IndexEntry,
    IndexRow,
    LogCommit,
    Order,
    Persistence,
    PipelinedLog,
    SharedLog,
)


async def open_persistence(url: str) -> Persistence:
    """``sqlite:///path/to/db.sqlite3`` (created if missing) or ``postgresql://...``."""
    if url.startswith("sqlite:///"):
        from pyconvex.persistence.sqlite import SqlitePersistence

        path = Path(url[len("sqlite:///") :])
        path.parent.mkdir(parents=True, exist_ok=True)
        return await SqlitePersistence.open(path)
    if url.startswith(("postgres://", "postgresql://")):
        from pyconvex.persistence.postgres import PostgresPersistence

        return await PostgresPersistence.open(url)
    raise BadRequestError(
        f"Unknown database URL {url!r}: expected sqlite:///path or postgresql://..."
    )


__all__ = [
    "DocumentLogEntry",
    "IndexEntry",
    "IndexRow",
    "LogCommit",
    "Order",
    "Persistence",
    "PipelinedLog",
    "SharedLog",
    "open_persistence",
]
