"""The default store: a local folder (``.pyconvex/files`` under ``pyconvex dev``).

A blob goes to ``tmp/<key>`` as it streams in, is fsynced, renamed into
``blobs/<key[:2]>/<key>`` and the folder fsynced: after ``put`` returns it survives a
crash, and a crash before that leaves only a temp file, which the collector removes.
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
import os
import secrets
import time
from collections.abc import AsyncIterator
from pathlib import Path

from pyconvex.errors import LimitExceededError, storage_full
from pyconvex.files.base import BlobInfo

CHUNK = 256 * 1024


class LocalFileStore:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.blobs = self.root / "blobs"
        self.tmp = self.root / "tmp"
        self.blobs.mkdir(parents=True, exist_ok=True)
        self.tmp.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        if not key.isalnum():
            raise ValueError(f"bad blob key {key!r}")
        return self.blobs / key[:2] / key

    async def put(self, chunks: AsyncIterator[bytes], *, max_bytes: int | None = None) -> BlobInfo:
        key = secrets.token_hex(16)
        tmp = self.tmp / key
        digest = hashlib.sha256()
        size = 0
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            async for chunk in chunks:
                size += len(chunk)
                if max_bytes is not None and size > max_bytes:
                    raise LimitExceededError(f"The file is larger than {max_bytes} bytes.")
                digest.update(chunk)
                os.write(fd, chunk)
            await asyncio.to_thread(os.fsync, fd)
        except OSError as e:
            os.close(fd)
            tmp.unlink(missing_ok=True)
            if e.errno == errno.ENOSPC:
                raise storage_full("storing the file", e.strerror) from None
            raise
        except BaseException:
            os.close(fd)
            tmp.unlink(missing_ok=True)
            raise
        os.close(fd)
        final = self._path(key)
        final.parent.mkdir(exist_ok=True)
        os.replace(tmp, final)
        await asyncio.to_thread(_fsync_dir, final.parent)
        return BlobInfo(key, size, digest.digest())

    async def read(self, key: str) -> bytes | None:
        path = self._path(key)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            return None

    def local_path(self, key: str) -> Path | None:
        path = self._path(key)
        return path if path.exists() else None

    async def stream(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        with self._path(key).open("rb") as f:
            f.seek(start)
            remaining = None if end is None else end - start
            while remaining is None or remaining > 0:
                data = f.read(CHUNK if remaining is None else min(CHUNK, remaining))
                if not data:
                    return
                if remaining is not None:
                    remaining -= len(data)
                yield data

    async def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    size_every_s = 0.0

    async def size_bytes(self) -> int:
        def walk() -> int:
            total = 0
            for folder in self.blobs.iterdir():
                for blob in folder.iterdir():
                    try:
                        total += blob.stat().st_size
                    except FileNotFoundError:  # deleted since listed
                        pass
            return total

        return await asyncio.to_thread(walk)

    async def orphan_candidates(self, older_than_s: float) -> list[str]:
        cutoff = time.time() - older_than_s
        out = []
        for tmp in self.tmp.iterdir():  # interrupted uploads
            if tmp.stat().st_mtime < cutoff:
                tmp.unlink(missing_ok=True)
        for folder in self.blobs.iterdir():
            for blob in folder.iterdir():
                if blob.stat().st_mtime < cutoff:
                    out.append(blob.name)
        return out


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
