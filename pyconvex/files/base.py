"""What the deployment needs from a blob store.

Blobs are immutable and named by the store (a random key). A blob is written in full
and made durable **before** the ``_storage`` row that refers to it commits; a blob
without a row (a crash mid-upload, a failed transaction, a deleted file) is an orphan,
and orphans are removed later by the collector, never on the request path.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class BlobInfo:
    key: str
    size: int
    sha256: bytes


class FileStore(Protocol):
    async def put(self, chunks: AsyncIterator[bytes], *, max_bytes: int | None = None) -> BlobInfo:
        """Write a new blob from ``chunks``; durable when this returns."""
        ...

    async def read(self, key: str) -> bytes | None: ...

    def local_path(self, key: str) -> Path | None:
        """A local file to serve (ranges included), or None for remote stores."""
        ...

    def stream(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        """Bytes ``[start, end)`` of the blob."""
        ...

    async def delete(self, key: str) -> None: ...

    async def orphan_candidates(self, older_than_s: float) -> list[str]:
        """Keys of blobs written more than ``older_than_s`` ago (the collector checks rows)."""
        ...

    # How long a ``size_bytes`` answer may be reused: counting a remote store means
    # listing it, one request per thousand blobs, too much for every metrics scrape.
    size_every_s: float

    async def size_bytes(self) -> int:
        """Bytes of every blob held, orphans included (what the store costs)."""
        ...
