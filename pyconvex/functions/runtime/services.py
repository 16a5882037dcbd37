"""What the runtime needs from the deployment around it, given when the deployment opens."""

from __future__ import annotations

from dataclasses import dataclass, field

from pyconvex.errors import BadRequestError
from pyconvex.files import FileStore


class StorageNotConfiguredError(BadRequestError):
    short_msg = "StorageNotConfigured"


DEFAULT_PUBLIC_URL = "http://127.0.0.1:3210"


@dataclass
class StorageService:
    """What ``ctx.storage`` needs from the deployment (built when it opens, then handed
    to the ``FunctionRunner``; the defaults serve a runner with no deployment around it)."""

    store: FileStore | None = None
    public_url: str = DEFAULT_PUBLIC_URL
    signing_key: bytes = field(default=b"", repr=False)

    def require(self) -> FileStore:
        if self.store is None:
            raise StorageNotConfiguredError("File storage is not configured for this deployment.")
        return self.store
