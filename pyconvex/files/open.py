"""``--files DIR`` or ``--files s3://bucket/prefix`` -> a store."""

from __future__ import annotations

from pathlib import Path

from pyconvex.files.base import FileStore
from pyconvex.files.local import LocalFileStore


def open_file_store(spec: str | Path) -> FileStore:
    text = str(spec)
    if text.startswith("s3://"):
        from pyconvex.files.s3 import S3FileStore

        bucket, _, prefix = text[5:].partition("/")
        return S3FileStore(bucket, prefix)
    return LocalFileStore(text)
