"""What the runtime needs from the deployment around it, set when the deployment opens."""

from __future__ import annotations

from dataclasses import dataclass, field

from pyconvex.errors import BadRequestError
from pyconvex.files import FileStore


class StorageNotConfiguredError(BadRequestError):
    short_msg = "StorageNotConfigured"


@dataclass
class StorageService:
    """What ``ctx.storage`` needs from the deployment (set when it opens)."""

    store: FileStore | None = None
    public_url: str = "http://127.0.0.1:3210"
    signing_key: bytes = field(default=b"", repr=False)

    def require(self) -> FileStore:
        if self.store is None:
            raise StorageNotConfiguredError("File storage is not configured for this deployment.")
        return self.store
