"""Blob storage for ``ctx.storage``: a ``FileStore`` protocol and its backends."""

from pyconvex.files.base import BlobInfo, FileStore
from pyconvex.files.local import LocalFileStore
from pyconvex.files.open import open_file_store

__all__ = ["BlobInfo", "FileStore", "LocalFileStore", "open_file_store"]
