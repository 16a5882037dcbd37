"""An S3-compatible store (AWS S3, MinIO, R2, ...) through boto3 (``pip install
pyconvex[s3]``). Configuration: ``--files s3://bucket/prefix`` plus the usual
``AWS_*`` environment variables (``AWS_ENDPOINT_URL`` for S3-compatible servers).

Tested against moto's S3 server as a separate process on loopback
(``tests/files/test_s3_store.py``). The upload is one ``upload_fileobj`` after the body
is spooled to a temporary file; downloads stream through the server (ranges included).
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from pyconvex.errors import LimitExceededError
from pyconvex.files.base import BlobInfo


class S3FileStore:
    size_every_s = 300.0

    def __init__(self, bucket: str, prefix: str = "") -> None:
        import boto3  # type: ignore[import-untyped,import-not-found,unused-ignore]  # pyconvex[s3]

        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.client: Any = boto3.client("s3")

    def _key(self, key: str) -> str:
        return f"{self.prefix}{key}"

    async def put(self, chunks: AsyncIterator[bytes], *, max_bytes: int | None = None) -> BlobInfo:
        key = secrets.token_hex(16)
        digest = hashlib.sha256()
        size = 0
        with tempfile.TemporaryFile() as spool:
            async for chunk in chunks:
                size += len(chunk)
                if max_bytes is not None and size > max_bytes:
                    raise LimitExceededError(f"The file is larger than {max_bytes} bytes.")
                digest.update(chunk)
                spool.write(chunk)
            spool.seek(0)
            await asyncio.to_thread(self.client.upload_fileobj, spool, self.bucket, self._key(key))
        return BlobInfo(key, size, digest.digest())

    async def read(self, key: str) -> bytes | None:
        try:
            obj = await asyncio.to_thread(self.client.get_object, Bucket=self.bucket, Key=self._key(key))
        except self.client.exceptions.NoSuchKey:
            return None
        data: bytes = await asyncio.to_thread(obj["Body"].read)
        return data

    def local_path(self, key: str) -> Path | None:
        return None

    async def stream(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        byte_range = f"bytes={start}-{'' if end is None else end - 1}"
        obj = await asyncio.to_thread(
            self.client.get_object, Bucket=self.bucket, Key=self._key(key), Range=byte_range
        )
        body = obj["Body"]
        while data := await asyncio.to_thread(body.read, 256 * 1024):
            yield data

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self.client.delete_object, Bucket=self.bucket, Key=self._key(key))

    async def _listing(self) -> list[dict[str, Any]]:
        paginator = self.client.get_paginator("list_objects_v2")
        pages = await asyncio.to_thread(
            lambda: list(paginator.paginate(Bucket=self.bucket, Prefix=self.prefix))
        )
        return [item for page in pages for item in page.get("Contents", [])]

    async def orphan_candidates(self, older_than_s: float) -> list[str]:
        cutoff = time.time() - older_than_s
        return [item["Key"][len(self.prefix):] for item in await self._listing()
                if item["LastModified"].timestamp() < cutoff]

    async def size_bytes(self) -> int:
        return sum(int(item["Size"]) for item in await self._listing())
